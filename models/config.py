"""Configuration of a lane's plate reader."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.config.base import ConfigModel

Region = Literal["cn", "us", "eu", "br"]


class RecognitionConfig(ConfigModel):
    region: Region = Field(title="Region", description="Plate grammar to apply: cn, us, eu or br.")
    province: str | None = Field(
        None,
        title="Local province",
        description="Chinese lanes: the local province character (e.g. 皖), weighed when the reader is unsure of the first character.",
    )
    threshold: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        title="Operating threshold",
        description="Reads with a lower confidence count as unreadable and go to the lane's rule.",
    )
    roi: tuple[int, int, int, int] | None = Field(
        None,
        title="Region of interest",
        description="x1, y1, x2, y2 in pixels of the part of the frame where plates appear; the whole frame when absent.",
    )
