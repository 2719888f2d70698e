"""The `ecomdesk` command and its subcommands."""
