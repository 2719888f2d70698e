"""The three event topics and their idempotent creation through Kafka's AdminClient."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from ecomdesk.data.contract import EVENT_TYPES, TOPICS
from ecomdesk.kafka_client import ErrorTrap, KafkaSecurityError, list_topics

# event_type -> topic, from the contract; the order (page_view, add_to_cart, purchase) is the generator's
# event-type order: its mix weights, its event numbers and the ledger's codes follow it.
TOPIC_BY_EVENT_TYPE = {e: topic for e, (topic, _) in reversed(EVENT_TYPES.items())}


class TopicError(RuntimeError):
    """Topics could not be created or checked; the message names the broker and the cause."""


def ensure_topics(
    bootstrap: str,
    partitions: int,
    replication: int,
    timeout: float = 30,
    names: tuple[str, ...] = TOPICS,
    configs: dict[str, str] | None = None,
    security: dict | None = None,
) -> list[str]:
    """Create the missing topics among `names` and return the ones this call created.

    `configs` are topic settings for the ones created (min.insync.replicas on a cluster).
    `security`: the client's security settings (ecomdesk.kafka_client.security_conf); refused
    credentials end the call within about a second, with the broker's reason.
    A topic that already exists is left as it is (even with another partition count):
    changing partitions of live topics would reshuffle keys, which is not this call's job.
    """
    if partitions < 1 or replication < 1:
        raise ValueError(f"partitions and replication must be >= 1, got {partitions} and {replication}")
    # log_level 0: connection trouble comes back as the TopicError below, not as log spam.
    trap = ErrorTrap()
    conf: dict[str, Any] = {**(security or {}), "bootstrap.servers": bootstrap, "log_level": 0, "error_cb": trap,
                            "socket.connection.setup.timeout.ms": int(timeout * 1000)}
    admin = AdminClient(conf)
    try:
        existing = set(list_topics(admin, trap, timeout).topics)
    except KafkaSecurityError as exc:
        raise TopicError(f"cannot list topics on {bootstrap}: {exc}") from None
    except KafkaException as exc:
        raise TopicError(f"cannot list topics on {bootstrap}: {exc.args[0]}") from exc
    missing = [n for n in names if n not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=replication, config=dict(configs or {}))
         for n in missing],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
            created.append(name)
        except KafkaException as exc:
            err = exc.args[0]
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue  # created concurrently by someone else: that is the state we want
            raise TopicError(f"cannot create topic {name!r} on {bootstrap}: {err}") from exc
    _wait_visible(admin, missing, bootstrap, timeout)
    return sorted(created, key=names.index)


def _wait_visible(admin: AdminClient, names: list[str], bootstrap: str, timeout: float) -> None:
    """Wait until the broker's metadata lists the topics with a leader for every partition,
    so that a producer started right after this call does not meet "unknown topic"."""
    deadline = time.monotonic() + timeout
    while True:
        topics = admin.list_topics(timeout=timeout).topics
        pending = [n for n in names if n not in topics or topics[n].error is not None
                   or any(p.leader < 0 for p in topics[n].partitions.values())]
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise TopicError(f"topics {pending} created on {bootstrap} but not visible after {timeout:.0f} s")
        time.sleep(0.1)
