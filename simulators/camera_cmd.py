"""``lanewarden sim camera``: the lane camera as an HTTP MJPEG stream."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from plumbing.cli import Groups
from simulators.faults import add_fault_arguments, faults_from_args


def register(groups: Groups) -> None:
    parser = groups.group("sim").add_parser(
        "camera",
        help="an HTTP MJPEG camera showing the lane and the plates of vehicles",
        description="Serve an HTTP MJPEG stream (multipart/x-mixed-replace) that OpenCV opens: "
        "an empty lane, or a vehicle with its plate while one is present. Prints the stream "
        "URL on the first line and the control URL on the second, each the line's last word. Plates come from --images "
        "(labels.csv picks the image of a plate) or are rendered from text. Control: GET "
        "/state, POST /vehicle {plate?, image?, unreadable?}, DELETE /vehicle, POST /dark "
        "{dark, mode?}, POST /faults {...}. Runs until SIGINT or SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on")
    parser.add_argument("--port", type=int, default=8081, help="stream port (default 8081)")
    parser.add_argument(
        "--control-port", type=int, default=0, help="control port (default: any free port)"
    )
    parser.add_argument("--fps", type=float, default=10.0, help="frames per second")
    parser.add_argument(
        "--images",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of plate crops or vehicle photos (optional labels.csv: file,plate)",
    )
    parser.add_argument(
        "--font",
        type=Path,
        default=None,
        metavar="FILE",
        help="TrueType/OpenType font for plates rendered from text (default: the bundled plate "
        "glyphs; a system CJK font, e.g. `fc-match -f '%%{file}' :lang=zh`, draws any character)",
    )
    add_fault_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulators.camera import CameraSimulator
    from simulators.running import announce, stop_on_signal

    try:
        sim = CameraSimulator(
            host=args.host,
            port=args.port,
            fps=args.fps,
            images=args.images,
            faults=faults_from_args(args),
            control_port=args.control_port,
            seed=args.seed,
            font=args.font,
        )
    except (ValueError, OSError) as exc:
        print(f"lanewarden sim camera: {exc}", file=sys.stderr)
        return 2
    with stop_on_signal() as stop:
        announce(("camera stream (MJPEG)", sim.stream_url), ("control", sim.control_url))
        sim.start()
        try:
            stop.wait()
        finally:
            sim.stop()
    return 0
