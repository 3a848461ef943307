"""Subcommands of ``lanewarden`` that belong to the edge package."""
