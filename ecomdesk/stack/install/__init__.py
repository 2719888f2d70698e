"""Installing the JVM stack and libhdfs (`ecomdesk setup`); where it lives is `ecomdesk.install_layout`."""
