"""`ecomdesk stack up|down|status|logs|events`: the supervisor from a terminal."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path

from ecomdesk.config import Config
from ecomdesk.core.control import ControlError, request, stream
from ecomdesk.core.events import AlertFired, AlertResolved, Event, StateChanged
from ecomdesk.core.spec import State
from ecomdesk.core.supervisor import ServiceStatus, StartError, owner_alive, read_state
from ecomdesk.data.health import format_text, read_cluster
from ecomdesk.stack.catalog import build_specs
from ecomdesk.stack.destroy import describe, destroy, plan
from ecomdesk.stack.door import build_supervisor


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("stack", help="run and inspect the managed local stack")
    sub = p.add_subparsers(dest="stack_command", required=True)
    up = sub.add_parser("up", help="start services (default: all) in the foreground; Ctrl+C stops them")
    up.add_argument("services", nargs="*", metavar="SERVICE")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="stop the stack started by `stack up` or the GUI of this home")
    down.add_argument("--timeout", type=float, default=120.0)
    down.set_defaults(func=cmd_down)
    restart = sub.add_parser("restart", help="restart a service of the running stack, and what runs on it")
    restart.add_argument("service")
    restart.add_argument("--timeout", type=float, default=300.0)
    restart.set_defaults(func=cmd_restart)
    destroy = sub.add_parser("destroy", help="remove this home's stack data (Kafka topics, HDFS, the job's "
                             "checkpoint and aggregates) to start over; config and logs stay")
    destroy.add_argument("--stop", action="store_true", help="stop the running stack first instead of refusing")
    destroy.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    destroy.set_defaults(func=cmd_destroy)
    status = sub.add_parser("status", help="state of every service, and the health of the clusters")
    status.add_argument("--json", action="store_true",
                        help='machine-readable output: {"services": [...], "health": {"kafka", "hdfs", "spark"}}')
    status.set_defaults(func=cmd_status)
    logs = sub.add_parser("logs", help="print a service's log")
    logs.add_argument("service")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=50, help="lines of history to print first")
    logs.set_defaults(func=cmd_logs)
    events = sub.add_parser("events", help="the running stack's events (state changes, restarts, alerts) as JSON "
                            "lines, oldest kept first")
    events.add_argument("-f", "--follow", action="store_true", help="keep printing new events")
    events.add_argument("--since", type=int, default=0, metavar="SEQ", help="only events numbered after SEQ")
    events.set_defaults(func=cmd_events)


def current_status(config: Config) -> list[dict]:
    """The live state published by the owning process, or every service stopped."""
    specs = build_specs(config)
    state = read_state(config.paths.run_dir) if owner_alive(config.paths.run_dir) else {}
    published = {s["name"]: s for s in state.get("services", [])}
    return [published.get(s.name) or ServiceStatus(s.name, s.title, "stopped", endpoints=s.endpoints).to_dict()
            for s in specs]


def _fmt_bytes(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.0f} MiB"


def _fmt_uptime(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def format_table(rows: list[dict]) -> str:
    head = ("SERVICE", "STATE", "PID", "UPTIME", "RESTARTS", "CPU%", "RSS", "ENDPOINTS", "MESSAGE")
    lines = [head]
    for r in rows:
        cpu = r.get("cpu_percent")
        lines.append((
            r["name"], r["state"], str(r.get("pid") or "-"), _fmt_uptime(r.get("uptime")), str(r.get("restarts", 0)),
            "-" if cpu is None else f"{cpu:.0f}", _fmt_bytes(r.get("rss")),
            " ".join(f"{k}={v}" for k, v in r.get("endpoints", {}).items()), (r.get("message") or "")[:70],
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=False)) + "  " + line[-1]
                     for line in lines)


def format_alerts(rows: list[dict]) -> str:
    active = [(r["name"], a) for r in rows for a in r.get("alerts", [])]
    if not active:
        return "no active alerts"
    return "ACTIVE ALERTS\n" + "\n".join(
        f"  {name}: {a['message']} (since {time.strftime('%H:%M:%S', time.localtime(a['started']))})"
        for name, a in active)


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    """The services, then the clusters' health (read now; a stopped managed system is not asked)."""
    rows = current_status(config)
    health = read_cluster(config, {r["name"]: r["state"] for r in rows})
    if args.json:
        print(json.dumps({"services": rows, "health": health.to_dict()}, indent=2))
    else:
        print(f"{format_table(rows)}\n\n{format_text(health)}\n\n{format_alerts(rows)}")
    return 0


