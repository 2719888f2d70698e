"""The settings of every Kafka client the app runs, from the config: one place for the security.

librdkafka clients in this process (admin, the window's consumer, benchmarks) get `security_conf`;
the clients that run as processes (the Spark job, the managed producer) get `process_arguments`:
flags without the password, which they read themselves (`kafka_security.read_password`).
A wrong password or certificate reaches librdkafka's error callback, not the exception of a
metadata call ("broker transport failure"), so `ErrorTrap` keeps the last such error and
`explain` puts it into the message the user sees.
"""

from __future__ import annotations

import argparse
import threading
import time

from confluent_kafka import KafkaError, KafkaException

from ecomdesk.config import Config
from ecomdesk.kafka_security import KafkaSecurityError, read_password

# librdkafka's codes for a connection refused by the security layer, not by the network, and what they mean
_SECURITY_ERRORS = {KafkaError._AUTHENTICATION: "authentication failed",
                    KafkaError.SASL_AUTHENTICATION_FAILED: "authentication failed",
                    KafkaError._SSL: "TLS handshake failed",
                    KafkaError.TOPIC_AUTHORIZATION_FAILED: "not authorized",
                    KafkaError.CLUSTER_AUTHORIZATION_FAILED: "not authorized"}


def _librdkafka(protocol: str, mechanism: str, username: str, password_env: str, password_file: str,
                ca_file: str) -> dict[str, str]:
    conf: dict[str, str] = {}
    if protocol != "PLAINTEXT":
        conf["security.protocol"] = protocol.lower()
    if protocol.startswith("SASL_"):
        conf |= {"sasl.mechanisms": mechanism, "sasl.username": username,
                 "sasl.password": read_password(password_env, password_file)}
    if ca_file:
        conf["ssl.ca.location"] = ca_file
    return conf


def security_conf(config: Config) -> dict[str, str]:
    """librdkafka's security settings for the configured cluster (empty for PLAINTEXT)."""
    k = config.kafka
    return _librdkafka(k.security_protocol, k.sasl_mechanism, k.username, k.password_env, k.password_file,
                       k.ca_file)


def security_from_arguments(args: argparse.Namespace) -> dict[str, str]:
    """librdkafka's security settings from the flags of `process_arguments`."""
    return _librdkafka(args.kafka_security_protocol or "PLAINTEXT", args.kafka_sasl_mechanism, args.kafka_username,
                       args.kafka_password_env, args.kafka_password_file, args.kafka_ca_file)


def process_arguments(config: Config) -> list[str]:
    """The Kafka security flags of the job and the producer: where to find the password, never the
    password itself (command lines are visible to every user of the machine)."""
    k = config.kafka
    if k.security_protocol == "PLAINTEXT":
        return []
    args = ["--kafka-security-protocol", k.security_protocol]
    if k.security_protocol.startswith("SASL_"):
        read_password(k.password_env, k.password_file)  # fail here, with the reason, not in the driver
        args += ["--kafka-sasl-mechanism", k.sasl_mechanism, "--kafka-username", k.username]
        args += (["--kafka-password-env", k.password_env] if k.password_env
                 else ["--kafka-password-file", k.password_file])
    if k.ca_file:
        args += ["--kafka-ca-file", k.ca_file]
    return args


class ErrorTrap:
    """An `error_cb` that keeps the latest security error of a client (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._error: KafkaError | None = None

    def __call__(self, err: KafkaError) -> None:
        if err.code() in _SECURITY_ERRORS:
            with self._lock:
                self._error = err

    @property
    def error(self) -> KafkaError | None:
        with self._lock:
            return self._error

    def explain(self, exc: BaseException) -> str:
        """The message for a failed call: the security error when there was one, else the call's own."""
        err = self.error
        if err is not None:
            return f"{_SECURITY_ERRORS[err.code()]}: {err.str()}"
        if isinstance(exc, KafkaException) and exc.args:
            return str(exc.args[0].str() if isinstance(exc.args[0], KafkaError) else exc.args[0])
        return str(exc)


def list_topics(client, trap: ErrorTrap, timeout: float, topic: str | None = None):
    """Metadata from `client`, giving up early with KafkaSecurityError once the brokers refused the
    credentials or the certificate (librdkafka would otherwise retry until `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        step = max(0.1, min(1.0, deadline - time.monotonic()))
        try:
            return client.list_topics(topic, timeout=step)
        except KafkaException as exc:
            client.poll(0)  # serves the error callbacks
            if trap.error is not None:
                raise KafkaSecurityError(trap.explain(exc)) from None
            if time.monotonic() >= deadline:
                raise


__all__ = ["ErrorTrap", "KafkaSecurityError", "list_topics", "process_arguments", "security_conf",
           "security_from_arguments"]
