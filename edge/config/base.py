"""The base of every configuration model.

Every field carries a title and a description (a test walks all models to
enforce it), so that documentation and the console's forms come from the schema.
Unknown keys are errors: a misspelt key must never be silently ignored on a lane.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
