"""The gateway simulator on an HTTP socket, with a scheduler thread for delayed work."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from contracts.gateway.transport import HttpRequest
from plumbing import log
from simulators.gateway.faults import GatewayFaults
from simulators.gateway.scheduler import Scheduler
from simulators.gateway.state import GatewaySim

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
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self.scheduler.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="gateway-sim-http",
            daemon=True,
        )
        self._thread.start()
        logger.info("gateway_sim_started", url=self.url)

    def stop(self) -> None:
        self._stopping.set()
        self.scheduler.stop()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        logger.info("gateway_sim_stopped")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("gateway_http", line=format % args)

            def _dispatch(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = HttpRequest(method, self.path, headers, self.rfile.read(length))
                api = not self.path.startswith("/_sim/")
                latency = server.sim.faults.latency_ms / 1000 if api else 0
                if latency and server._stopping.wait(latency):
                    return
                answer = server.sim.handle(request)
                if answer.hold:
                    logger.info("gateway_timeout_simulated", method=method, path=self.path)
                    server._stopping.wait(server.hold_s)
                    return
                data = json.dumps(answer.payload, ensure_ascii=False).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
