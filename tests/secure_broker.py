"""A throwaway Kafka broker (the installed Kafka, KRaft) with two client listeners, SASL_SSL with
SCRAM-SHA-512 and SSL, on free loopback ports, with a CA and a broker certificate made here by openssl.

The broker is the test's infrastructure, not the app's: its files live outside the app's home, so a
test can grep the app's logs for the password without finding the broker's own configuration.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ecomdesk.install_layout import installation
from ecomdesk.paths import resource
from ecomdesk.stack.jvm import java_command, run_tool
from ecomdesk.stack.kafka import kafka_uuid
from ecomdesk.testing.sandbox import free_ports

MECHANISM = "SCRAM-SHA-512"
START_TIMEOUT = 90.0


@dataclass(frozen=True)
class SecureBroker:
    bootstrap: str  # SASL_SSL
    ssl_bootstrap: str  # SSL without SASL
    ca_file: Path
    username: str


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(folder: Path) -> Path:
    """A self-signed CA: folder/ca.pem, its key beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=ecomdesk test CA", cwd=folder)
    return folder / "ca.pem"


def make_certificates(folder: Path) -> tuple[Path, Path]:
    """A CA and a broker key + certificate for 127.0.0.1/localhost signed by it: (ca.pem, broker.pem),
    broker.pem holding the unencrypted PKCS#8 key and the certificate (Kafka's PEM keystore)."""
    make_ca(folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr",
             "-subj", "/CN=localhost", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "broker.crt", "-days", "2", "-extfile", "san.ext", cwd=folder)
    _openssl("pkcs8", "-topk8", "-nocrypt", "-in", "broker.key", "-out", "broker.p8", cwd=folder)
    keystore = folder / "broker.pem"
    keystore.write_text((folder / "broker.p8").read_text() + (folder / "broker.crt").read_text())
    return folder / "ca.pem", keystore


def _properties(root: Path, port: int, ssl_port: int, controller: int, ca: Path, keystore: Path, user: str,
                password: str) -> Path:
    jaas = (f'org.apache.kafka.common.security.scram.ScramLoginModule required '
            f'username="{user}" password="{password}";')
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller}",
        "listeners": f"SASL_SSL://127.0.0.1:{port},SSL://127.0.0.1:{ssl_port},CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": f"SASL_SSL://127.0.0.1:{port},SSL://127.0.0.1:{ssl_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "SASL_SSL",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL",
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config": jaas,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(ca),
        "log.dirs": str(root / "logs"),
        "num.partitions": "3",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
    }
    path = root / "server.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    path.chmod(0o600)
    return path


def _listening(port: int) -> bool:
    with closing(socket.socket()) as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def sasl_ssl_broker(root: Path, user: str, password: str) -> Iterator[SecureBroker]:
    """Start the broker, wait until its SASL_SSL listener accepts connections, stop it at exit."""
    inst = installation()
    port, ssl_port, controller = free_ports(3)
    ca, keystore = make_certificates(root / "certs")
    props = _properties(root, port, ssl_port, controller, ca, keystore, user, password)
    log_props = {"log4j2.configurationFile": str(resource("conf", "kafka-log4j2.properties")),
                 "kafka.logs.dir": str(root / "app-logs")}

    def java(main: str, *args: str) -> list[str]:
        return java_command(inst, "384m", inst.kafka_classpath, main, *args, props=log_props)

    run_tool(java("kafka.tools.StorageTool", "format", f"--cluster-id={kafka_uuid()}", "-c", str(props),
                  "--add-scram", f"{MECHANISM}=[name={user},password={password}]"),
             "Kafka storage format", root / "format.log")
    with open(root / "broker.log", "wb") as log:
        proc = subprocess.Popen(java("kafka.Kafka", str(props)), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (_listening(port) and _listening(ssl_port)):
            if proc.poll() is not None:
                raise RuntimeError(f"test broker exited with {proc.returncode}: "
                                   f"{(root / 'broker.log').read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"test broker not listening after {START_TIMEOUT:.0f} s")
            time.sleep(0.2)
        yield SecureBroker(f"127.0.0.1:{port}", f"127.0.0.1:{ssl_port}", ca, user)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
