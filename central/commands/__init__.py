"""central's ``lanewarden`` subcommands, each registered through an entry point (pyproject.toml)."""
