"""Configuration of each device kind, selected by its ``type`` field.

Each model's ``type`` literal is the only place its string is written: the
builders in :mod:`drivers.factory` are keyed by the model class. The lane daemon
builds drivers from these models and never branches on hardware presence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from pydantic import Field, model_validator

from contracts.schema import ConfigModel


class ModbusMap(ConfigModel):
    """Addresses on the I/O module; the defaults are ARCHITECTURE.md's map."""

    arming_loop: int = Field(
        0,
        ge=0,
        title="Arming loop input",
        description="Discrete input: vehicle in front of the barrier.",
    )
    safety_loop: int = Field(
        1,
        ge=0,
        title="Safety loop input",
        description="Discrete input: vehicle under or after the barrier.",
    )
    barrier_up: int = Field(
        2, ge=0, title="Up limit input", description="Discrete input: barrier up limit switch."
    )
    barrier_down: int = Field(
        3, ge=0, title="Down limit input", description="Discrete input: barrier down limit switch."
    )
    barrier_fault: int = Field(
        4, ge=0, title="Fault input", description="Discrete input: barrier fault."
    )
    help_button: int | None = Field(
        None,
        ge=0,
        title="Help button input",
        description="Discrete input: the driver's help button, when the lane has one wired "
        "(e.g. 5); absent: no help button.",
    )
    open_relay: int = Field(
        0, ge=0, title="Open relay coil", description="Coil: open barrier relay."
    )
    close_relay: int = Field(
        1, ge=0, title="Close relay coil", description="Coil: close barrier relay."
    )
    lane_light: int = Field(
        2, ge=0, title="Lane light coil", description="Coil: lane light green (red when off)."
    )


class _ModbusModule(ConfigModel):
    """What every Modbus I/O module has, whatever carries its frames."""

    unit: int = Field(1, ge=0, le=247, title="Unit id", description="Modbus unit (slave) id.")
    map: ModbusMap = Field(
        default_factory=ModbusMap, title="Address map", description="Which input and coil is what."
    )
    debounce_ms: int = Field(
        100, ge=0, title="Debounce", description="A loop change counts once stable this long (ms)."
    )
    poll_ms: int = Field(
        20, ge=5, title="Poll period", description="How often the inputs are read (ms)."
    )
    timeout_ms: int = Field(
        500, ge=10, title="Timeout", description="Reply timeout of one request (ms)."
    )


class ModbusTcpIO(_ModbusModule):
    type: Literal["modbus_tcp"] = Field(
        title="Type", description="Ethernet I/O module over Modbus TCP."
    )
    host: str = Field(title="Host", description="Address of the I/O module.")
    port: int = Field(502, ge=1, le=65535, title="Port", description="Modbus TCP port.")


class ModbusRtuIO(_ModbusModule):
    type: Literal["modbus_rtu"] = Field(
        title="Type", description="RS-485 I/O module over Modbus RTU."
    )
    port: str = Field(title="Serial port", description="Device path, e.g. /dev/ttyUSB0.")
    baudrate: int = Field(9600, title="Baud rate", description="Serial speed.")
    parity: Literal["N", "E", "O"] = Field("N", title="Parity", description="N, E or O.")


