"""Kafka security settings as the Spark job's Java Kafka client wants them, built inside the driver.

The password never travels on a command line: the job gets the name of an environment variable or
the path of a file holding it, and builds the JAAS line here. Shared with the app's librdkafka
clients (ecomdesk.kafka_client) so both read the password and check the settings the same way.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


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


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def jvm_options(protocol: str, mechanism: str = "", username: str = "", password: str = "",
                ca_file: str = "") -> dict[str, str]:
    """The `kafka.*` options of Spark's Kafka source for these settings (empty for PLAINTEXT)."""
    if protocol not in PROTOCOLS:
        raise KafkaSecurityError(f"Kafka security protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    options: dict[str, str] = {}
    if protocol != "PLAINTEXT":
        options["kafka.security.protocol"] = protocol
    if protocol.startswith("SASL_"):
        if mechanism not in MECHANISMS:
            raise KafkaSecurityError(f"SASL mechanism {mechanism!r}: expected one of {', '.join(MECHANISMS)}")
        options["kafka.sasl.mechanism"] = mechanism
        options["kafka.sasl.jaas.config"] = (f"{_LOGIN_MODULES[mechanism]} required "
                                             f"username={_quoted(username)} password={_quoted(password)};")
    if protocol.endswith("SSL") and ca_file:
        options["kafka.ssl.truststore.type"] = "PEM"
        options["kafka.ssl.truststore.location"] = ca_file
    return options
