"""`ecomdesk produce` flags: defaults from the config, explicit values, clear errors, service command."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from ecomdesk.config import Config, Kafka, Ports, Producer
from ecomdesk.producer import cli
from ecomdesk.producer.events import DEFAULT_CITIES, PROFILES, EventModel
from ecomdesk.stack.producer import producer_command, producer_spec
from ecomdesk.telemetry import ProducerReport, to_dict, to_line


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli.add_parser(sub)
    return parser.parse_args(["produce", *argv])


def _config() -> Config:
    return Config(ports=Ports(kafka=19999), producer=Producer(rate=250.0, invalid_fraction=0.02, seed=9),
                  kafka=Kafka(partitions=5))


def test_defaults_come_from_the_config():
    args = _parse()
    assert args.func is cli.run
    s = cli.settings_from(args, _config())
    assert (s.bootstrap, s.rate, s.invalid_fraction, s.seed) == ("127.0.0.1:19999", 250.0, 0.02, 9)
    assert s.count is None and s.duration is None and s.ledger is None
    assert s.model == PROFILES["realistic"] and s.daily  # the app's default profile


def test_profiles_and_their_defaults():
    classroom = cli.settings_from(_parse("--profile", "classroom"), _config())
    assert classroom.model == EventModel() and not classroom.daily
    config = _config()
    config.producer.profile = "classroom"
    assert cli.settings_from(_parse(), config).model == EventModel()
    realistic = cli.settings_from(_parse("--profile", "realistic", "--users", "7"), config)
    assert realistic.model == dataclasses.replace(PROFILES["realistic"], users=7) and realistic.daily
    assert not cli.settings_from(_parse("--profile", "realistic", "--flat"), config).daily
    with pytest.raises(argparse.ArgumentTypeError, match="classroom only"):
        cli.settings_from(_parse("--profile", "realistic", "--mix", "1,1,1"), config)


def test_flags_override_the_config():
    args = _parse("--profile", "classroom", "--rate", "0", "--count", "10", "--duration", "5", "--seed", "1",
                  "--invalid-fraction", "0.5",
                  "--ledger", "x.parquet", "--bootstrap", "h:1", "--topic-prefix", "t-",
                  "--users", "3", "--products", "4", "--stores", "2", "--categories", "A,B",
                  "--mix", "purchase=1,page_view=3", "--cities", "quito,Loja:Loja:-3.99:-79.2",
                  "--kafka-opt", "linger.ms=5")
    s = cli.settings_from(args, _config())
    assert (s.rate, s.count, s.duration, s.seed, s.invalid_fraction) == (0.0, 10, 5.0, 1, 0.5)
    assert (s.ledger, s.bootstrap, s.topic_prefix) == (Path("x.parquet"), "h:1", "t-")
    m = s.model
    assert (m.users, m.products, m.stores, m.categories, m.mix) == (3, 4, 2, ("A", "B"), (3.0, 0.0, 1.0))
    assert m.cities[0] == DEFAULT_CITIES[1] and m.cities[1].name == "Loja" and m.cities[1].lat == -3.99
    assert s.kafka == {"linger.ms": "5"}


@pytest.mark.parametrize("argv, message", [
    (["--rate", "-5"], ">= 0"),
    (["--rate", "many"], "not a number"),
    (["--count", "0"], "must be > 0"),
    (["--invalid-fraction", "2"], "between 0 and 1"),
    (["--mix", "1,2"], "needs 3 weights"),
    (["--mix", "refund=1"], "unknown event type"),
    (["--cities", "Atlantis"], "unknown city"),
    (["--cities", "X:Y:north:1"], "bad coordinates"),
    (["--kafka-opt", "acks"], "KEY=VALUE"),
    (["--profile", "boutique"], "invalid choice"),
])
def test_bad_flags_are_rejected_with_a_reason(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        _parse(*argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_service_command_and_spec():
    config = _config()
    cmd = producer_command(config, Path("/tmp/l.parquet"))
    assert cmd[1:3] == ["-m", "ecomdesk.producer"]
    flags = dict(zip(cmd[3::2], cmd[4::2], strict=True))
    assert flags == {"--bootstrap": "127.0.0.1:19999", "--rate": "250.0", "--invalid-fraction": "0.02",
                     "--partitions": "5", "--replication": "1", "--flush-timeout": "10.0", "--seed": "9",
                     "--profile": "realistic",
                     "--ledger": "/tmp/l.parquet"}
    spec = producer_spec(config)
    assert (spec.name, spec.depends_on, spec.accepts_control) == ("producer", ("kafka",), True)
    assert spec.stop_timeout > 10.0


def test_service_telemetry_parser_and_readiness():
    spec = producer_spec(_config())
    spec.command()  # a start resets readiness
    assert not spec.ready().ok
    assert spec.telemetry("kafka: Connection refused") is None
    assert spec.telemetry('{"type": "spark_progress"}') is None
    assert spec.telemetry("{not json") is None
    assert not spec.ready().ok
    report = ProducerReport(sent=5, delivered=4, failed=0, in_flight=1, rate=5.0, target_rate=5.0, paused=False,
                            invalid_fraction=0.0, per_topic={"orders": 1}, invalid=0)
    assert spec.telemetry(to_line(report)) == to_dict(report)
    assert spec.ready().ok and spec.health().ok
    spec.command()
    assert not spec.ready().ok
