"""The standalone bundle's entry point (scripts/package): the `ecomdesk` command, and the bundle's Python.

The app starts Python children with `sys.executable`: the producer and the reaper (`-m module`), and
spark-submit the job's driver (`script.py args`) and PySpark workers (`-m pyspark.daemon`). In the
bundle `sys.executable` is this program, so it runs those the way `python` would, from the modules
frozen inside it.
"""

from __future__ import annotations

import runpy
import sys


def main() -> int:
    args = sys.argv[1:]
    while args and args[0] in ("-u", "-B", "-s", "-E"):  # interpreter flags children may pass: no-ops here
        args = args[1:]
    if args[:1] == ["-m"] and len(args) > 1:
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        return 0
    if args[:1] == ["-c"] and len(args) > 1:
        sys.argv = ["-c", *args[2:]]
        exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102 (python -c)
        return 0
    if args and args[0].endswith(".py"):
        sys.argv = args
        runpy.run_path(args[0], run_name="__main__")
        return 0
    from ecomdesk.cli.main import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
