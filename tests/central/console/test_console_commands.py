"""``lanewarden central user add`` and ``lanewarden central console``'s refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from console_site import write_secret
from sqlalchemy import select

from central.console import audit
from central.console.auth import Passwords
from central.storage import CentralStore
from central.storage.schema import users
from plumbing.cli import main


def central_file(tmp_path: Path, console: str = "") -> Path:
    path = tmp_path / "central.toml"
    path.write_text(
        f'kind = "central"\n[storage]\nstate_dir = "{tmp_path / "state"}"\n{console}',
        encoding="utf-8",
    )
    return path


def stored_hash(tmp_path: Path, name: str) -> str | None:
    """The hash stored for ``name`` (its addition audited); None when there is no such user."""
    database = tmp_path / "state" / "central.sqlite3"
    if not database.exists():
        return None
    with (
        CentralStore.open(f"sqlite:///{database}") as store,
        store.engine.connect() as connection,
    ):
        found = connection.execute(
            select(users.c.password_hash).where(users.c.name == name)
        ).scalar()
        entries = audit.entries(connection, target=f"user:{name}")
    assert [e.action for e in entries] == (["user.add"] if found else [])
    return found


class TestUserAdd:
    """The first administrator from the command line; its password printed once when generated."""

    def test_generated_password(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        config = central_file(tmp_path)
        assert (
            main(
                [
                    "central",
                    "user",
                    "add",
                    "root",
                    "--role",
                    "administrator",
                    "--config",
                    str(config),
                ]
            )
            == 0
        )
        out = capsys.readouterr().out.splitlines()
        assert out[0] == "added root (administrator)"
        password = out[1].removeprefix("password: ")
        assert len(password) == 24
        stored = stored_hash(tmp_path, "root")
        assert stored is not None
        assert Passwords().verify(stored, password)

    def test_password_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        config = central_file(tmp_path)
        secret = tmp_path / "pw"
        secret.write_text("a long enough password\nignored\n", encoding="utf-8")
        args = ["central", "user", "add", "eve", "--role", "auditor", "--config", str(config)]
        assert main([*args, "--password-file", str(secret)]) == 0
        assert "password" not in capsys.readouterr().out
        stored = stored_hash(tmp_path, "eve")
        assert stored is not None
        assert Passwords().verify(stored, "a long enough password")
        assert main([*args, "--password-file", str(secret)]) == 2
        assert "exists already" in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("extra", "says"),
        [
            (["--password-file", "short"], "at least 12 characters"),
            (["--password-file", "absent"], "cannot read it"),
        ],
    )
    def test_bad_password(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], says: str
    ) -> None:
        (tmp_path / "short").write_text("tiny\n", encoding="utf-8")
        extra = [extra[0], str(tmp_path / extra[1])]
        config = central_file(tmp_path)
        args = ["central", "user", "add", "bob", "--role", "operator", "--config", str(config)]
        assert main([*args, *extra]) == 2
        assert says in capsys.readouterr().err
        assert stored_hash(tmp_path, "bob") is None

    def test_unknown_role(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exit_:
            main(
                [
                    "central",
                    "user",
                    "add",
                    "x",
                    "--role",
                    "root",
                    "--config",
                    str(central_file(tmp_path)),
                ]
            )
        assert exit_.value.code == 2
        assert "invalid choice: 'root'" in capsys.readouterr().err


class TestConsoleCommand:
    """It refuses to start without a usable [console] section."""

    def test_no_console_section(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["central", "console", "--config", str(central_file(tmp_path))]) == 78
        assert "has no [console] section" in capsys.readouterr().err

    def test_short_secret(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        secret = tmp_path / "secret"
        secret.write_bytes(b"too short")
        config = central_file(tmp_path, f'[console]\nsession_secret_file = "{secret}"\n')
        assert main(["central", "console", "--config", str(config)]) == 78
        assert "at least 32 random bytes" in capsys.readouterr().err

    def test_unknown_key(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        secret = write_secret(tmp_path / "secret")
        config = central_file(
            tmp_path, f'[console]\nsession_secret_file = "{secret}"\nlockout = 3\n'
        )
        assert main(["central", "console", "--config", str(config)]) == 78
        assert "console.lockout: unknown key" in capsys.readouterr().err
