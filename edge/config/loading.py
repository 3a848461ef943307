"""Loading any configuration file by the ``kind`` it names.

Reading and validating one file as a known model is :func:`plumbing.config.load`;
this module adds the lane's file kinds and the model of each. Other packages add
their kinds (central's ``central``) through entry points of the group
:data:`KIND_ENTRY_POINT_GROUP` in pyproject.toml, so the lane names none of them.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
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
KIND_ENTRY_POINT_GROUP = "lanewarden.config_kinds"


def kinds() -> dict[str, str]:
    """Every known file kind: the lane's own and those other packages register."""
    return {entry.name: entry.value for entry in entry_points(group=KIND_ENTRY_POINT_GROUP)} | KINDS


def model_for(kind: str) -> type[BaseModel]:
    module, _, name = kinds()[kind].partition(":")
    model: type[BaseModel] = getattr(importlib.import_module(module), name)
    return model


def load_any(path: Path | str) -> BaseModel:
    """Read a file and validate it as the model its top-level ``kind`` names."""
    data = read_toml(path)
    kind = data.get("kind")
    known = kinds()
    if not isinstance(kind, str) or kind not in known:
        expected = ", ".join(sorted(known))
        raise ConfigError(path, [f"kind: expected one of {expected}, got {kind!r}"])
    return validate(path, data, model_for(kind))
