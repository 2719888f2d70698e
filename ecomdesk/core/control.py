"""The owner's command socket (run/control.sock): other terminals ask it to restart a service, or read its
events.

One JSON request per connection, one JSON answer: {"op": "restart", "service": "kafka"} ->
{"ok": true} or {"ok": false, "error": "..."}. A request whose handler returns an iterable (the events)
gets its items after the answer, one JSON line each, until the items end, the client goes away or the
server closes. The socket is readable by its user only.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

SOCKET = "control.sock"
CLIENT_TIMEOUT = 30.0
Handler = Callable[[dict], Iterable[dict | None] | None]  # None in a stream: nothing new (the client is checked)


class ControlServer:
    def __init__(self, run_dir: Path, handle: Handler):
        self.path = run_dir / SOCKET
        self._handle = handle
        self.path.unlink(missing_ok=True)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            self._sock.bind(str(self.path))
        finally:
            os.umask(old)
        self._sock.listen(8)
        self._thread = threading.Thread(target=self._serve, name="supervisor-control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._answer, args=(conn,), name="supervisor-request", daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(CLIENT_TIMEOUT)  # a client that sends nothing, or stops reading a stream, is dropped
        with conn:
            stream = None
            try:
                request = json.loads(_read_line(conn))
                stream = self._handle(request)
                answer: dict[str, object] = {"ok": True}
            except Exception as exc:  # the caller gets every failure as the answer
                answer = {"ok": False, "error": str(exc)}
            try:
                conn.sendall((json.dumps(answer) + "\n").encode())
                if stream is not None:
                    _send_stream(conn, iter(stream))
            except OSError:
                logging.getLogger(__name__).info("control client went away")

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self.path.unlink(missing_ok=True)


class ControlError(RuntimeError):
    """The owner refused the request or could not be reached; the message says why."""


def request(run_dir: Path, payload: dict, timeout: float) -> None:
    """Send one request to the owner of `run_dir` and wait for its answer."""
    _ask(run_dir, payload, timeout)[0].close()


def stream(run_dir: Path, payload: dict, timeout: float) -> Iterator[dict]:
    """Send one request whose answer is a stream (the events), and yield its items as they come; ends when
    the owner ends the stream or goes away. `timeout` bounds the connection and the answer only."""
    s, reader = _ask(run_dir, payload, timeout)
    with s:
        if payload.get("follow"):
            s.settimeout(None)  # following waits for events as long as they take
        for line in reader:
            yield json.loads(line)


def _ask(run_dir: Path, payload: dict, timeout: float) -> tuple[socket.socket, TextIO]:
    """The connection after its answer said yes, and a reader of what follows it."""
    path = run_dir / SOCKET
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(path))
        s.sendall((json.dumps(payload) + "\n").encode())
        reader = s.makefile("r", encoding="utf-8")
        answer = json.loads(reader.readline() or "{}")
    except TimeoutError:
        s.close()
        raise ControlError(f"no answer from the owner within {timeout:.0f} s") from None
    except OSError as exc:
        s.close()
        raise ControlError(f"cannot reach the owner at {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        s.close()
        raise ControlError(f"the owner's answer is not JSON: {exc}") from None
    if not answer.get("ok"):
        s.close()
        raise ControlError(answer.get("error") or "the owner gave no answer")
    return s, reader


def _send_stream(conn: socket.socket, items: Iterator[dict | None]) -> None:
    """Each item as a JSON line; a None item checks that the client is still there (it sends nothing, so
    a readable socket that reads empty means it closed)."""
    try:
        for item in items:
            if item is not None:
                conn.sendall((json.dumps(item) + "\n").encode())
                continue
            try:
                if not conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                    return  # it closed its end
            except BlockingIOError:
                pass  # nothing to read: still there
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # a generator's cleanup (its subscription) runs now, not at its collection


def _read_line(conn: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode()