def cmd_up(args: argparse.Namespace, config: Config) -> int:
    config.paths.ensure()
    sup = build_supervisor(config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    try:
        t0 = time.monotonic()
        print(f"starting {', '.join(args.services) or 'all services'} (home: {config.paths.data_dir.parent})",
              flush=True)
        sup.start(args.services or None)
        last_seq = sup.events.last_seq
        print(f"ready in {time.monotonic() - t0:.1f} s\n{format_table([s.to_dict() for s in sup.snapshot()])}",
              flush=True)
        print("Ctrl+C stops everything", flush=True)
        sup.events.subscribe(events.put, since=last_seq)  # from the end of the start on
        printer = EventPrinter(sup.status)
        while not stop.is_set():
            try:
                line = printer.line(events.get(timeout=0.5))
            except queue.Empty:
                continue
            if line:
                print(line, flush=True)
    except StartError as exc:
        print(f"ecomdesk stack up: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping...", flush=True)
        sup.close()
        print("stopped", flush=True)
    return 0


class EventPrinter:
    """What `stack up` says of the stack's events: failures with their last log lines, restarts, recoveries,
    alerts firing and resolving."""

    def __init__(self, status):
        self.status = status  # name -> its ServiceStatus now (for the last log lines of a failure)
        self.down: set[str] = set()  # restarting since it went down

    def line(self, event: Event) -> str | None:
        if isinstance(event, AlertFired):
            return f"ALERT {event.service}: {event.message}"
        if isinstance(event, AlertResolved):
            return f"resolved {event.service}: {event.message}"
        if not isinstance(event, StateChanged):
            return None
        name = event.service
        if event.new == State.FAILED:
            self.down.discard(name)
            lines = self.status(name).last_lines[-10:]
            return f"{name} FAILED: {event.message}" + "".join(f"\n  {line}" for line in lines)
        if event.new == State.RESTARTING and name not in self.down:
            self.down.add(name)
            return f"{name} restarting: {event.message}"
        if event.new == State.RUNNING and name in self.down:
            self.down.discard(name)
            return f"{name} running again after {self.status(name).restarts} restart(s)"
        if event.new == State.STOPPED:
            self.down.discard(name)
        return None


def cmd_down(args: argparse.Namespace, config: Config) -> int:
    owner = owner_alive(config.paths.run_dir)
    if not owner:
        print("no running stack for this home")
        return 0
    if owner > 0:
        os.kill(owner, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if not owner_alive(config.paths.run_dir):
            print("stack stopped")
            return 0
        time.sleep(0.5)
    print(f"the owning process {owner} did not stop within {args.timeout:.0f} s", file=sys.stderr)
    return 1


def cmd_destroy(args: argparse.Namespace, config: Config) -> int:
    doomed = plan(config)
    if not doomed:
        print(describe(doomed), file=sys.stderr)
        return 0
    running = owner_alive(config.paths.run_dir)
    if running and not args.stop:
        print("ecomdesk stack destroy: the stack of this home is running; stop it first "
              "(`ecomdesk stack down`) or pass --stop", file=sys.stderr)
        return 1
    print(f"this removes:\n{describe(doomed)}", file=sys.stderr)
    if not args.yes:
        if not sys.stdin.isatty():
            print("ecomdesk stack destroy: not a terminal to confirm on; pass --yes", file=sys.stderr)
            return 1
        if input("type 'destroy' to remove it: ").strip() != "destroy":
            print("nothing removed", file=sys.stderr)
            return 1
    with contextlib.redirect_stdout(sys.stderr):  # stdout lists what was removed, nothing else
        if running and cmd_down(argparse.Namespace(timeout=120.0), config) != 0:
            return 1
    for d in destroy(config):
        print(d.path)
    return 0


def cmd_events(args: argparse.Namespace, config: Config) -> int:
    """The owner's events as JSON lines on stdout (`core.events`: "seq", "at", "kind", "service", ...)."""
    if not owner_alive(config.paths.run_dir):
        print("no running stack for this home; start it with `ecomdesk stack up`", file=sys.stderr)
        return 1
    try:
        for event in stream(config.paths.run_dir, {"op": "events", "since": args.since, "follow": args.follow}, 10.0):
            print(json.dumps(event), flush=True)
    except ControlError as exc:
        print(f"ecomdesk stack events: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    return 0


def cmd_restart(args: argparse.Namespace, config: Config) -> int:
    """Ask the process that owns the stack (a `stack up` terminal or the GUI) to restart a service."""
    if not owner_alive(config.paths.run_dir):
        print("no running stack for this home; start it with `ecomdesk stack up`", file=sys.stderr)
        return 1
    print(f"restarting {args.service}...", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    try:
        request(config.paths.run_dir, {"op": "restart", "service": args.service}, args.timeout)
    except ControlError as exc:
        print(f"ecomdesk stack restart: {exc}", file=sys.stderr)
        return 1
    print(f"{args.service} restarted in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return 0


def _tail(path: Path, n: int) -> list[str]:
    if not path.exists():
        return []
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 256 * 1024))
        return f.read().decode("utf-8", "replace").splitlines()[-n:]


def cmd_logs(args: argparse.Namespace, config: Config) -> int:
    names = [s.name for s in build_specs(config)]
    if args.service not in names:
        print(f"unknown service {args.service!r}; known: {', '.join(names)}", file=sys.stderr)
        return 2
    path = config.paths.log_dir / f"{args.service}.log"
    for line in _tail(path, args.lines):
        print(line)
    if not args.follow:
        return 0
    pos = path.stat().st_size if path.exists() else 0
    try:
        while True:
            time.sleep(0.5)
            if not path.exists():
                continue
            size = path.stat().st_size
            if size < pos:  # rotated
                pos = 0
            if size > pos:
                with open(path, "rb") as f:
                    f.seek(pos)
                    sys.stdout.write(f.read().decode("utf-8", "replace"))
                    sys.stdout.flush()
                    pos = f.tell()
    except KeyboardInterrupt:
        return 0
