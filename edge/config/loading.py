"""Loading any of the lane's configuration files by the ``kind`` it names.

Reading and validating one file as a known model is :func:`plumbing.config.load`;
this module adds the lane's file kinds and the model of each.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from pydantic import BaseModel

from plumbing.config import ConfigError, read_toml, validate

# The model of each file kind, as "module:Class". Models live with the code that
# owns them (the fee engine owns tariffs) and are imported only when needed.
KINDS: dict[str, str] = {
    "lane": "edge.config.lane:LaneConfig",
    "plaza": "edge.config.plaza:PlazaConfig",
    "tariff": "edge.fees.files:TariffFile",
    "network": "contracts.network:Network",
}


def model_for(kind: str) -> type[BaseModel]:
    module, _, name = KINDS[kind].partition(":")
    model: type[BaseModel] = getattr(importlib.import_module(module), name)
    return model


def load_any(path: Path | str) -> BaseModel:
    """Read a file and validate it as the model its top-level ``kind`` names."""
    data = read_toml(path)
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        expected = ", ".join(sorted(KINDS))
        raise ConfigError(path, [f"kind: expected one of {expected}, got {kind!r}"])
    return validate(path, data, model_for(kind))