class GpioPins(ConfigModel):
    """BCM pin numbers of the lane's signals wired to the board's GPIO header."""

    arming_loop: int = Field(
        ge=0, le=27, title="Arming loop pin", description="Input: arming loop detector output."
    )
    safety_loop: int = Field(
        ge=0, le=27, title="Safety loop pin", description="Input: safety loop detector output."
    )
    barrier_up: int = Field(
        ge=0, le=27, title="Up limit pin", description="Input: up limit switch."
    )
    barrier_down: int = Field(
        ge=0, le=27, title="Down limit pin", description="Input: down limit switch."
    )
    barrier_fault: int | None = Field(
        None,
        ge=0,
        le=27,
        title="Fault pin",
        description="Input: barrier fault output, when the barrier has one.",
    )
    help_button: int | None = Field(
        None,
        ge=0,
        le=27,
        title="Help button pin",
        description="Input: the driver's help button, when the lane has one.",
    )
    open_relay: int = Field(ge=0, le=27, title="Open relay pin", description="Output: open relay.")
    close_relay: int = Field(
        ge=0, le=27, title="Close relay pin", description="Output: close relay."
    )
    lane_light: int = Field(
        ge=0, le=27, title="Lane light pin", description="Output: lane light green (red when off)."
    )

    @model_validator(mode="after")
    def _one_signal_per_pin(self) -> GpioPins:
        seen: dict[int, str] = {}
        for name, pin in self.model_dump().items():
            if pin is None:
                continue
            if pin in seen:
                raise ValueError(f"pin {pin} is used for both {seen[pin]} and {name}")
            seen[pin] = name
        return self


class GpioWiring(ConfigModel):
    """What every GPIO I/O module has, whichever GPIO library drives its pins."""

    pins: GpioPins = Field(title="Pins", description="Which BCM pin is what.")
    inputs_active_low: bool = Field(
        True,
        title="Inputs active low",
        description="An input is on when its pin reads low (dry contacts to ground, pull-ups on).",
    )
    relays_active_low: bool = Field(
        False,
        title="Relays active low",
        description="A relay is energised by driving its pin low (common on relay boards).",
    )
    debounce_ms: int = Field(
        100, ge=0, title="Debounce", description="A loop change counts once stable this long (ms)."
    )
    poll_ms: int = Field(
        20,
        ge=5,
        title="Poll period",
        description="Inputs are read on every edge and at least this often (ms).",
    )


class GpioIO(GpioWiring):
    type: Literal["gpio"] = Field(
        title="Type",
        description="Loops, limit switches and relays on a Raspberry Pi's GPIO (needs the `rpi` extra).",
    )


class MockGpioIO(GpioWiring):
    type: Literal["gpio_mock"] = Field(
        title="Type",
        description="The GPIO driver on an in-memory GPIO with nothing wired, for running a lane "
        "without a Raspberry Pi: inputs rest at their pull level (loops free, no limit "
        "switch on), relays only change pin levels.",
    )


IOModuleConfig = Annotated[
    ModbusTcpIO | ModbusRtuIO | GpioIO | MockGpioIO, Field(discriminator="type")
]


class IOBarrier(ConfigModel):
    type: Literal["io"] = Field(
        title="Type",
        description="Barrier driven by the relays of the lane's I/O module (Modbus or GPIO), limit switches as feedback.",
    )
    travel_timeout_ms: int = Field(
        6000,
        ge=100,
        title="Travel timeout",
        description="An arm that has not reached its limit by then is in fault (ms).",
    )
    pulse_ms: int = Field(
        300,
        ge=20,
        title="Relay pulse",
        description="How long the open or close relay is energised for one command (ms).",
    )


class SerialBarrier(ConfigModel):
    type: Literal["serial"] = Field(
        title="Type", description="RS-485 barrier controller speaking ARCHITECTURE.md's frames."
    )
    port: str = Field(title="Serial port", description="Device path, e.g. /dev/ttyUSB1.")
    baudrate: int = Field(9600, title="Baud rate", description="Serial speed (8N1).")
    address: str = Field(
        "01", pattern=r"^[0-9A-F]{2}$", title="Address", description="Two hex characters."
    )
    reply_timeout_ms: int = Field(
        200,
        ge=10,
        title="Reply timeout",
        description="A command unanswered this long is retried (ms).",
    )
    retries: int = Field(
        3, ge=0, title="Retries", description="Retries before the barrier is in fault."
    )
    poll_ms: int = Field(
        150,
        ge=0,
        title="Status poll period",
        description="How often the controller is asked for the arm's position (ms); 0 turns polling off. With the default timeout and retries a silent controller is in fault within a second.",
    )
    reconnect_ms: int = Field(
        500,
        ge=50,
        title="Reconnect period",
        description="How often a vanished serial port is opened again (ms).",
    )


