"""Kafka security settings as the Spark job's Java Kafka client wants them, built inside the driver.

The password never travels on a command line: the job gets the name of an environment variable or
the path of a file holding it (`kafka_security.read_password`), and builds the JAAS line here.
"""

from __future__ import annotations

from ecomdesk.kafka_security import MECHANISMS, PROTOCOLS, KafkaSecurityError

_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


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
