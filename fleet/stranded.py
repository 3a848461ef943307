"""Who helps a car stranded at the demo's exit (its plate not read): the driver, or an operator.

The exit runs with ``unreadable_plate = "offer_help"``: the barrier stays down and
the display shows the pay-by-plate QR code. :class:`StrandedHelp` plays the two
ways out: the driver types the plate on the gateway's page (the gateway
simulator's pay-by-plate flow), or an operator reads the plate on the camera
and sends ``charge_plate`` over the lane's control socket, exactly what
``lanewarden edge ctl charge-plate`` sends.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from contracts.commands import new_command
from edge.daemon.control import send
from simulators.gateway.state import GatewaySim

Helper = Literal["driver", "operator"]
OPERATOR = "op-demo"
TYPING_S = 2.0  # the driver scans the code and types the plate
OPERATOR_S = 3.0  # the operator answers the assistance alarm and reads the plate


class StrandedHelp:
    def __init__(
        self, gateway: GatewaySim, lane_id: str, control_socket: Path, stop: threading.Event
    ) -> None:
        self.gateway = gateway
        self.lane_id = lane_id
        self.control_socket = control_socket
        self.stop = stop

    def by(self, helper: Helper, plate: str) -> str:
        """Help the car showing ``plate`` out; what was done, for the vehicle's line."""
        if helper == "driver":
            return self.driver_types(plate)
        return self.operator_types(plate)

    def driver_types(self, plate: str) -> str:
        if self.stop.wait(TYPING_S):
            return "interrupted"
        typed = self.gateway.type_plate(self.lane_id, plate)
        return f"the driver typed {typed.plate} on the pay-by-plate page"

    def operator_types(self, plate: str) -> str:
        if self.stop.wait(OPERATOR_S):
            return "interrupted"
        command = new_command(
            "charge_plate",
            operator_id=OPERATOR,
            reason="read the plate on the exit camera",
            now=datetime.now(UTC),
            plate=plate,
        )
        try:
            (result,) = asyncio.run(send(self.control_socket, [command]))
        except (OSError, TimeoutError) as exc:
            return f"operator {OPERATOR} could not reach the lane: {exc}"
        if not result.ok:
            return f"operator {OPERATOR}: charge-plate refused: {result.error}"
        return f"operator {OPERATOR} sent `lanewarden edge ctl charge-plate {plate}`"
