"""Mosquitto 2's password-file hash: PBKDF2-HMAC-SHA512, written ``$7$<iterations>$<salt>$<hash>``.

It is what ``mosquitto_passwd`` writes by default since Mosquitto 2.0 (``-H
sha512-pbkdf2``): a 12-byte random salt, 101 iterations and the 64-byte derived
key, salt and key in standard base64. Implemented here with :mod:`hashlib` so
that central writes password files without the mosquitto clients installed; the
tests check a hash against ``mosquitto_passwd`` and against the broker itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

ITERATIONS = 101
"""Mosquitto 2.0's default; the broker reads the count from each line, so it may differ."""
SALT_BYTES = 12
_PREFIX = "$7$"


class PasswdError(ValueError):
    """A password-file line that is not ``user:$7$...`` as Mosquitto 2 writes it."""


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The ``$7$`` hash of ``password`` (the part after ``user:``)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"{_PREFIX}{iterations}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``hashed`` (a ``$7$`` hash) is the hash of ``password``."""
    iterations, salt, key = _split(hashed)
    actual = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(actual, key)


def parse_line(line: str) -> tuple[str, str]:
    """``(user, hash)`` of one password-file line; :class:`PasswdError` if it is not ``$7$``."""
    user, sep, hashed = line.strip().partition(":")
    if not sep or not user:
        raise PasswdError(f"{line.strip()[:40]!r} is not user:hash")
    _split(hashed)
    return user, hashed


def _split(hashed: str) -> tuple[int, bytes, bytes]:
    if not hashed.startswith(_PREFIX):
        raise PasswdError(f"hash is not a Mosquitto 2 PBKDF2 hash (does not start {_PREFIX})")
    parts = hashed[len(_PREFIX) :].split("$")
    if len(parts) != 3 or not parts[0].isdigit() or int(parts[0]) < 1:
        raise PasswdError("hash is not $7$<iterations>$<salt>$<key>")
    try:
        salt = base64.b64decode(parts[1], validate=True)
        key = base64.b64decode(parts[2], validate=True)
    except binascii.Error as exc:
        raise PasswdError(f"hash salt or key is not base64: {exc}") from None
    if len(key) != hashlib.sha512().digest_size:
        raise PasswdError(f"hash key is {len(key)} bytes, not 64")
    return int(parts[0]), salt, key


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
