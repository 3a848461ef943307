"""Writing the broker's files for a set of lanes: ACL, password file, credentials, conf.

Layout of ``DIR``::

    DIR/acl                  Mosquitto acl_file (0644)
    DIR/passwd               Mosquitto password_file, $7$ hashes (0640, optionally of a group)
    DIR/mosquitto.conf       listener fragment naming the two files above (0644)
    DIR/credentials/<user>   the plain password of each user, nothing else (0600)

A credential file holds exactly the password, no newline, so that a lane's
``password_file`` or a systemd ``LoadCredential=`` can point at it as it is.
Running again keeps every existing password (and its hash line, when it still
matches, so an unchanged set writes the same files) and creates passwords only for
new users; ``rotate`` gives every user a new one. Credentials are written before
the password file, each file by rename, so an interrupted run leaves the old files
or a set that a rerun completes. Credentials of users no longer in the set are
left in place and reported: deleting secrets is the operator's decision.

Mosquitto started as root drops to its own user (``mosquitto``) before it reads the
password file, so a password file written by root must be given the broker's group
(``group="mosquitto"``) or the broker refuses to start.
"""

from __future__ import annotations

import grp
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from central.broker_config.acl import render_acl
from central.broker_config.lanes import LaneRef
from central.broker_config.passwd import PasswdError, hash_password, parse_line, verify_password
from contracts.ids import SITE_ID_PATTERN

DEFAULT_CENTRAL_USERS = ("central",)
PASSWORD_BYTES = 24
"""Random bytes per generated password (32 URL-safe characters)."""

_SITE_ID = re.compile(SITE_ID_PATTERN)
_PASSWORD = re.compile(r"[!-~]{16,256}")
"""An existing credential: 16 to 256 printable ASCII characters, no space or newline."""


class BrokerConfigError(Exception):
    """The set of users or an existing file in ``DIR`` does not allow writing the files."""


@dataclass(frozen=True)
class BrokerFiles:
    """Where the files of one output directory go."""

    root: Path

    @property
    def acl(self) -> Path:
        return self.root / "acl"

    @property
    def passwd(self) -> Path:
        return self.root / "passwd"

    @property
    def conf(self) -> Path:
        return self.root / "mosquitto.conf"

    @property
    def credentials(self) -> Path:
        return self.root / "credentials"

    def credential(self, user: str) -> Path:
        return self.credentials / user


@dataclass
class Written:
    """What one run did, user by user."""

    files: BrokerFiles
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    rotated: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)


def write_broker_config(
    lanes: Sequence[LaneRef],
    out: Path,
    *,
    central_users: Sequence[str] = DEFAULT_CENTRAL_USERS,
    rotate: bool = False,
    port: int = 1883,
    bind: str | None = None,
    group: str | None = None,
) -> Written:
    """Write ACL, password file, credentials and conf fragment for ``lanes`` into ``out``.

    ``group`` is the group the password file is given (the broker's, read access only).
    """
    users = _users(lanes, central_users)
    gid = _group_id(group)
    files = BrokerFiles(out.resolve())
    # mosquitto.conf is one setting per line, values up to the first blank.
    if re.search(r"\s", str(files.root)):
        raise BrokerConfigError(f"{files.root}: mosquitto.conf cannot name a path with a blank")
    if bind is not None and not re.fullmatch(r"[^\s]+", bind):
        raise BrokerConfigError(f"bind address {bind!r} is empty or has a blank")
    files.credentials.mkdir(parents=True, exist_ok=True)
    files.credentials.chmod(0o700)
    old_hashes = _old_hashes(files.passwd)
    written = Written(files)
    lines = []
    for user in users:
        password = None if rotate else _existing_password(files.credential(user))
        if password is None:
            (written.rotated if files.credential(user).exists() else written.created).append(user)
            password = secrets.token_urlsafe(PASSWORD_BYTES)
            _write_atomic(files.credential(user), password, 0o600)
        else:
            written.kept.append(user)
        old = old_hashes.get(user)
        hashed = (
            old if old is not None and verify_password(password, old) else hash_password(password)
        )
        lines.append(f"{user}:{hashed}\n")
    _write_atomic(files.passwd, "".join(lines), 0o640, gid=gid)
    _write_atomic(files.acl, render_acl(lanes, central_users), 0o644)
    _write_atomic(files.conf, render_conf(files, port=port, bind=bind), 0o644)
    written.stale = sorted(
        p.name
        for p in files.credentials.iterdir()
        if p.name not in users and not p.name.startswith(".")
    )
    return written


def render_conf(files: BrokerFiles, *, port: int, bind: str | None) -> str:
    """A mosquitto.conf fragment: one authenticated listener using the ACL and password file.

    With ``per_listener_settings true`` the authentication settings below belong to this
    listener only; Mosquitto requires that option before any listener line, so the
    including file must not open a listener of its own before this fragment.
    """
    listener = f"listener {port}" + (f" {bind}" if bind else "")
    return "\n".join(
        [
            "# Written by `lanewarden central broker-config`; regenerate it rather than edit it.",
            "per_listener_settings true",
            listener,
            "allow_anonymous false",
            f"acl_file {files.acl}",
            f"password_file {files.passwd}",
            "",
        ]
    )


def _users(lanes: Sequence[LaneRef], central_users: Sequence[str]) -> list[str]:
    problems = [
        f"central user {user!r} is not a valid user name (pattern {SITE_ID_PATTERN})"
        for user in central_users
        if not _SITE_ID.match(user)
    ]
    if not central_users:
        problems.append("no central user: central could neither ingest nor command")
    if len(set(central_users)) != len(central_users):
        problems.append(f"central users repeat a name: {', '.join(central_users)}")
    lane_ids = {lane.lane_id: lane for lane in lanes}
    problems += [
        f"{lane_ids[user].path}: id: lane {user!r} has the name of a central user"
        for user in central_users
        if user in lane_ids
    ]
    if problems:
        raise BrokerConfigError("\n".join(problems))
    return [*central_users, *(lane.lane_id for lane in lanes)]


def _existing_password(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise BrokerConfigError(f"{path}: cannot read the credential: {exc}") from None
    if not _PASSWORD.fullmatch(text):
        raise BrokerConfigError(
            f"{path}: not a password as this command writes it (16-256 printable characters, "
            "no space or newline); fix or delete the file, or pass --rotate"
        )
    return text


def _old_hashes(path: Path) -> dict[str, str]:
    """The hashes of the previous password file, to keep lines whose password is unchanged."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise BrokerConfigError(f"{path}: cannot read the previous password file: {exc}") from None
    hashes = {}
    for line in text.splitlines():
        try:
            user, hashed = parse_line(line)
        except PasswdError:
            continue  # not reusable (hand-edited, or an older hash): hashed afresh below
        hashes[user] = hashed
    return hashes


def _group_id(group: str | None) -> int | None:
    if group is None:
        return None
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise BrokerConfigError(f"group {group!r}: no such group on this machine") from None


def _write_atomic(path: Path, text: str, mode: int, gid: int | None = None) -> None:
    """Write ``text`` to ``path`` by rename, the file created with ``mode`` from its first byte."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.unlink(missing_ok=True)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        if gid is not None:
            try:
                os.fchown(fd, -1, gid)
            except PermissionError:
                temp.unlink()
                raise BrokerConfigError(
                    f"{path}: cannot give it group id {gid} (run as root, or as a member of "
                    "the group)"
                ) from None
        os.fchmod(fd, mode)  # the umask may have narrowed it; say exactly what it is
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(fd)
    os.replace(temp, path)
