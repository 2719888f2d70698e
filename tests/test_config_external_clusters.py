"""External clusters in the config: address lists, Kafka security settings and what each
client gets from them, HDFS HA client settings, the Spark master list. No services run here; the
real SASL_SSL broker is in test_kafka_security.py."""

from __future__ import annotations

import pytest

from ecomdesk.config import ConfigError, from_dict
from ecomdesk.data.hdfs import ha_conf, hdfs_uri
from ecomdesk.kafka_client import process_arguments, security_conf
from ecomdesk.kafka_security import KafkaSecurityError, read_password
from ecomdesk.paths import Paths
from ecomdesk.pipeline.kafka_source import jvm_options

PASSWORD = 'pa ss"w\\ord'
SASL = {"bootstrap": ["k1:9093", "k2:9093"], "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "username": "shop", "password_env": "SHOP_KAFKA_PW", "ca_file": "/etc/kafka/ca.pem"}


def _config(tmp_path, **sections):
    return from_dict(sections, Paths(tmp_path / "c", tmp_path / "d", tmp_path / "l", tmp_path / "r"))


def test_bootstrap_takes_a_list_or_the_comma_string(tmp_path):
    listed = _config(tmp_path, kafka={"bootstrap": ["k1:9092", " k2:9092"]})
    assert listed.kafka_bootstrap == "k1:9092,k2:9092"
    assert _config(tmp_path, kafka={"bootstrap": "k1:9092,k2:9092"}).kafka == listed.kafka
    assert from_dict(listed.to_dict(), listed.paths).kafka == listed.kafka  # saved as the comma string


@pytest.mark.parametrize(("sections", "needle"), [
    ({"kafka": {"bootstrap": ["k1"]}}, "[kafka] bootstrap: 'k1' is not host:port"),
    ({"kafka": {"bootstrap": [9092]}}, "[kafka] bootstrap must be a list of"),
    ({"kafka": {"security_protocol": "SASL_SSL"}}, "applies to an external cluster"),
    ({"kafka": {"bootstrap": "k:1", "security_protocol": "TLS"}}, "security_protocol must be one of PLAINTEXT"),
    ({"kafka": {**SASL, "sasl_mechanism": "GSSAPI"}}, "sasl_mechanism must be one of PLAIN, SCRAM-SHA-256"),
    ({"kafka": {**SASL, "username": ""}}, "[kafka] username is needed with SASL_SSL"),
    ({"kafka": {**SASL, "password_file": "/x"}}, "set one of password_env or password_file"),
    ({"kafka": {**SASL, "password_env": ""}}, "set one of password_env or password_file"),
    ({"kafka": {"bootstrap": "k:1", "username": "u"}}, "need a SASL security_protocol, not PLAINTEXT"),
    ({"kafka": {"bootstrap": "k:1", "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
                "username": "u", "password_env": "X", "ca_file": "/ca.pem"}}, "ca_file needs an SSL"),
    ({"hdfs": {"namenode": "mycluster"}}, "expected host:port, or a nameservice id"),
    ({"hdfs": {"namenode": "nn:8020", "namenodes": ["a:1", "b:1"]}}, "must then be the nameservice id"),
    ({"hdfs": {"namenode": "ns", "namenodes": ["a:1", "b"]}}, "[hdfs] namenodes: 'b' is not host:port"),
    ({"spark": {"deploy_mode": "cluster"}}, "no Python application in cluster mode"),
    ({"spark": {"deploy_mode": "driver"}}, "deploy_mode must be client or cluster"),
    ({"spark": {"master": "yarn"}}, "expected local[N], spark://host:port"),
    ({"spark": {"master": ["spark://a:7077", "b:7077"]}}, "a list must hold spark://host:port URLs"),
])
def test_bad_external_cluster_settings_are_named(tmp_path, sections, needle):
    with pytest.raises(ConfigError) as err:
        _config(tmp_path, **sections)
    assert needle in str(err.value)


def test_sasl_settings_reach_librdkafka_and_the_job_without_the_password_on_its_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_KAFKA_PW", PASSWORD)
    config = _config(tmp_path, kafka=SASL)
    assert config.to_dict()["kafka"]["password_env"] == "SHOP_KAFKA_PW" and PASSWORD not in str(config.to_dict())
    assert config.kafka_bootstrap == "k1:9093,k2:9093"
    assert security_conf(config) == {
        "security.protocol": "sasl_ssl",
        "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "shop", "sasl.password": PASSWORD,
        "ssl.ca.location": "/etc/kafka/ca.pem"}
    args = process_arguments(config)
    assert args == ["--kafka-security-protocol", "SASL_SSL", "--kafka-sasl-mechanism", "SCRAM-SHA-512",
                    "--kafka-username", "shop", "--kafka-password-env", "SHOP_KAFKA_PW",
                    "--kafka-ca-file", "/etc/kafka/ca.pem"]
    assert PASSWORD not in " ".join(args)


def test_a_missing_password_is_named_before_anything_starts(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOP_KAFKA_PW", raising=False)
    config = _config(tmp_path, kafka=SASL)
    with pytest.raises(KafkaSecurityError, match="environment variable SHOP_KAFKA_PW is not set"):
        security_conf(config)
    with pytest.raises(KafkaSecurityError, match="environment variable SHOP_KAFKA_PW is not set"):
        process_arguments(config)
    with pytest.raises(KafkaSecurityError, match="password file .*/none: No such file"):
        read_password(file=str(tmp_path / "none"))
    (tmp_path / "empty").write_text("")
    with pytest.raises(KafkaSecurityError, match="is empty"):
        read_password(file=str(tmp_path / "empty"))


def test_the_password_file_gives_its_first_line(tmp_path):
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    assert read_password(file=str(tmp_path / "pw")) == PASSWORD


@pytest.mark.parametrize(("protocol", "mechanism", "module"), [
    ("SASL_SSL", "SCRAM-SHA-512", "org.apache.kafka.common.security.scram.ScramLoginModule"),
    ("SASL_PLAINTEXT", "SCRAM-SHA-256", "org.apache.kafka.common.security.scram.ScramLoginModule"),
    ("SASL_SSL", "PLAIN", "org.apache.kafka.common.security.plain.PlainLoginModule"),
])
def test_the_job_builds_the_java_clients_jaas_line(protocol, mechanism, module):
    options = jvm_options(protocol, mechanism, "shop", PASSWORD, "/ca.pem")
    assert options["kafka.security.protocol"] == protocol and options["kafka.sasl.mechanism"] == mechanism
    # quotes and backslashes of the password escaped the way JAAS reads them
    assert options["kafka.sasl.jaas.config"] == f'{module} required username="shop" password="pa ss\\"w\\\\ord";'
    truststore = {"kafka.ssl.truststore.type": "PEM", "kafka.ssl.truststore.location": "/ca.pem"}
    assert (truststore.items() <= options.items()) == protocol.endswith("SSL")


def test_plaintext_and_ssl_need_no_secret(tmp_path):
    assert jvm_options("PLAINTEXT") == {} and security_conf(_config(tmp_path)) == {}
    ssl = _config(tmp_path, kafka={"bootstrap": "k:9093", "security_protocol": "SSL", "ca_file": "/ca.pem"})
    assert security_conf(ssl) == {"security.protocol": "ssl", "ssl.ca.location": "/ca.pem"}
    assert process_arguments(ssl) == ["--kafka-security-protocol", "SSL", "--kafka-ca-file", "/ca.pem"]


def test_an_ha_nameservice_gives_the_hadoop_client_settings(tmp_path):
    config = _config(tmp_path, hdfs={"namenode": "shop", "namenodes": ["nn-a:8020", "nn-b:8020"]})
    assert config.namenode_addresses == [("nn-a", 8020), ("nn-b", 8020)]
    assert ha_conf(config) == {
        "dfs.nameservices": "shop",
        "dfs.ha.namenodes.shop": "nn1,nn2",
        "dfs.namenode.rpc-address.shop.nn1": "nn-a:8020",
        "dfs.namenode.rpc-address.shop.nn2": "nn-b:8020",
        "dfs.client.failover.proxy.provider.shop":
            "org.apache.hadoop.hdfs.server.namenode.ha.ConfiguredFailoverProxyProvider",
    }
    assert hdfs_uri(config, "/ecommerce") == "hdfs://shop/ecommerce"
    single = _config(tmp_path, hdfs={"namenode": "nn:8020"})
    assert ha_conf(single) == {} and hdfs_uri(single, "/x") == "hdfs://nn:8020/x"


def test_the_job_is_submitted_with_the_clusters_settings(tmp_path, monkeypatch):
    from ecomdesk.stack.spark_job import spark_confs, spark_submit_command

    monkeypatch.setenv("SHOP_KAFKA_PW", PASSWORD)
    config = _config(tmp_path, kafka=SASL, hdfs={"namenode": "shop", "namenodes": "nn-a:8020,nn-b:8020"},
                     spark={"master": ["spark://m1:7077", "spark://m2:7077"]})
    assert config.spark.master == "spark://m1:7077,m2:7077"
    confs = spark_confs(config)
    assert confs["spark.hadoop.dfs.ha.namenodes.shop"] == "nn1,nn2"
    assert confs["spark.hadoop.dfs.namenode.rpc-address.shop.nn2"] == "nn-b:8020"
    assert "spark.driver.host" not in confs  # executors elsewhere connect back to the driver's own address
    cmd = spark_submit_command(config)
    assert cmd[cmd.index("--master") + 1] == "spark://m1:7077,m2:7077"
    assert cmd[cmd.index("--deploy-mode") + 1] == "client"
    assert cmd[cmd.index("--base") + 1] == "hdfs://shop/ecommerce"
    assert cmd[cmd.index("--kafka-password-env") + 1] == "SHOP_KAFKA_PW" and PASSWORD not in " ".join(cmd)


def test_the_managed_producer_gets_the_flags_and_reads_the_password_itself(tmp_path, monkeypatch):
    import argparse

    from ecomdesk.producer.cli import add_arguments, security
    from ecomdesk.stack.producer import producer_command

    monkeypatch.setenv("SHOP_KAFKA_PW", PASSWORD)
    config = _config(tmp_path, kafka=SASL)
    cmd = producer_command(config)
    assert PASSWORD not in " ".join(cmd) and cmd[cmd.index("--kafka-password-env") + 1] == "SHOP_KAFKA_PW"
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(cmd[cmd.index("--bootstrap"):])
    assert security(args, _config(tmp_path)) == security_conf(config)  # the flags win over the child's config
    assert security(parser.parse_args([]), config) == security_conf(config)  # no flags: the config's


def test_an_ha_nameservice_is_unreachable_only_when_every_namenode_is(tmp_path):
    import socket

    from ecomdesk.data.hdfs import check_namenode
    from ecomdesk.testing.sandbox import free_ports

    dead_a, dead_b = free_ports(2)
    with pytest.raises(ConnectionError) as err:
        check_namenode([("127.0.0.1", dead_a), ("127.0.0.1", dead_b)], timeout=1)
    assert str(err.value) == (f"NameNode 127.0.0.1:{dead_a} unreachable: Connection refused; "
                              f"127.0.0.1:{dead_b} unreachable: Connection refused")
    with socket.create_server(("127.0.0.1", 0)) as live:
        check_namenode([("127.0.0.1", dead_a), live.getsockname()[:2]], timeout=1)  # no error
