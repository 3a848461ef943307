"""The lane's I/O module over Modbus TCP or Modbus RTU, through pymodbus' sync client.

One request reads the five discrete inputs and the help button when one is
wired (the span from the lowest to the highest address of the map); relays are single-coil writes. Every failure
becomes an :class:`~drivers.digital_io.IOFaultError` naming it: no connection,
no reply within the timeout, a Modbus exception response (with its code), a
short reply. :class:`~drivers.digital_io.IOModule` turns those into events and
reconnects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drivers.config import ModbusMap, ModbusRtuIO, ModbusTcpIO
from drivers.digital_io import IOFaultError, IOModule, ModuleTiming
from drivers.io_logic import Inputs, Output


class ModbusTransport:
    """Reads the inputs and writes the coils of one Modbus unit.

    ``make_client`` returns a fresh, unconnected pymodbus sync client (TCP or
    serial); a new one is made for every connection attempt so that a dead
    socket or port is never reused.
    """

    def __init__(
        self, make_client: Callable[[], Any], unit: int, addresses: ModbusMap, label: str
    ) -> None:
        self.make_client = make_client
        self.unit = unit
        self.map = addresses
        self.label = label
        self._client: Any = None
        self._inputs = (
            addresses.arming_loop,
            addresses.safety_loop,
            addresses.barrier_up,
            addresses.barrier_down,
            addresses.barrier_fault,
        )
        wired = (
            (*self._inputs, addresses.help_button)
            if addresses.help_button is not None
            else self._inputs
        )
        self._first = min(wired)
        self._count = max(wired) - self._first + 1
        self._coils = {
            Output.OPEN: addresses.open_relay,
            Output.CLOSE: addresses.close_relay,
            Output.LIGHT: addresses.lane_light,
        }

    def open(self, wake: Callable[[], None]) -> None:
        client = self.make_client()
        if not client.connect():
            client.close()
            raise IOFaultError(f"cannot connect to {self.label}")
        self._client = client

    def read(self) -> Inputs:
        what = f"reading discrete inputs {self._first}-{self._first + self._count - 1}"
        reply = self._call(
            what,
            lambda c: c.read_discrete_inputs(self._first, count=self._count, device_id=self.unit),
        )
        bits = list(reply.bits)
        if len(bits) < self._count:
            raise IOFaultError(f"short reply {what}: {len(bits)} of {self._count} inputs")
        a, s, up, down, fault = (bool(bits[i - self._first]) for i in self._inputs)
        button = self.map.help_button
        pressed = button is not None and bool(bits[button - self._first])
        return Inputs(arming=a, safety=s, up=up, down=down, fault=fault, help=pressed)

    def write(self, output: Output, on: bool) -> None:
        address = self._coils[output]
        self._call(
            f"writing coil {address} ({output.value})",
            lambda c: c.write_coil(address, on, device_id=self.unit),
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _call(self, what: str, request: Callable[[Any], Any]) -> Any:
        from pymodbus.constants import ExcCodes
        from pymodbus.exceptions import ConnectionException, ModbusException

        if self._client is None:
            raise IOFaultError(f"not connected to {self.label}")
        try:
            reply = request(self._client)
        except ConnectionException as exc:
            raise IOFaultError(f"connection to {self.label} lost {what}: {exc}") from None
        except ModbusException as exc:
            raise IOFaultError(f"no valid reply {what}: {exc}") from None
        except OSError as exc:
            raise IOFaultError(f"I/O error {what}: {exc}") from None
        if reply.isError():
            code = int(getattr(reply, "exception_code", 0) or 0)
            try:
                name = ExcCodes(code).name
            except ValueError:
                name = "unknown"
            raise IOFaultError(f"Modbus exception response {what}: code {code} ({name})")
        return reply


def tcp_transport(config: ModbusTcpIO) -> ModbusTransport:
    def make_client() -> Any:
        from pymodbus.client import ModbusTcpClient

        return ModbusTcpClient(
            config.host, port=config.port, timeout=config.timeout_ms / 1000, retries=0
        )

    label = f"modbus tcp {config.host}:{config.port} unit {config.unit}"
    return ModbusTransport(make_client, config.unit, config.map, label)


def rtu_transport(config: ModbusRtuIO) -> ModbusTransport:
    def make_client() -> Any:
        from pymodbus.client import ModbusSerialClient

        return ModbusSerialClient(
            config.port,
            baudrate=config.baudrate,
            parity=config.parity,
            timeout=config.timeout_ms / 1000,
            retries=0,
        )

    label = f"modbus rtu {config.port} unit {config.unit}"
    return ModbusTransport(make_client, config.unit, config.map, label)


def modbus_module(
    config: ModbusTcpIO | ModbusRtuIO, travel_timeout_s: float = 6.0, pulse_s: float = 0.3
) -> IOModule:
    """The lane's Modbus I/O module, serving loops, an ``io`` barrier and the lane light."""
    transport = tcp_transport(config) if isinstance(config, ModbusTcpIO) else rtu_transport(config)
    timing = ModuleTiming(
        debounce_s=config.debounce_ms / 1000,
        poll_s=config.poll_ms / 1000,
        travel_timeout_s=travel_timeout_s,
        pulse_s=pulse_s,
    )
    return IOModule(transport, timing)
