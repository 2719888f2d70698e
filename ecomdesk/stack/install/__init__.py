"""Installing the JVM stack and libhdfs (`ecomdesk setup`) and locating what was installed."""

from ecomdesk.stack.install.layout import Installation, NotInstalled, installation

__all__ = ["Installation", "NotInstalled", "installation"]
