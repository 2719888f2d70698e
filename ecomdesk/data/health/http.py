"""JSON and text over HTTP with a short timeout; every failure becomes a `ReadError` naming the URL."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

TIMEOUT = 3.0


class ReadError(RuntimeError):
    """An endpoint did not give an answer we can use; the message says which and why."""


def url_of(address: str, path: str) -> str:
    """'host:port' or 'http(s)://host:port' plus a path."""
    base = address if "://" in address else f"http://{address}"
    return base.rstrip("/") + path


def get_text(url: str, timeout: float = TIMEOUT) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (http(s) URLs from the config)
            return resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        raise ReadError(f"{url}: HTTP {exc.code} {_remote_message(exc) or exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = getattr(reason, "strerror", None) or str(reason)
        raise ReadError(f"{url}: {text}") from None
    except TimeoutError:
        raise ReadError(f"{url}: no answer within {timeout:.0f} s") from None
    except OSError as exc:
        raise ReadError(f"{url}: {exc.strerror or exc}") from None


def get_json(url: str, timeout: float = TIMEOUT):
    text = get_text(url, timeout)
    try:
        return json.loads(text)
    except ValueError:
        raise ReadError(f"{url}: not JSON ({text[:80]!r})") from None


def _remote_message(exc: urllib.error.HTTPError) -> str:
    """Hadoop's REST errors carry {"RemoteException": {"exception", "message"}}."""
    try:
        remote = json.loads(exc.read() or b"{}").get("RemoteException", {})
    except (ValueError, OSError, AttributeError):
        return ""
    return f"{remote.get('exception', '')}: {remote.get('message', '')}".strip(": ")
