"""The `ecomdesk` command: the GUI when called bare, subcommands for terminals and servers."""

from __future__ import annotations

import argparse
import sys

from ecomdesk.cli import desktop, query, rebuild
from ecomdesk.cli import stack as stack_cli
from ecomdesk.config import ConfigError, load
from ecomdesk.desktop.display import window_problem
from ecomdesk.producer import cli as produce_cli


def cmd_setup(args: argparse.Namespace, config) -> int:
    from ecomdesk.stack.install import setup

    return setup.main(with_archives=not args.no_class_archives)


def cmd_gui(args: argparse.Namespace, config) -> int:
    problem = window_problem()
    if problem:  # said before Qt loads: Qt itself would abort with a message that names no cause
        print(f"ecomdesk: cannot open the window: {problem}", file=sys.stderr)
        return 1
    from ecomdesk.ui.app import main as gui_main

    return gui_main(config)


def cmd_bench(args: argparse.Namespace, config) -> int:
    from ecomdesk import bench

    return bench.run([args.name, *args.args])


class VersionAction(argparse.Action):
    """`--version`: the app's and the stack's versions, and where the stack is installed."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show the versions of ecomdesk, Kafka, Hadoop and Spark, and where the stack is")

    def __call__(self, parser, namespace, values, option_string=None):
        from ecomdesk.install_layout import version_report

        width = max(len(k) for k, _ in version_report())
        print("\n".join(f"{k:<{width}}  {v}" for k, v in version_report()))
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecomdesk", description=__doc__)
    parser.add_argument("--version", action=VersionAction)
    parser.set_defaults(func=cmd_gui)
    sub = parser.add_subparsers(dest="command")
    setup = sub.add_parser("setup", help="install Kafka, HDFS, Spark's Kafka connector and libhdfs")
    setup.add_argument("--no-class-archives", action="store_true",
                       help="make no class-data archives (~1.5 min and ~300 MB less; the JVMs then start on "
                            "~1.6x the CPU)")
    setup.set_defaults(func=cmd_setup)
    sub.add_parser("gui", help="open the desktop window (the default)").set_defaults(func=cmd_gui)
    stack_cli.add_parser(sub)
    produce_cli.add_parser(sub)
    query.add_parser(sub)
    desktop.add_parser(sub)
    rebuild.add_parser(sub)
    bench = sub.add_parser("bench", help="benchmarks and the chaos run (figures on stdout); NAME --help for options")
    bench.add_argument("name", metavar="NAME", help="stack, cluster, producer, spark, charts or chaos")
    bench.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load()
        return args.func(args, config)
    except ConfigError as exc:  # some settings are checked against the service catalog only when it is built
        print(f"ecomdesk: bad configuration: {exc}", file=sys.stderr)
        return 2
