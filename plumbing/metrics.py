"""Serving a process's Prometheus metrics over HTTP, and where to serve them.

The lane daemon and central each keep their metrics on a
:class:`~prometheus_client.CollectorRegistry` of their own (never the library's
global one) and serve it with a :class:`MetricsServer` configured by a
:class:`MetricsConfig` section::

    server = MetricsServer(registry, config.metrics.host, config.metrics.port)
    server.start()          # raises MetricsError when the port cannot be bound
    ...
    server.stop()           # joins the server thread
"""

from __future__ import annotations

import threading
from ipaddress import ip_address
from types import TracebackType
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from pydantic import Field, field_validator

from contracts.schema import ConfigModel
from plumbing import log

logger = log.get(__name__)


class MetricsConfig(ConfigModel):
    """Where a daemon serves its Prometheus metrics (plain HTTP, so loopback by default)."""

    enabled: bool = Field(True, title="Enabled", description="Serve Prometheus metrics over HTTP.")
    host: str = Field(
        "127.0.0.1",
        title="Listen address",
        description="IP address to listen on; 127.0.0.1 keeps the metrics on this computer "
        "(a local Prometheus agent or an SSH tunnel scrapes them).",
    )
    port: int = Field(
        9480,
        ge=0,
        le=65535,
        title="Port",
        description="TCP port of the metrics endpoint (0 picks a free one).",
    )

    @field_validator("host")
    @classmethod
    def _ip_address(cls, value: str) -> str:
        try:
            ip_address(value)
        except ValueError:
            raise ValueError(f"not an IP address: {value!r}") from None
        return value


class MetricsError(Exception):
    """The metrics endpoint cannot be served (e.g. the port is taken)."""


class MetricsServer:
    """Serves ``registry`` at ``http://host:port/metrics`` from one thread."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._registry = registry
        self.host = host
        self._port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the one the OS picked when configured as 0)."""
        return self._port if self._server is None else self._server.server_port

    def start(self) -> None:
        if self._server is not None:
            raise MetricsError("metrics: the server is already started")
        try:
            server, thread = start_http_server(self._port, addr=self.host, registry=self._registry)
        except OSError as exc:
            raise MetricsError(
                f"metrics: cannot listen on {self.host}:{self._port}: {exc.strerror or exc}"
            ) from None
        self._server, self._thread = server, thread
        logger.info("metrics_serving", host=self.host, port=self.port)

    def stop(self) -> None:
        """Stop serving and join the server thread; stopping twice does nothing."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        thread.join()
        self._server = self._thread = None
        logger.info("metrics_stopped", host=self.host)

    def __enter__(self) -> MetricsServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
