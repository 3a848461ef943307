"""The lane daemon's share of the CPUs as its systemd unit gives it, for the benches.

On a lane computer systemd runs every service in a cgroup of its own and shares
the CPUs between them by ``CPUWeight=`` (100 unless a unit says otherwise). The
lane's unit (``systemd/lanewarden-edge@.service``) sets :data:`LANE_CPU_WEIGHT`:
when the computer is busy (evidence encoding, sync, another lane) the lane's
control loop and its plate reads get that many times a default service's share,
so a vehicle's read is not slowed as much as everything else. A second lane on
the same computer is the same unit with the same weight: lanes share equally.

The benches start the lane, its simulators and the CPU burners each in a session
of their own, and the kernel's autogroup shares the CPUs between sessions as
cgroups share them between units. A session's weight is set by its autogroup
nice (``/proc/PID/autogroup``): each nice step is a factor of 1.25 in weight,
so :func:`autogroup_nice` picks the step nearest the unit's weight.
:func:`run_as_unit` applies it to a lane process. Raising a session above the
default needs ``CAP_SYS_NICE`` (root) or a ``RLIMIT_NICE`` that allows it;
without it the lane runs at the default weight, as the burners do, and
:class:`Priority` says so, so that a figure is never read as the unit's when it
was not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

#: The lane unit's ``CPUWeight=`` (tests/edge/daemon/test_daemon_systemd.py keeps the unit file to it).
LANE_CPU_WEIGHT = 300
#: systemd's weight of a unit that sets none, and the kernel's of nice 0.
DEFAULT_CPU_WEIGHT = 100
#: The kernel's weight ratio between neighbouring nice values.
NICE_STEP = 1.25
MIN_NICE, MAX_NICE = -20, 19


@dataclass(frozen=True)
class Priority:
    """The CPU weight a lane process ran with, and how it got it, in words."""

    weight: int
    """Against DEFAULT_CPU_WEIGHT for every other process (the burners, the simulators)."""
    how: str


def autogroup_nice(weight: int) -> int:
    """The autogroup nice whose weight is nearest ``weight`` (systemd's 1-10000, 100 is nice 0)."""
    if not 1 <= weight <= 10_000:
        raise ValueError(f"a CPU weight is 1 to 10000 (systemd's CPUWeight=), got {weight}")
    nice = round(-math.log(weight / DEFAULT_CPU_WEIGHT, NICE_STEP))
    return max(MIN_NICE, min(MAX_NICE, nice))


def nice_weight(nice: int) -> int:
    """The weight of autogroup nice ``nice``, on systemd's scale (nice 0 is 100)."""
    return round(DEFAULT_CPU_WEIGHT * NICE_STEP**-nice)


def run_as_unit(
    pid: int,
    weight: int = LANE_CPU_WEIGHT,
    proc: Path = Path("/proc"),
    cgroups: Path = Path("/sys/fs/cgroup"),
) -> Priority:
    """Give process ``pid`` (a session leader) the unit's CPU weight, where this process may.

    The session's autogroup nice is set once, for all its threads, those it
    starts later included. The answer says what the lane ran with.
    """
    nice = autogroup_nice(weight)
    unit = f"the unit's CPUWeight={weight}"
    default = f"default CPU weight {DEFAULT_CPU_WEIGHT}, as every other process here"
    why_not = _autogroup_unused(pid, proc, cgroups)
    if why_not is not None:
        return Priority(DEFAULT_CPU_WEIGHT, f"{default}: {unit} not applied ({why_not})")
    try:
        (proc / str(pid) / "autogroup").write_text(f"{nice}\n", encoding="ascii")
    except PermissionError:
        return Priority(
            DEFAULT_CPU_WEIGHT,
            f"{default}: {unit} not applied (raising a session's share needs CAP_SYS_NICE "
            "or RLIMIT_NICE; run as root to measure the lane as a site runs it)",
        )
    except OSError as exc:
        return Priority(DEFAULT_CPU_WEIGHT, f"{default}: {unit} not applied ({exc.strerror})")
    return Priority(
        nice_weight(nice),
        f"CPU weight {nice_weight(nice)} against {DEFAULT_CPU_WEIGHT} for every other "
        f"process: {unit}, as the lane session's autogroup nice {nice}",
    )


def _autogroup_unused(pid: int, proc: Path, cgroups: Path) -> str | None:
    """Why the kernel would not share the CPUs by autogroup for ``pid``; None when it does.

    Autogroups are used only when they are switched on and the process is in the
    root CPU cgroup: a CPU cgroup of its own (cgroup v1's ``cpu`` hierarchy, or a
    cgroup v2 group with the ``cpu`` controller) overrides them.
    """
    try:
        switch = (proc / "sys/kernel/sched_autogroup_enabled").read_text().strip()
        lines = (proc / str(pid) / "cgroup").read_text().splitlines()
    except OSError as exc:
        return f"no autogroup here: {exc.strerror}"
    if switch != "1":
        return "the kernel's autogroup is switched off"
    groups = {parts[1]: parts[2] for line in lines if len(parts := line.split(":", 2)) == 3}
    v1 = [path for controllers, path in groups.items() if "cpu" in controllers.split(",")]
    group = v1[0] if v1 else _v2_cpu_group(groups.get("", "/"), cgroups)
    if group != "/":
        return f"the process is in CPU cgroup {group}, which overrides autogroups"
    return None


def _v2_cpu_group(path: str, cgroups: Path) -> str:
    """The cgroup v2 group whose CPU share ``path``'s processes run in: the nearest of
    it and its ancestors with the ``cpu`` controller, or the root."""
    here = PurePosixPath(path)
    while here != PurePosixPath("/"):
        try:
            controllers = (cgroups / str(here).lstrip("/") / "cgroup.controllers").read_text()
        except OSError:
            controllers = ""
        if "cpu" in controllers.split():
            return str(here)
        here = here.parent
    return "/"
