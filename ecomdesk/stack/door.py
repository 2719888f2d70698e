"""The one door into the stack: `build_supervisor` wires the supervisor once, and `Stack` is everything the
window may do with the stack; `LocalStack` is the real one, over the supervisor of this home.

The window talks to a `Stack` only, so a fake for its tests implements the same Protocol, and one set of
behaviour tests (tests/test_stack_door.py) runs against both, so that the two cannot drift apart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ecomdesk.config import Config
from ecomdesk.core.events import Event, EventStream
from ecomdesk.core.spec import ServiceSpec
from ecomdesk.core.status import ServiceStatus
from ecomdesk.core.supervisor import Supervisor
from ecomdesk.stack.alerts import AlertMonitor
from ecomdesk.stack.catalog import build_specs
from ecomdesk.stack.destroy import Doomed, plan, stop_and_destroy
from ecomdesk.stack.install.setup import Installer
from ecomdesk.stack.rebuild_run import rebuild_around


def build_supervisor(config: Config, specs: list[ServiceSpec] | None = None) -> Supervisor:
    """The supervisor of this home's stack (or of `specs`), with the alert monitor publishing into its events."""
    paths = config.paths.ensure()
    events = EventStream()
    return Supervisor(build_specs(config) if specs is None else specs, paths.log_dir, paths.run_dir,
                      annotate=AlertMonitor.from_config(config, events).annotate, events=events)


class Stack(Protocol):
    """What the window may do with the stack. Commands block (the window runs them on its command thread);
    `events` is the supervisor's stream of changes (`core.events`); `snapshot` the current figures."""

    specs: dict[str, ServiceSpec]
    events: EventStream

    def start(self, names: list[str] | None = None) -> None: ...

    def stop(self, names: list[str] | None = None) -> None: ...

    def restart(self, name: str) -> None: ...

    def snapshot(self) -> list[ServiceStatus]: ...

    def subscribe(self, listener: Callable[[Event], None], since: int | None = None) -> Callable[[], None]: ...

    def subscribe_logs(self, listener: Callable[[str, str], None]) -> Callable[[], None]: ...

    def log_file(self, name: str) -> Path: ...

    def send_control(self, name: str, command: str) -> None: ...

    def destroy_plan(self) -> list[Doomed]: ...

    def destroy(self) -> list[Doomed]: ...

    def rebuild(self) -> dict: ...

    def installed(self) -> bool: ...

    def setup(self, say: Callable[[str], None], cancel: threading.Event) -> None: ...

    def close(self) -> None: ...


class LocalStack:
    """The stack of this home: its supervisor, `ecomdesk setup`, destroy and rebuild."""

    def __init__(self, config: Config, supervisor: Supervisor | None = None, installer: Installer | None = None):
        self.config = config
        self.supervisor = supervisor or build_supervisor(config)
        self.installer = installer or Installer()
        self.specs, self.events = self.supervisor.specs, self.supervisor.events

    def start(self, names: list[str] | None = None) -> None:
        self.supervisor.start(names)

    def stop(self, names: list[str] | None = None) -> None:
        self.supervisor.stop(names)

    def restart(self, name: str) -> None:
        self.supervisor.restart(name)

    def snapshot(self) -> list[ServiceStatus]:
        return self.supervisor.snapshot()

    def subscribe(self, listener: Callable[[Event], None], since: int | None = None) -> Callable[[], None]:
        return self.events.subscribe(listener, since)

    def subscribe_logs(self, listener: Callable[[str, str], None]) -> Callable[[], None]:
        return self.supervisor.subscribe_logs(listener)

    def log_file(self, name: str) -> Path:
        return self.supervisor.log_file(name)

    def send_control(self, name: str, command: str) -> None:
        self.supervisor.send_control(name, command)

    def destroy_plan(self) -> list[Doomed]:
        return plan(self.config)

    def destroy(self) -> list[Doomed]:
        return stop_and_destroy(self.supervisor, self.config)

    def rebuild(self) -> dict:
        return rebuild_around(self.supervisor, self.config)

    def installed(self) -> bool:
        return self.installer.installed()

    def setup(self, say: Callable[[str], None], cancel: threading.Event) -> None:
        self.installer.run(say, cancel)

    def close(self) -> None:
        self.supervisor.close()
