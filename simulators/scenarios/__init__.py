"""Traffic scenarios: what vehicles and devices do at a lane, as data files technicians write.

A scenario is a TOML file: a ``description`` and ``[[steps]]``, each step ``at``
or ``after`` a time, one ``action`` and that action's keys. README.md beside
this module is the technicians' guide to the format; the models below are its
definition, and validation errors name the step and the key.

Built-in scenarios are the ``.toml`` files beside this module.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from contracts.schema import ConfigModel

Seconds = Annotated[float, Field(ge=0)]
Device = Literal["io", "camera", "barrier", "gateway"]
FaultyDevice = Literal["io", "camera", "barrier"]
Position = Literal["up", "down", "fault"]
Outcome = Literal["report", "fail"]


class StepBase(ConfigModel):
    at: Seconds | None = Field(
        None, title="At", description="Seconds from the start of the scenario when the step begins."
    )
    after: Seconds | None = Field(
        None,
        title="After",
        description="Seconds after the previous step ended when this one begins.",
    )
    say: str = Field("", title="Say", description="What the step stands for, printed when it runs.")

    @model_validator(mode="after")
    def _one_time(self) -> StepBase:
        if self.at is not None and self.after is not None:
            raise ValueError("give either 'at' or 'after', not both")
        return self


class Loops(StepBase):
    action: Literal["loops"] = Field(title="Action", description="Occupy or free the loops.")
    arming: bool | None = Field(
        None, title="Arming loop", description="Vehicle on the arming loop (unchanged if absent)."
    )
    safety: bool | None = Field(
        None, title="Safety loop", description="Vehicle on the safety loop (unchanged if absent)."
    )

    @model_validator(mode="after")
    def _some_loop(self) -> Loops:
        if self.arming is None and self.safety is None:
            raise ValueError("give 'arming' or 'safety' (or both)")
        return self


class Stuck(StepBase):
    action: Literal["stuck"] = Field(
        title="Action", description="Force an I/O module input on or off, or release it."
    )
    input: Literal["arming", "safety", "up_limit", "down_limit", "fault"] = Field(
        title="Input", description="The input to force."
    )
    value: bool | None = Field(
        None, title="Value", description="Forced value; absent releases the input."
    )


class ShowPlate(StepBase):
    action: Literal["show_plate"] = Field(
        title="Action", description="A vehicle with its plate appears in front of the camera."
    )
    plate: str | None = Field(
        None, min_length=1, title="Plate", description="Plate text; any plate if absent."
    )
    image: str | None = Field(
        None, min_length=1, title="Image", description="Path of a plate or vehicle image to show."
    )
    unreadable: bool = Field(
        False, title="Unreadable", description="Smear the plate with dirt so that no one reads it."
    )


class ClearPlate(StepBase):
    action: Literal["clear_plate"] = Field(
        title="Action", description="The vehicle leaves the camera's picture."
    )


class CameraDark(StepBase):
    action: Literal["camera_dark"] = Field(
        title="Action", description="The camera goes dark, or comes back."
    )
    dark: bool = Field(True, title="Dark", description="Dark (true) or back to normal (false).")
    mode: Literal["none", "black"] = Field(
        "none", title="Mode", description="No frames at all (none) or black frames (black)."
    )


class BreakArm(StepBase):
    action: Literal["break_arm"] = Field(
        title="Action", description="The barrier arm breaks, or is repaired."
    )
    broken: bool = Field(True, title="Broken", description="Broken (true) or repaired (false).")


class BarrierReport(StepBase):
    action: Literal["barrier_report"] = Field(
        title="Action", description="The serial barrier controller sends an unsolicited report."
    )
    signal: Literal["vehicle_passed", "arm_broken", "obstacle", "manual_key"] = Field(
        title="Signal", description="What the controller reports."
    )


class SetFaults(StepBase):
    action: Literal["faults"] = Field(
        title="Action", description="Change a simulator's fault injection."
    )
    device: FaultyDevice = Field(title="Device", description="io, camera or barrier.")
    delay_ms: int | None = Field(
        None, ge=0, title="Delay", description="Delay every reply or frame by this much (ms)."
    )
    drop_rate: float | None = Field(
        None, ge=0, le=1, title="Drop rate", description="Share of replies or frames dropped."
    )
    garble_rate: float | None = Field(
        None, ge=0, le=1, title="Garble rate", description="Share of replies or frames garbled."
    )
    silent: bool | None = Field(None, title="Silent", description="Never reply or send a frame.")


class PressHelp(StepBase):
    action: Literal["press_help"] = Field(
        title="Action", description="The driver presses the lane's help button (and lets go)."
    )
    hold: float = Field(0.5, gt=0, title="Hold", description="Seconds the button is held down.")


class TypePlate(StepBase):
    action: Literal["type_plate"] = Field(
        title="Action",
        description="The driver of a car whose plate the lane did not read scans the "
        "pay-by-plate QR code and types the plate (on the payment gateway simulator).",
    )
    lane: str = Field(
        min_length=1, title="Lane", description="The id of the lane the car is stranded at."
    )
    plate: str = Field(
        min_length=1, max_length=16, title="Plate", description="The plate the driver types."
    )
    pay: bool = Field(
        True, title="Pay", description="The driver pays the order the lane starts from it."
    )


class WaitBarrier(StepBase):
    action: Literal["wait_barrier"] = Field(
        title="Action", description="Expect the barrier to reach a position."
    )
    position: Position = Field(title="Position", description="up, down, or fault (a broken arm).")
    within: float = Field(
        gt=0, title="Within", description="Seconds the lane has to get the barrier there."
    )
    on_timeout: Outcome = Field(
        "report",
        title="On timeout",
        description="report: print and go on; fail: print, go on, and exit 1 at the end.",
    )


class BarrierStays(StepBase):
    action: Literal["barrier_stays"] = Field(
        title="Action", description="Expect the barrier to stay in a position for a while."
    )
    position: Position = Field(title="Position", description="up, down, or fault (a broken arm).")
    hold: float = Field(
        alias="for", gt=0, title="For", description="Seconds the barrier must stay there."
    )
    on_change: Outcome = Field(
        "report",
        title="On change",
        description="report: print and go on; fail: print, go on, and exit 1 at the end.",
    )


Step = Annotated[
    Loops
    | Stuck
    | ShowPlate
    | ClearPlate
    | CameraDark
    | BreakArm
    | BarrierReport
    | SetFaults
    | PressHelp
    | TypePlate
    | WaitBarrier
    | BarrierStays,
    Field(discriminator="action"),
]


STEP_MODELS: tuple[type[StepBase], ...] = get_args(get_args(Step)[0])
ACTIONS = tuple(get_args(m.model_fields["action"].annotation)[0] for m in STEP_MODELS)


class Scenario(ConfigModel):
    description: str = Field(
        min_length=1, title="Description", description="What happens, in a sentence or two."
    )
    steps: list[Step] = Field(min_length=1, title="Steps", description="What happens, in order.")


class ScenarioError(Exception):
    """A scenario that cannot be found or is not valid; the message names the step and key."""


def builtin_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".toml")
        for p in resources.files(__name__).iterdir()
        if p.name.endswith(".toml")
    )


def load(name_or_path: str) -> tuple[str, Scenario]:
    """A built-in scenario by name, or a scenario file by path: (name, scenario)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ScenarioError(f"{path}: no such scenario file")
        return path.stem, parse(path.read_text(encoding="utf-8"), str(path))
    if name_or_path not in builtin_names():
        raise ScenarioError(
            f"no scenario {name_or_path!r}; built in: {', '.join(builtin_names())} "
            "(or give the path of a .toml file)"
        )
    text = resources.files(__name__).joinpath(f"{name_or_path}.toml").read_text(encoding="utf-8")
    return name_or_path, parse(text, f"{name_or_path}.toml")


