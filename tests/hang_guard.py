"""A hung test fails fast, with every thread's stack, even when it hangs holding the GIL.

pytest-timeout (method `thread`, set in pyproject) fires from a Python `threading.Timer`, which
needs the GIL. A test whose main thread is stuck in C code *holding* the GIL (issue 9: the main
thread inside `QLabel.setText` waiting for a Qt mutex, the GC thread waiting for the GIL) never
lets that timer run. This plugin arms faulthandler's watchdog for the same span as pytest-timeout's
timer, `hang_guard_margin` seconds later: a C thread that needs no GIL, dumps the Python stack of
every thread (the hung test's function and line among them) to the real stderr and exits the
process with status 1.

Loaded by tests/conftest.py (`pytest_plugins`); a child pytest can load it with `-p hang_guard`.
"""

from __future__ import annotations

import faulthandler
import os
import sys

import pytest

MARGIN_DESC = "seconds after pytest-timeout's limit before faulthandler dumps all stacks and exits (0: off)"
_STDERR_FD = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("hang_guard_margin", MARGIN_DESC, default="30")


def pytest_configure(config: pytest.Config) -> None:
    # A copy of the real stderr, taken while output capture is suspended: during a test, fd 2 is
    # pytest's capture file, whose content is lost when the process exits from the watchdog.
    config.stash[_STDERR_FD] = os.dup(sys.__stderr__.fileno() if sys.__stderr__ else 2)


def pytest_unconfigure(config: pytest.Config) -> None:
    faulthandler.cancel_dump_traceback_later()
    fd = config.stash.get(_STDERR_FD, None)
    if fd is not None:
        os.close(fd)
        del config.stash[_STDERR_FD]


def _margin(config: pytest.Config) -> float:
    return float(config.getini("hang_guard_margin"))


def _debugging(config: pytest.Config) -> bool:
    if config.getoption("usepdb", False) or config.getoption("trace", False):
        return True
    try:
        from pytest_timeout import is_debugging
    except ImportError:
        return False
    return is_debugging()


def _settings(item: pytest.Item):
    from pytest_timeout import _get_item_settings  # the limit pytest-timeout applies to this item

    return _get_item_settings(item)


def _arm(item: pytest.Item, timeout) -> bool:
    margin = _margin(item.config)
    if margin <= 0 or not timeout or timeout <= 0 or _debugging(item.config):
        return False
    faulthandler.dump_traceback_later(timeout + margin, file=item.config.stash[_STDERR_FD], exit=True)
    return True


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item):
    """Armed for setup, call and teardown, like pytest-timeout's timer, but it stays armed after a
    failure (pytest-timeout cancels its timer then, leaving a hanging teardown unguarded)."""
    settings = _settings(item)
    armed = not settings.func_only and _arm(item, settings.timeout)
    yield
    if armed:
        faulthandler.cancel_dump_traceback_later()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item):
    settings = _settings(item)
    armed = settings.func_only and _arm(item, settings.timeout)
    yield
    if armed:
        faulthandler.cancel_dump_traceback_later()


def pytest_enter_pdb(config: pytest.Config) -> None:
    faulthandler.cancel_dump_traceback_later()  # never kill an interactive session
