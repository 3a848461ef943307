"""``lanewarden sim io``: the simulated I/O module with a barrier and two loops."""

from __future__ import annotations

import argparse

from plumbing.cli import Groups
from simulators.faults import add_fault_arguments


def register(groups: Groups) -> None:
    parser = groups.group("sim").add_parser(
        "io",
        help="Modbus I/O module (TCP, and RTU on a serial port) with barrier physics",
        description="Serve the lane I/O module's Modbus map (ARCHITECTURE.md) with a simulated "
        "barrier and loops. Prints the Modbus address and the control URL first; "
        "runs until SIGINT or SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5020, help="Modbus TCP port (0: any free)")
    parser.add_argument("--rtu", metavar="SERIAL_PORT", help="also serve Modbus RTU on this port")
    parser.add_argument("--baudrate", type=int, default=9600, help="RTU serial speed")
    parser.add_argument(
        "--control-port", type=int, default=0, help="JSON control endpoint port (0: any free)"
    )
    parser.add_argument("--rise-s", type=float, default=1.5, help="time for the arm to rise")
    parser.add_argument("--fall-s", type=float, default=1.5, help="time for the arm to fall")
    add_fault_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from plumbing import log
    from simulators.control import ControlServer
    from simulators.faults import faults_from_args
    from simulators.io_module import BarrierWorld, IOModuleSimulator
    from simulators.running import announce, stop_on_signal

    logger = log.get("simulators.io_module")
    try:
        world = BarrierWorld(rise_s=args.rise_s, fall_s=args.fall_s)
        faults = faults_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", flush=True)
        return 2
    simulator = IOModuleSimulator(
        world, faults, host=args.host, port=args.port, rtu_port=args.rtu, baudrate=args.baudrate
    )
    with stop_on_signal() as stop:
        try:
            simulator.start()
        except OSError as exc:
            print(f"error: cannot serve Modbus on {args.host}:{args.port}: {exc}", flush=True)
            return 1
        control = ControlServer(simulator.routes(), port=args.control_port)
        control.start()
        places = [("I/O module, Modbus TCP", simulator.address)]
        if args.rtu:
            places.append((f"I/O module, Modbus RTU {args.baudrate} 8N1", args.rtu))
        announce(*places, ("control", control.url))
        logger.info("sim_io_running", modbus=simulator.address, control=control.url)
        try:
            stop.wait()
        finally:
            control.stop()
            simulator.stop()
    logger.info("sim_io_stopped")
    return 0
