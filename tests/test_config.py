from __future__ import annotations

import pytest

from ecomdesk.config import Config, ConfigError, load
from ecomdesk.paths import Paths, app_paths


def _paths(tmp_path) -> Paths:
    return Paths(tmp_path / "c", tmp_path / "d", tmp_path / "l", tmp_path / "r").ensure()


def test_defaults_round_trip(tmp_path):
    paths = _paths(tmp_path)
    assert load(paths) == Config(paths=paths)
    c = Config(paths=paths)
    c.ports.kafka = 19092
    c.spark.master = "spark://10.0.0.5:7077"
    c.producer.seed = 7
    c.save()
    again = load(paths)
    assert again.ports.kafka == 19092 and again.spark.master == "spark://10.0.0.5:7077"
    assert again.producer.seed == 7
    assert again.kafka_bootstrap == "127.0.0.1:19092"


def test_external_endpoints(tmp_path):
    c = Config(paths=_paths(tmp_path))
    c.kafka.bootstrap = "k1:9092,k2:9092"
    c.hdfs.namenode = "nn.example:8020"
    assert c.kafka_bootstrap == "k1:9092,k2:9092"
    assert c.namenode_address == ("nn.example", 8020)


@pytest.mark.parametrize("text,needle", [
    ("[ports]\nkafka = 'x'\n", "[ports] kafka must be int"),
    ("[ports]\nkafak = 1\n", "unknown key(s) in [ports]: kafak"),
    ("[nope]\n", "unknown section(s): nope"),
    ("[ports\n", "config.toml"),
    ("[producer]\nrate = true\n", "[producer] rate must be float"),
])
def test_bad_files_name_the_problem(tmp_path, text, needle):
    paths = _paths(tmp_path)
    paths.config_file.write_text(text)
    with pytest.raises(ConfigError) as err:
        load(paths)
    assert needle in str(err.value)


def test_ecomdesk_home_isolates_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOMDESK_HOME", str(tmp_path))
    p = app_paths()
    for d in (p.config_dir, p.data_dir, p.log_dir, p.run_dir):
        assert d.is_relative_to(tmp_path)


def test_external_clusters_replace_managed_services(tmp_path):
    from ecomdesk.core.spec import dependency_order
    from ecomdesk.stack.catalog import build_specs

    c = Config(paths=_paths(tmp_path))
    managed = {s.name for s in build_specs(c)}
    assert {"hdfs-namenode", "hdfs-datanode", "kafka", "producer"} <= managed
    c.kafka.bootstrap = "broker1:9092"
    c.hdfs.namenode = "nn:8020"
    specs = {s.name: s for s in build_specs(c)}
    assert not {"hdfs-namenode", "hdfs-datanode", "kafka"} & set(specs)
    assert specs["producer"].depends_on == ()
    assert "broker1:9092" in specs["producer"].command()
    assert dependency_order(specs) == list(specs)


def test_restart_policy_defaults_and_per_service_overrides(tmp_path):
    from ecomdesk.stack.catalog import build_specs

    paths = _paths(tmp_path)
    paths.config_file.write_text('[restart]\nattempts = 3\nbackoff_seconds = 2\n\n'
                                 '[restart.services.producer]\npolicy = "no"\n')
    config = load(paths)
    specs = {s.name: s for s in build_specs(config)}
    assert specs["kafka"].restart.attempts == 3 and specs["kafka"].restart.delay(1) == 2.0
    assert specs["kafka"].restart.delay(3) == 8.0 and specs["kafka"].restart.delay(9) == 30.0
    assert specs["kafka"].restart.enabled and not specs["producer"].restart.enabled
    config.save()
    assert load(paths) == config


@pytest.mark.parametrize(("text", "error"), [
    ('[restart]\npolicy = "always"\n', "restart policy 'always'"),
    ('[restart.services.kafka]\nattempts = "many"\n', r"\[restart.services.kafka\] attempts must be int"),
    ('[restart.services.kafka]\nretries = 2\n', r"unknown key\(s\) in \[restart.services.kafka\]: retries"),
    ('[restart]\nbackoff_seconds = 60.0\n', "backoff <= backoff_max"),
])
def test_bad_restart_settings_are_named(tmp_path, text, error):
    paths = _paths(tmp_path)
    paths.config_file.write_text(text)
    with pytest.raises(ConfigError, match=error):
        load(paths)


def test_restart_overrides_for_an_unknown_service_are_refused(tmp_path):
    from ecomdesk.stack.catalog import build_specs

    paths = _paths(tmp_path)
    paths.config_file.write_text('[restart.services.kafak]\npolicy = "no"\n')
    with pytest.raises(ConfigError, match="unknown service\\(s\\) kafak"):
        build_specs(load(paths))
