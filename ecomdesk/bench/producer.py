"""`scripts/bench producer`: events/s into a local broker, ecomdesk's producer vs kafka-python.

Both send the same seeded events (same count, same keys, same topics, acks=all) into fresh
topics. The ecomdesk figure includes generating and encoding the events and waiting for every
acknowledgement; the kafka-python baseline (the original classroom client) gets its events
pre-encoded for free and is timed from the first send to the end of its flush. A third figure
compares the encoders alone: the vectorised one against per-event json.dumps of dicts.
Without --bootstrap a throwaway single-node Kafka is started on free ports and removed after.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka.admin import AdminClient

from ecomdesk.data.contract import TOPICS
from ecomdesk.producer.events import EVENT_TYPES, PROFILES, Encoder, EventGenerator, EventModel
from ecomdesk.producer.runner import ProducerRunner, Settings
from ecomdesk.producer.topics import TOPIC_BY_EVENT_TYPE, ensure_topics
from ecomdesk.stack.door import build_supervisor
from ecomdesk.telemetry import ProducerReport

SEED = 2026


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="scripts/bench producer", description=__doc__)
    ap.add_argument("--count", type=int, default=2_000_000, help="events per client (default 2 million)")
    ap.add_argument("--baseline-count", type=int, help="events for kafka-python (default: --count)")
    ap.add_argument("--bootstrap", help="an existing broker, with the config's [kafka] security settings "
                                        "(default: start a throwaway one)")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--profile", choices=tuple(PROFILES), default="realistic",
                    help="the simulator profile of the events sent (default realistic, the app's)")
    ap.add_argument("--kafka-opt", action="append", default=[], metavar="KEY=VALUE",
                    help="librdkafka setting for the ecomdesk producer, to try tunings (repeatable)")
    ap.add_argument("--no-baseline", action="store_true", help="skip kafka-python (tuning runs only)")
    args = ap.parse_args(argv)
    baseline_count = args.baseline_count or args.count

    with _broker(args.bootstrap) as bootstrap:
        model = PROFILES[args.profile]
        print(f"profile {args.profile}")
        enc_fast, enc_dumps = _encoding(model, 200_000)
        print(f"encoding only, 200k events: vectorised {enc_fast:,.0f}/s, json.dumps per event "
              f"{enc_dumps:,.0f}/s ({enc_fast / enc_dumps:.1f}x)")
        kafka = {**_security(args.bootstrap), **dict(o.split("=", 1) for o in args.kafka_opt)}
        ours = _ecomdesk(model, bootstrap, args.count, args.partitions, kafka)
        print(f"ecomdesk producer (confluent-kafka): {args.count:,} events, {ours:,.0f} events/s")
        if args.no_baseline:
            return 0
        base = _kafka_python(model, bootstrap, baseline_count, args.partitions)
        print(f"kafka-python baseline:               {baseline_count:,} events, {base:,.0f} events/s")
        print(f"ratio: {ours / base:.1f}x")
    return 0


def _security(bootstrap: str | None) -> dict:
    """The config's Kafka security settings for an existing broker; none for the throwaway one."""
    from ecomdesk import config as config_mod
    from ecomdesk.kafka_client import security_conf

    return security_conf(config_mod.load()) if bootstrap else {}


@contextmanager
def _broker(bootstrap: str | None):
    if bootstrap:
        yield bootstrap
        return
    from ecomdesk.stack.kafka import kafka_spec
    from ecomdesk.testing.sandbox import isolated_config

    with tempfile.TemporaryDirectory(prefix="ecomdesk-bench-") as tmp:
        config = isolated_config(Path(tmp))
        sup = build_supervisor(config, [kafka_spec(config)])
        try:
            sup.start(["kafka"])
            print(f"throwaway broker at {config.kafka_bootstrap}")
            yield config.kafka_bootstrap
        finally:
            sup.close()


def _topics(bootstrap: str, partitions: int, kafka: dict | None = None) -> str:
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    ensure_topics(bootstrap, partitions, 1, names=tuple(prefix + t for t in TOPICS), security=kafka)
    return prefix


def _drop(bootstrap: str, prefix: str, kafka: dict | None = None) -> None:
    admin = AdminClient({**(kafka or {}), "bootstrap.servers": bootstrap})
    for f in admin.delete_topics([prefix + t for t in TOPICS], operation_timeout=30).values():
        f.result()


def _encoding(model: EventModel, n: int) -> tuple[float, float]:
    gen = EventGenerator(model, SEED)
    enc = Encoder(gen)
    batch = gen.take(n)
    ts = time.time_ns() // 1_000_000
    t0 = time.perf_counter()
    for start in range(0, n, 16384):
        part = batch.take(slice(start, start + 16384))
        enc.values(part, ts)
        enc.keys(part)
    fast = n / (time.perf_counter() - t0)
    events = [enc.event(batch, i, ts) for i in range(n)]
    t0 = time.perf_counter()
    for e in events:
        json.dumps(e).encode()
        str(e["user_id"]).encode()
    return fast, n / (time.perf_counter() - t0)


def _ecomdesk(model: EventModel, bootstrap: str, count: int, partitions: int, kafka: dict) -> float:
    prefix = _topics(bootstrap, partitions, kafka)
    reports: list[ProducerReport] = []
    settings = Settings(bootstrap=bootstrap, rate=0, count=count, seed=SEED, topic_prefix=prefix, kafka=kafka,
                        model=model)
    runner = ProducerRunner(settings, reports.append)
    t0 = time.perf_counter()
    code = runner.run()
    elapsed = time.perf_counter() - t0
    _drop(bootstrap, prefix, kafka)
    final = reports[-1]
    if code != 0 or final.delivered != count:
        raise SystemExit(f"ecomdesk producer did not deliver everything: {final}")
    return count / elapsed


def _kafka_python(model: EventModel, bootstrap: str, count: int, partitions: int) -> float:
    from kafka import KafkaProducer

    prefix = _topics(bootstrap, partitions)
    topics = [prefix + TOPIC_BY_EVENT_TYPE[e] for e in EVENT_TYPES]
    gen = EventGenerator(model, SEED)
    enc = Encoder(gen)
    batch = gen.take(count)
    ts = time.time_ns() // 1_000_000
    values, keys, etypes = enc.values(batch, ts), enc.keys(batch), batch.etype.tolist()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=1_048_576)
    failures: list[BaseException] = []
    t0 = time.perf_counter()
    for v, k, e in zip(values, keys, etypes, strict=True):
        producer.send(topics[e], value=v, key=k).add_errback(failures.append)
    producer.flush()
    elapsed = time.perf_counter() - t0
    producer.close()
    _drop(bootstrap, prefix)
    if failures:
        raise SystemExit(f"kafka-python failed {len(failures)} sends: {failures[0]}")
    return count / elapsed
