"""The base of every configuration and file schema model.

Every field carries a title and a description (a test walks all models to
enforce it), so that documentation and the console's forms come from the schema.
Unknown keys are errors: a misspelt key must never be silently ignored on a lane.

It lives here, not beside the loader in :mod:`plumbing.config`, because the file
schemas two sides read (tariffs, rounding rules) are contracts and contracts import
nothing but the standard library and pydantic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
