"""``lanewarden central console --config FILE``: serve the supervisor console (uvicorn).

Registered by :func:`central.commands.run.register`, so no new entry point is needed.
"""

from __future__ import annotations

import argparse
import sys

from central.commands.opening import (
    EXIT_CONFIG,
    EXIT_FAILED,
    CommandFailedError,
    fail,
    load_config,
    open_store,
)
from plumbing.cli import Groups


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

    from central.console.app import create_app
    from central.console.context import Console
    from central.console.sessions import SecretError

    prog = "lanewarden central console"
    try:
        config = load_config(prog, args.config)
        if config.console is None:
            raise fail(prog, f"{args.config} has no [console] section", EXIT_CONFIG)
        store = open_store(prog, config)
    except CommandFailedError as exc:
        return exc.code
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
