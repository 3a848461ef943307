"""``lanewarden sim traffic``: play a traffic scenario against the simulators."""

from __future__ import annotations

import argparse
import sys

from plumbing.cli import Groups


def register(groups: Groups) -> None:
    parser = groups.group("sim").add_parser(
        "traffic",
        help="drive the simulators through vehicles' passages (a scenario file)",
        description="Play a traffic scenario: vehicles on the loops, plates in front of the "
        "camera, broken arms, dark cameras; and check what the lane does with the barrier. "
        "Simulators not given by URL are started in this process (camera, I/O module). Each "
        "step is printed as it runs. Exit status: 0 the scenario ran to its end (unmet "
        "expectations are reported), 1 a step failed or an expectation marked 'fail' was not "
        "met, 2 the scenario is invalid or a simulator cannot be reached. Scenario format: "
        "see simulators/scenarios/README.md.",
    )
    parser.add_argument(
        "--scenario",
        metavar="NAME|FILE",
        help="a built-in scenario (see --list) or the path of a scenario .toml file",
    )
    parser.add_argument("--list", action="store_true", help="list the built-in scenarios")
    parser.add_argument("--io", metavar="URL", help="control URL of `lanewarden sim io`")
    parser.add_argument("--camera", metavar="URL", help="control URL of `lanewarden sim camera`")
    parser.add_argument(
        "--barrier", metavar="URL", help="control URL of `lanewarden sim barrier` (serial lanes)"
    )
    parser.add_argument(
        "--gateway",
        metavar="URL",
        help="URL of `lanewarden sim gateway` (scenarios where a driver types the plate)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="divide every time of the scenario by this, waits included (default 1)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulators.control import ControlClient
    from simulators.running import stop_on_signal
    from simulators.scenarios import Device, ScenarioError, builtin_names, load
    from simulators.traffic import (
        Simulators,
        SimulatorUnreachableError,
        StepFailedError,
        TrafficRunner,
        local_simulators,
        needed,
    )

    if args.list:
        for name in builtin_names():
            print(f"{name}: {load(name)[1].description}")
        return 0
    if not args.scenario:
        print("lanewarden sim traffic: give --scenario NAME|FILE (or --list)", file=sys.stderr)
        return 2
    if args.speed <= 0:
        print(
            f"lanewarden sim traffic: --speed must be positive, got {args.speed}", file=sys.stderr
        )
        return 2
    try:
        name, scenario = load(args.scenario)
    except ScenarioError as exc:
        print(f"invalid scenario:\n{exc}", file=sys.stderr)
        return 2
    options: tuple[tuple[Device, str | None], ...] = (
        ("io", args.io),
        ("camera", args.camera),
        ("barrier", args.barrier),
    )
    given = {device: url for device, url in options if url}
    if args.gateway:
        given["gateway"] = args.gateway.rstrip("/") + "/_sim"  # its control routes
    devices = needed(scenario, serial_barrier="barrier" in given)
    not_started_here = {
        "gateway": "has a driver type the plate at the payment gateway: give --gateway URL "
        "(the URL that `lanewarden sim gateway` prints)",
        "barrier": "acts on the serial barrier: give --barrier URL "
        "(the control URL that `lanewarden sim barrier` prints)",
    }
    for device, missing in not_started_here.items():
        if device in devices and device not in given:
            print(f"scenario {name} {missing}", file=sys.stderr)
            return 2
    with stop_on_signal() as stop:
        try:
            with local_simulators(devices - set(given), sys.stdout) as local:
                urls = {**local, **given}
                sims = Simulators({d: ControlClient(urls[d]) for d in sorted(devices)})
                sims.check()
                runner = TrafficRunner(
                    name, scenario, sims, out=sys.stdout, speed=args.speed, stop=stop
                )
                result = runner.run()
        except SimulatorUnreachableError as exc:
            print(f"lanewarden sim traffic: {exc}", file=sys.stderr)
            return 2
        except StepFailedError as exc:
            print(f"lanewarden sim traffic: {exc}", file=sys.stderr)
            return 1
    if result.interrupted:
        return 130
    return 1 if result.failed else 0
