"""`ecomdesk desktop install|uninstall [--system]`: prints the files written or removed, one per line."""

from __future__ import annotations

import argparse
import sys

from ecomdesk.desktop import entry


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("desktop", help="add ecomdesk to the desktop's application menu, or remove it")
    p.add_argument("action", choices=("install", "uninstall"))
    p.add_argument("--system", action="store_true", help=f"for every user, under {entry.SYSTEM_DATA_DIR}")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, config) -> int:
    try:
        paths = entry.install(args.system) if args.action == "install" else entry.uninstall(args.system)
    except entry.DesktopError as exc:
        print(f"ecomdesk desktop {args.action}: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    verb = "installed" if args.action == "install" else "removed"
    print(f"{len(paths)} files {verb}", file=sys.stderr)
    return 0
