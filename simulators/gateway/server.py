"""The gateway simulator on an HTTP socket, with a scheduler thread for delayed work."""

from __future__ import annotations

import threading

from contracts.gateway.transport import HttpRequest
from plumbing import log
from simulators.gateway.faults import GatewayFaults
from simulators.gateway.scheduler import Scheduler
from simulators.gateway.state import GatewaySim
from simulators.json_http import Answer, JsonHttpServer, Request

logger = log.get(__name__)


class GatewayServer:
    """``GatewaySim`` on an HTTP socket, with the scheduler for delayed work.

    A request the faults say not to answer is held open until ``hold_s`` passes
    or the server stops; the lane's read timeout ends it first.
    """

    def __init__(
        self,
        *,
        secret: bytes,
        merchant_id: str,
        faults: GatewayFaults | None = None,
        callback_url: str | None = None,
        seed: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        hold_s: float = 60.0,
    ) -> None:
        self.scheduler = Scheduler()
        self.sim = GatewaySim(
            secret=secret,
            merchant_id=merchant_id,
            faults=faults,
            callback_url=callback_url,
            later=self.scheduler.later,
            seed=seed,
        )
        self.hold_s = hold_s
        self._stopping = threading.Event()
        self._http = JsonHttpServer(
            self.answer, name="gateway-sim-http", host=host, port=port, wait_for_requests=True
        )

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> None:
        self.scheduler.start()
        self._http.start()
        logger.info("gateway_sim_started", url=self.url)

    def stop(self) -> None:
        self._stopping.set()
        self.scheduler.stop()
        self._http.stop()
        logger.info("gateway_sim_stopped")

    def answer(self, request: Request) -> Answer | None:
        """The simulator's answer after the faults' latency; none for a simulated timeout."""
        api = not request.target.startswith("/_sim/")
        latency = self.sim.faults.latency_ms / 1000 if api else 0
        if latency and self._stopping.wait(latency):
            return None
        answer = self.sim.handle(
            HttpRequest(request.method, request.target, request.headers, request.body)
        )
        if answer.hold:
            logger.info("gateway_timeout_simulated", method=request.method, path=request.target)
            self._stopping.wait(self.hold_s)
            return None
        return Answer(answer.status, answer.payload)