def parse(text: str, origin: str) -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{origin}: not valid TOML: {exc}") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [f"{origin}: {_where(err['loc'], data)}{_message(err)}" for err in exc.errors()]
        raise ScenarioError("\n".join(problems)) from None


def _message(err: ErrorDetails) -> str:
    if err["type"] in {"union_tag_invalid", "union_tag_not_found"}:
        known = ", ".join(ACTIONS)
        if err["type"] == "union_tag_not_found":
            return f"action: missing; expected one of {known}"
        return f"action: unknown action {err['input'].get('action')!r}; expected one of {known}"
    return err["msg"]


def _where(loc: tuple[int | str, ...], data: object) -> str:
    """'step 3 (show_plate): plat: ' from a pydantic error location."""
    if len(loc) < 2 or loc[0] != "steps" or not isinstance(loc[1], int):
        return "".join(f"{part}: " for part in loc)
    index = loc[1]
    steps = data.get("steps") if isinstance(data, dict) else None
    step = steps[index] if isinstance(steps, list) and index < len(steps) else None
    action = step.get("action") if isinstance(step, dict) else None
    label = f"step {index + 1}" + (f" ({action})" if isinstance(action, str) else "")
    keys = [str(part) for part in loc[2:] if part != action]
    return f"{label}: " + "".join(f"{key}: " for key in keys)
