"""Validated configuration: TOML files into pydantic models (unknown keys forbidden)."""
