"""Pay by plate at the lane: the plate a driver whose plate was not read types on the gateway's page.

While the machine waits for help (``WatchPlateOrders``), the shell shows the QR
code of the gateway's pay-by-plate page for the lane and asks the gateway for
the lane's plate orders on the QR query schedule. The first one typed since the
vehicle was stranded becomes a ``PlateTyped`` event; its id goes with the
payment request, so the QR order is started from it and shows on the driver's
phone. A plate order typed before this vehicle was stranded belongs to another
(gone) vehicle and is never taken.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from contracts.gateway.protocol import PlateOrder
from edge.payments.gateway import GatewayClient, GatewayError
from plumbing import log

logger = log.get(__name__)

CLOCK_SKEW_S = 5.0
"""Plate orders typed up to this long before the stranding count (the gateway's clock may lag)."""


async def next_plate_order(
    client: GatewayClient,
    lane_id: str,
    *,
    since: float,
    waiting: Callable[[], bool],
    pause_s: float,
) -> PlateOrder | None:
    """The first plate order for ``lane_id`` typed at or after ``since``; None once not ``waiting()``."""
    while waiting():
        try:
            orders = await asyncio.to_thread(client.plate_orders, lane_id)
        except GatewayError as exc:
            logger.warning("plate_orders_unavailable", lane_id=lane_id, cause=str(exc))
            orders = []
        fresh = sorted(
            (o for o in orders if o.typed_at >= since - CLOCK_SKEW_S), key=lambda o: o.typed_at
        )
        if fresh and waiting():
            return fresh[0]
        await asyncio.sleep(pause_s)
    return None
