"""The base of the record models and the error that names each bad field."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError


class RecordError(ValueError):
    """A record is invalid; ``problems`` holds one ``field: what is wrong`` line per fault."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"invalid {what}: " + "; ".join(problems))


def problems(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error["loc"])
        msg = error["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}" if loc else msg)
    return lines


class RecordModel(BaseModel):
    # Vocabulary fields hold their plain string values, so that records built from
    # stored rows (model_construct) and validated ones compare and serialise alike.
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)
    what: ClassVar[str] = "record"

    @classmethod
    def build(cls, **fields: Any) -> Self:
        """Construct and validate, raising :class:`RecordError` that names each bad field."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise RecordError(cls.what, problems(exc)) from None

    def canonical(self) -> dict[str, Any]:
        """Every field as JSON values in canonical form."""
        return self.model_dump(mode="json")