BarrierConfig = Annotated[IOBarrier | SerialBarrier, Field(discriminator="type")]


class IOLoops(ConfigModel):
    type: Literal["io"] = Field(
        title="Type",
        description="Loop detector outputs wired to the lane's I/O module (Modbus or GPIO).",
    )


LoopsConfig = Annotated[IOLoops, Field(discriminator="type")]


class OpenCVCamera(ConfigModel):
    type: Literal["opencv"] = Field(title="Type", description="Camera read through OpenCV.")
    source: str = Field(
        title="Source",
        description="rtsp:// or http:// URL, a USB device index such as `0`, or a video file path.",
    )
    reconnect_max_s: float = Field(
        10.0,
        gt=0,
        title="Reconnect back-off cap",
        description="Longest wait between reconnect attempts (s).",
    )
    frames_per_trigger: int = Field(
        3,
        ge=1,
        le=10,
        title="Frames per trigger",
        description="Frames handed to recognition for one vehicle.",
    )
    frames_before_trigger: int = Field(
        1,
        ge=0,
        le=10,
        title="Frames before trigger",
        description="How many of the frames per trigger are taken from just before it; the rest are the next frames.",
    )
    trigger_wait_ms: int = Field(
        1000,
        ge=0,
        title="Trigger wait",
        description="Longest wait for the frames after a trigger (ms); fewer frames are returned after it.",
    )
    ring_size: int = Field(
        8,
        ge=2,
        le=100,
        title="Frame ring size",
        description="How many of the newest frames are kept in memory.",
    )
    reconnect_min_s: float = Field(
        0.5,
        gt=0,
        title="Reconnect back-off start",
        description="First wait before reconnecting (s); it doubles on each failure up to the cap.",
    )
    open_timeout_ms: int = Field(
        5000,
        ge=100,
        title="Open timeout",
        description="Longest wait for a network stream to open (ms); a camera that never answers is down after it.",
    )
    read_timeout_ms: int = Field(
        3000,
        ge=100,
        title="Read timeout",
        description="Longest wait for one frame from a network stream before reconnecting (ms).",
    )
    stale_after_ms: int = Field(
        2000,
        ge=100,
        title="Frame age limit",
        description="The camera is down when its newest frame is older than this (ms), or dark for this long.",
    )
    dark_level: int = Field(
        8,
        ge=0,
        le=255,
        title="Dark level",
        description="A frame whose mean brightness (0-255) is below this is dark (lens covered, lamp dead); 0 disables the check.",
    )


CameraConfig = Annotated[OpenCVCamera, Field(discriminator="type")]


class SerialDisplay(ConfigModel):
    type: Literal["serial"] = Field(
        title="Type", description="LED message display on a serial line."
    )
    port: str = Field(title="Serial port", description="Device path.")
    baudrate: int = Field(9600, title="Baud rate", description="Serial speed.")
    rows: int = Field(
        4, ge=1, le=16, title="Rows", description="Lines of text the display shows at once."
    )
    reply_timeout_ms: int = Field(
        500,
        ge=10,
        title="Reply timeout",
        description="A message the display has not acknowledged this long is sent again (ms).",
    )
    retries: int = Field(
        1, ge=0, title="Retries", description="Resends of an unacknowledged message."
    )


DisplayConfig = Annotated[SerialDisplay, Field(discriminator="type")]


def type_key(model: type[ConfigModel]) -> str:
    """The ``type`` string of a device config model, read from its ``Literal``."""
    (key,) = get_args(model.model_fields["type"].annotation)
    if not isinstance(key, str):
        raise TypeError(f"{model.__name__}.type is not a one-string Literal")
    return key


@dataclass(frozen=True)
class DeviceSections:
    """The device sections of a lane's config file: all the drivers are built from."""

    loops: LoopsConfig
    barrier: BarrierConfig
    camera: CameraConfig
    io: IOModuleConfig | None = None
    display: DisplayConfig | None = None
