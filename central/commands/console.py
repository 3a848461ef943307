"""``lanewarden central console --config FILE``: serve the supervisor console (uvicorn).

Registered by :func:`central.commands.run.register`, so no new entry point is needed.
"""

from __future__ import annotations

import argparse
import sys

from plumbing.cli import Groups

EXIT_FAILED = 1
EXIT_CONFIG = 78


def register(groups: Groups) -> None:
    parser = groups.group("central").add_parser(
        "console",
        help="serve the supervisor console's JSON API",
        description="Serve the supervisor console on the [console] section's bind address and "
        "port until SIGTERM or SIGINT, reading central's configured database (migrated first). "
        f"Exit status: 0 stopped, {EXIT_FAILED} the database cannot be used, {EXIT_CONFIG} the "
        "configuration is invalid, has no [console] section, or its secret file is unusable.",
    )
    parser.add_argument(
        "--config", required=True, metavar="FILE", help="central's file (config/central.toml)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from central.config import load_central
    from central.console.app import create_app
    from central.console.context import Console
    from central.console.sessions import SecretError
    from central.storage import CentralStore, StoreUrlError
    from plumbing.config import ConfigError

    prog = "lanewarden central console"
    try:
        config = load_central(args.config)
    except ConfigError as exc:
        print(f"{prog}: invalid configuration:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    if config.console is None:
        print(f"{prog}: {args.config} has no [console] section", file=sys.stderr)
        return EXIT_CONFIG
    if config.storage.url is None:
        config.storage.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        store = CentralStore.open(config.storage.database_url)
    except StoreUrlError as exc:
        print(f"{prog}: storage.url: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (SQLAlchemyError, OSError) as exc:
        print(f"{prog}: cannot open the database: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        console = Console.from_config(store.engine, config.console)
    except SecretError as exc:
        store.close()
        print(f"{prog}: console.{exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        uvicorn.run(
            create_app(console),
            host=config.console.bind,
            port=config.console.port,
            log_level="info",
            server_header=False,
        )
    finally:
        store.close()
    return 0
