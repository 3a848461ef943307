"""Checks on the fields of a control route's JSON body, with the messages a technician reads.

Each raises :class:`~simulators.json_http.BadRequestError` (a ``ValueError``,
so a route answers it with a 400) naming the field and what was expected.
JSON has one kind of number, so a whole number is accepted where a float is;
but ``true`` is not the number 1, although Python's ``bool`` is an ``int``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulators.json_http import BadRequestError


def is_of(value: object, types: tuple[type, ...]) -> bool:
    """``isinstance``, except that a bool is only a bool and a whole number is also a float."""
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    return isinstance(value, types)


def check_fields(
    body: Mapping[str, Any], kinds: Mapping[str, tuple[type, ...]], *, what: str = "key"
) -> None:
    """Every key of ``body`` is one of ``kinds`` and holds a value of its types.

    ``what`` names the keys in the message (``unknown fault 'slow'``).
    """
    for name, value in body.items():
        types = kinds.get(name)
        if types is None:
            raise BadRequestError(f"unknown {what} {name!r}; expected some of {sorted(kinds)}")
        if not is_of(value, types):
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise BadRequestError(f"{name}: expected {expected}, got {value!r}")


def only_keys(body: Mapping[str, Any], *keys: str) -> None:
    """``body`` has no key but ``keys``."""
    unknown = sorted(set(body) - set(keys))
    if unknown:
        raise BadRequestError(f"unknown key {unknown[0]!r}; expected some of {sorted(keys)}")


def optional_bool(body: Mapping[str, Any], key: str) -> bool | None:
    """``body[key]`` if true or false; ``None`` if null or absent."""
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadRequestError(f"{key}: expected true, false or null, got {value!r}")
    return value


def bool_field(body: Mapping[str, Any], key: str, default: bool | None = None) -> bool:
    """``body[key]``, true or false; ``default`` when absent (no default: required)."""
    value = body.get(key, default)
    if not isinstance(value, bool):
        got = "nothing" if key not in body else repr(value)
        raise BadRequestError(f"{key}: expected true or false, got {got}")
    return value


def one_bool(body: Mapping[str, Any], key: str) -> bool:
    """The body's only key, ``key``, which must be true or false."""
    only_keys(body, key)
    return bool_field(body, key)
