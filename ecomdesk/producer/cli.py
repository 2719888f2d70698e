"""`ecomdesk produce ...` and `python -m ecomdesk.producer ...`: flags, wiring, signals, output."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from pathlib import Path

from ecomdesk import kafka_security
from ecomdesk.config import PRODUCER_PROFILES, Config
from ecomdesk.data.contract import TOPICS
from ecomdesk.kafka_client import KafkaSecurityError, security_conf, security_from_arguments
from ecomdesk.producer import control
from ecomdesk.producer.events import DEFAULT_CITIES, EVENT_TYPES, PROFILES, City
from ecomdesk.producer.runner import ProducerRunner, Settings
from ecomdesk.producer.topics import TopicError, ensure_topics
from ecomdesk.telemetry import ProducerReport, to_line

TOPIC_TIMEOUT = 15.0  # a broker that cannot list topics in this time is reported as unreachable
_KNOWN_CITIES = {c.name.lower(): c for c in DEFAULT_CITIES}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The producer's flags; defaults that come from the config are filled in by `run`."""
    p.add_argument("--rate", type=_rate,
                   help="events per second, 0 = as fast as possible (config: producer.rate)")
    p.add_argument("--count", type=_positive_int, help="stop after this many events")
    p.add_argument("--duration", type=_positive_float, help="stop after this many seconds (first limit wins)")
    p.add_argument("--seed", type=int, help="seed for a reproducible event sequence (config: producer.seed)")
    p.add_argument("--invalid-fraction", type=_fraction,
                   help="share of deliberately invalid events, 0..1 (config: producer.invalid_fraction)")
    p.add_argument("--ledger", type=Path,
                   help="record the events sent and their acknowledgements: PATH.parquet gets the acknowledged "
                        "valid events at exit; any other PATH is a directory of crash-safe journals, one per "
                        "process (see ecomdesk.producer.ledger)")
    p.add_argument("--bootstrap", help="Kafka bootstrap servers (default: the configured/managed broker)")
    p.add_argument("--topic-prefix", default="", help="prefix for the three topic names (isolated test runs)")
    p.add_argument("--partitions", type=_positive_int,
                   help="partitions of topics created (config: kafka.partitions)")
    p.add_argument("--replication", type=_positive_int,
                   help="replication of topics created (config: kafka.replication; default min(3, brokers))")
    p.add_argument("--profile", choices=PRODUCER_PROFILES,
                   help="realistic: users in sessions (view products of a category, cart some, buy some of "
                        "those; a few %% of sessions buy), traffic by hour of day around --rate; classroom: "
                        "independent events 60/25/15, users 1-100, products 100-119 (config: producer.profile)")
    p.add_argument("--flat", action="store_true",
                   help="realistic profile: keep --rate all day long (benchmarks, tests) instead of shaping it by hour")
    p.add_argument("--users", type=_positive_int, help="user ids 1..N (realistic 5000, classroom 100)")
    p.add_argument("--products", type=_positive_int,
                   help="product ids 100..100+N-1 (realistic 200, classroom 20)")
    p.add_argument("--stores", type=_positive_int, help="store ids 1..N (default 10)")
    p.add_argument("--categories", type=_names,
                   help="comma-separated product categories (classroom Tech,Home,Sports,Fashion; realistic "
                        "also Books,Toys,Beauty,Food)")
    p.add_argument("--mix", type=_mix,
                   help="classroom only: event-type weights page_view,add_to_cart,purchase (default 60,25,15)")
    p.add_argument("--cities", type=_cities,
                   help="comma-separated cities: Guayaquil, Quito, Cuenca or Name:Province:lat:lon (default all three)")
    p.add_argument("--flush-timeout", type=float, default=10.0,
                   help="on SIGTERM/stop, seconds to wait for acknowledgements (default 10)")
    p.add_argument("--kafka-opt", action="append", default=[], type=_kafka_opt, metavar="KEY=VALUE",
                   help="extra librdkafka producer setting (repeatable)")
    p.add_argument("--json", action="store_true",
                   help="telemetry as JSON lines on stdout (as the service does)")
    kafka_security.add_arguments(p)  # default: the config's [kafka] security settings


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "produce",
        help="send simulated shop events to Kafka",
        description=f"Send simulated e-commerce events to the topics {', '.join(TOPICS)}. "
        "Commands on stdin while running: " + control.HELP,
    )
    add_arguments(p)
    p.set_defaults(func=run)


def security(args: argparse.Namespace, config: Config) -> dict[str, str]:
    """librdkafka's security settings: the flags (the managed producer gets them), else the config's."""
    return security_from_arguments(args) if args.kafka_security_protocol else security_conf(config)


