"""The ``lanewarden`` command.

One entry point; every package adds its own subcommands through an entry point
of the group ``lanewarden.commands`` (pyproject.toml), so this module names no
other package and a new side (central) registers itself. Each entry point is a
``register(groups: Groups) -> None`` function in a small command module, which must
not import heavy dependencies (OpenCV, ONNX, pymodbus) at module level, so that
``lanewarden --help`` stays instant.

A machine installs only its side's extra (a lane ``.[edge]``, central ``.[central]``), so a
command module may need a dependency that is not there: its commands are left out, and the
help says which and what to install. A module of the package itself that is missing (an
entry point naming a module that moved) is a broken install, and fails loudly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points, packages_distributions

from plumbing import log

Handler = Callable[[argparse.Namespace], int]

ENTRY_POINT_GROUP = "lanewarden.commands"

EXIT_NOT_INSTALLED = 78
"""EX_CONFIG: a command's side is not installed; restarting (systemd) will not help."""

GROUP_HELP: dict[str, str] = {
    "config": "validate lane, plaza, network and tariff configuration files",
    "fees": "price a passage with the fee engine",
    "store": "inspect and verify a lane's SQLite store",
    "plates": "read licence plates from images",
    "bench": "measure speed and accuracy; prints a table, --json FILE writes figures",
    "sim": "hardware simulators that speak the real protocols",
    "edge": "the lane daemon",
    "central": "the central aggregator",
}


class Groups:
    """Where command modules attach their parsers.

    ``group("bench")`` returns the sub-parser collection of ``lanewarden bench``,
    creating it on first use; ``top`` holds the top-level commands
    (``lanewarden demo``, ``lanewarden diag``).
    """

    def __init__(self, top: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        self.top = top
        self._groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}

    def group(self, name: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        if name not in self._groups:
            parser = self.top.add_parser(name, help=GROUP_HELP[name], description=GROUP_HELP[name])
            sub = parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)
            self._groups[name] = sub
        return self._groups[name]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lanewarden",
        description="Controller for unattended toll lanes and parking gates.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="lowest level of log line written to stderr (default: info)",
    )
    parser.add_argument(
        "--log-format",
        default="auto",
        choices=["auto", "json", "console"],
        help="JSON lines (journald) or readable console; auto picks console on a terminal",
    )
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups = Groups(top)
    missing: dict[str, list[str]] = {}
    # By name, so that the help lists commands in the same order however they were installed.
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            register: Callable[[Groups], None] = entry.load()
        except ModuleNotFoundError as exc:
            dependency = _third_party(exc)
            if dependency is None:
                raise
            missing.setdefault(dependency, []).append(entry.name)
            continue
        register(groups)
    if missing:
        parser.epilog = (
            "not installed here (install that side's extra, e.g. lanewarden[edge]):\n"
            + "\n".join(
                f"  {', '.join(names)}: needs {module}" for module, names in sorted(missing.items())
            )
        )
    return parser


def _third_party(exc: ModuleNotFoundError) -> str | None:
    """The missing module when it is a dependency; None when it is one of lanewarden's own."""
    name = (exc.name or "").split(".")[0]
    ours = packages_distributions().get(str(__package__), [])  # plumbing, even as __main__
    if not name or set(ours) & set(packages_distributions().get(name, [])):
        return None
    return name


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    log.configure(level=args.log_level, fmt=args.log_format)
    handler: Handler = args.func
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as exc:
        # A command that imports its side's dependencies when it runs (central's SQLAlchemy).
        dependency = _third_party(exc)
        if dependency is None:
            raise
        print(
            f"lanewarden: this command needs {dependency!r}, which is not installed here "
            "(install its side's extra, e.g. lanewarden[central])",
            file=sys.stderr,
        )
        return EXIT_NOT_INSTALLED


if __name__ == "__main__":
    sys.exit(main())
