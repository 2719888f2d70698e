"""The Kafka security vocabulary every Kafka client of the app shares: the protocols and SASL mechanisms it
supports, the flags of the clients that run as processes, and how they read the password (never from a
command line). The config checks its settings against it; the librdkafka clients (`kafka_client`) and the
Spark job's Java client (`pipeline.kafka_source`) build their settings from it. On the lowest floor: it
imports nothing of ecomdesk, so the job's driver can use it too.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class KafkaSecurityError(ValueError):
    """The Kafka security settings cannot be used (the message never holds the password)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The security flags of the app's Kafka clients that run as processes (the job, the managed
    producer): the password only by environment variable name or file path."""
    p.add_argument("--kafka-security-protocol", choices=PROTOCOLS, help="default: PLAINTEXT")
    p.add_argument("--kafka-sasl-mechanism", choices=MECHANISMS, default="")
    p.add_argument("--kafka-username", default="")
    p.add_argument("--kafka-password-env", default="", help="environment variable holding the SASL password")
    p.add_argument("--kafka-password-file", default="", help="file holding the SASL password")
    p.add_argument("--kafka-ca-file", default="", help="PEM file of the CA of the brokers' certificates")


def read_password(env_name: str = "", file: str = "") -> str:
    """The SASL password from the environment variable `env_name` or the file `file` (first line)."""
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            raise KafkaSecurityError(f"Kafka password: environment variable {env_name} is not set or empty")
        return value
    if file:
        try:
            lines = Path(file).expanduser().read_text().splitlines()
        except OSError as exc:
            raise KafkaSecurityError(f"Kafka password file {file}: {exc.strerror or exc}") from None
        value = lines[0] if lines else ""
        if not value:
            raise KafkaSecurityError(f"Kafka password file {file} is empty")
        return value
    raise KafkaSecurityError("a SASL protocol needs the password: set [kafka] password_env or password_file")