def settings_from(args: argparse.Namespace, config: Config) -> Settings:
    pc = config.producer
    profile = args.profile or pc.profile
    if args.mix is not None and profile != "classroom":
        raise argparse.ArgumentTypeError("--mix applies to --profile classroom only (sessions decide the mix)")
    shop = {"users": args.users, "products": args.products, "stores": args.stores, "categories": args.categories,
            "mix": args.mix, "cities": args.cities}
    return Settings(
        bootstrap=args.bootstrap or config.kafka_bootstrap,
        rate=pc.rate if args.rate is None else args.rate,
        count=args.count,
        duration=args.duration,
        seed=pc.seed if args.seed is None else args.seed,
        invalid_fraction=pc.invalid_fraction if args.invalid_fraction is None else args.invalid_fraction,
        ledger=args.ledger,
        topic_prefix=args.topic_prefix,
        model=dataclasses.replace(PROFILES[profile], **{k: v for k, v in shop.items() if v is not None}),
        daily=profile == "realistic" and not args.flat,
        flush_timeout=args.flush_timeout,
        kafka={**security(args, config), **dict(args.kafka_opt)},
    )


def run(args: argparse.Namespace, config: Config) -> int:
    try:
        settings = settings_from(args, config)
    except (argparse.ArgumentTypeError, KafkaSecurityError) as exc:
        print(f"produce: {exc}", file=sys.stderr)
        return 2
    replication = args.replication or config.topic_replication
    try:
        ensure_topics(settings.bootstrap,
                      args.partitions or config.kafka.partitions,
                      replication,
                      names=tuple(settings.topic_prefix + t for t in TOPICS), timeout=TOPIC_TIMEOUT,
                      configs=config.topic_configs if replication == config.topic_replication else {},
                      security=security(args, config))
    except TopicError as exc:
        print(f"produce: {exc}", file=sys.stderr)
        return 2
    emit = _print_json if args.json else _print_human
    runner = ProducerRunner(settings, emit)

    def on_signal(signum, _frame) -> None:
        if runner.stopping:
            runner.hurry()
        runner.request_stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        control.start_reader(sys.stdin, runner.commands.put, runner.log)
        return runner.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _print_json(report: ProducerReport) -> None:
    sys.stdout.write(to_line(report) + "\n")
    sys.stdout.flush()


def _print_human(r: ProducerReport) -> None:
    topics = " ".join(f"{k}={v}" for k, v in r.per_topic.items())
    state = " paused" if r.paused else ""
    head = "done:" if r.final else f"{r.rate:>9.0f}/s{state}"
    print(f"{head} sent {r.sent} delivered {r.delivered} failed {r.failed} "
          f"in-flight {r.in_flight} invalid {r.invalid} ({topics})", flush=True)


# ----- argument types: each raises ArgumentTypeError with the reason ---------------------------
def _number(kind, text: str, check):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    try:
        return check(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rate(text: str) -> float:
    return _number(float, text, control.check_rate)


def _fraction(text: str) -> float:
    return _number(float, text, control.check_fraction)


def _positive(value):
    if value <= 0:
        raise ValueError(f"must be > 0, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _number(int, text, _positive)


def _positive_float(text: str) -> float:
    return _number(float, text, _positive)


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("needs at least one name")
    return names


def _mix(text: str) -> tuple[float, ...]:
    parts = [p.strip() for p in text.split(",")]
    if all("=" in p for p in parts):
        named = dict(p.split("=", 1) for p in parts)
        unknown = set(named) - set(EVENT_TYPES)
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown event type(s) {sorted(unknown)}; known: {EVENT_TYPES}")
        parts = [named.get(e, "0") for e in EVENT_TYPES]
    if len(parts) != len(EVENT_TYPES):
        raise argparse.ArgumentTypeError(f"needs {len(EVENT_TYPES)} weights for {', '.join(EVENT_TYPES)}")
    try:
        weights = tuple(float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"weights must be numbers: {text!r}") from None
    if min(weights) < 0 or sum(weights) <= 0:
        raise argparse.ArgumentTypeError("weights must be >= 0 with a positive sum")
    return weights


def _cities(text: str) -> tuple[City, ...]:
    cities = []
    for item in _names(text):
        fields = item.split(":")
        if len(fields) == 1:
            city = _KNOWN_CITIES.get(item.lower())
            if city is None:
                raise argparse.ArgumentTypeError(
                    f"unknown city {item!r}: give it as Name:Province:lat:lon")
        elif len(fields) == 4:
            try:
                city = City(fields[0], fields[1], float(fields[2]), float(fields[3]))
            except ValueError:
                raise argparse.ArgumentTypeError(f"bad coordinates in {item!r}") from None
        else:
            raise argparse.ArgumentTypeError(f"{item!r}: expected a known name or Name:Province:lat:lon")
        cities.append(city)
    return tuple(cities)


def _kafka_opt(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()
