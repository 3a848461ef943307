"""Loading one configuration file into its model, and reporting what is wrong with it.

The models derive from :class:`contracts.schema.ConfigModel` (strict: unknown keys
are errors). An error names the file, the key path and what was expected, e.g.
``config/lanes/p1.toml: barrier.port: Field required``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    """A configuration file is missing, unreadable or invalid.

    ``problems`` holds one line per fault, each starting with the file name.
    """

    def __init__(self, path: Path | str, problems: Sequence[str]) -> None:
        self.path = Path(path)
        self.problems = [f"{path}: {p}" for p in problems]
        super().__init__("\n".join(self.problems))


def read_toml(path: Path | str) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [f"cannot read file: {exc}"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def validation_problems(exc: ValidationError) -> list[str]:
    """One ``key.path: message`` line per pydantic error."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # Discriminated unions put the chosen tag into the location; drop it.
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key (not allowed here; check the spelling)"
        problems.append(f"{_key_path(loc)}: {message}")
    return problems


def validate(path: Path | str, data: dict[str, Any], model: type[M]) -> M:
    try:
        return model.model_validate(data, context={"path": Path(path)})
    except ValidationError as exc:
        raise ConfigError(path, validation_problems(exc)) from None


def load(path: Path | str, model: type[M]) -> M:
    """Read and validate one file as ``model``."""
    return validate(path, read_toml(path), model)
