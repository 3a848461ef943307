"""The ways a report groups a day (light: the command's parser reads it at start-up)."""

from __future__ import annotations

from typing import Literal, get_args

By = Literal["plaza", "lane", "class", "method", "hour", "day"]
BY: tuple[By, ...] = get_args(By)
