"""A simulator command's first lines, read as a script would: where to reach it, before any log line."""

from __future__ import annotations

import subprocess


def addresses(proc: subprocess.Popen[str], *whats: str) -> list[str]:
    """The addresses on the first lines of ``proc``'s output, one ``what: address`` line each.

    Start ``proc`` with ``stderr=subprocess.STDOUT``: a log line before the
    addresses then fails here. Each address is its line's last word, and clean.
    """
    assert proc.stdout is not None
    found = []
    for what in whats:
        line = proc.stdout.readline().rstrip("\n")
        assert line.startswith(f"{what}: "), f"expected {what!r}: ..., got {line!r}"
        address = line.split()[-1]
        assert address == line.removeprefix(f"{what}: "), line
        assert not any(ch in address for ch in "\"',{}"), line
        found.append(address)
    return found
