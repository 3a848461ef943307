"""``lanewarden central user add NAME --role ROLE``: a console user (the first administrator).

Registered by :func:`central.commands.run.register`, so no new entry point is needed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from central.commands.opening import EXIT_CONFIG, EXIT_FAILED, CommandFailedError, load_config
from central.console.roles import ROLES
from plumbing.cli import Groups

EXIT_BAD_INPUT = 2


def register(groups: Groups) -> None:
    parser = groups.group("central").add_parser(
        "user",
        help="manage the console's users",
        description="Manage the users of the supervisor console in central's database.",
    )
    actions = parser.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        help="add a user with a role",
        description="Add a console user with a role, recorded in the audit log (actor: the "
        "local account running the command). The password is read from --password-file "
        "(its first line; at least 12 characters), or generated and printed once when no file "
        f"is given. Exit status: 0 added, {EXIT_FAILED} the database cannot be used, "
        f"{EXIT_BAD_INPUT} a bad name, role, password or a name taken, {EXIT_CONFIG} the "
        "configuration is invalid.",
    )
    add.add_argument("name", help="the login name (letters, digits, '.', '_', '-')")
    add.add_argument("--role", required=True, choices=ROLES, help="the user's role")
    add.add_argument("--password-file", type=Path, metavar="F", help="file of the password")
    add.add_argument(
        "--config", required=True, metavar="FILE", help="central's file (config/central.toml)"
    )
    add.add_argument("--reason", help="why the user is added (kept in the audit log)")
    add.set_defaults(func=run_add)


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def run_add(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from sqlalchemy.exc import SQLAlchemyError

    from central.console.auth import Passwords, UserError, add_user, generate_password
    from central.storage import CentralStore, StoreUrlError
    from central.storage.engine import writer

    prog = "lanewarden central user add"
    try:
        config = load_config(prog, args.config)
    except CommandFailedError as exc:
        return exc.code
    generated = args.password_file is None
    if generated:
        password = generate_password()
    else:
        try:
            lines = args.password_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            print(f"{prog}: --password-file: cannot read it: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        password = lines[0] if lines else ""
    if config.storage.url is None:
        config.storage.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        with (
            CentralStore.open(config.storage.database_url) as store,
            writer(store.engine).begin() as connection,
        ):
            user = add_user(
                connection,
                name=args.name,
                role=args.role,
                password=password,
                passwords=Passwords(),
                at=datetime.now(UTC),
                actor=_actor(),
                reason=args.reason,
            )
    except UserError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StoreUrlError as exc:
        print(f"{prog}: storage.url: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (SQLAlchemyError, OSError) as exc:
        print(f"{prog}: cannot use the database: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"added {user.name} ({user.role})")
    if generated:
        print(f"password: {password}")
    return 0
