"""Configuration of a lane's plate reader."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.schema import ConfigModel

Region = Literal["cn", "us", "eu", "br"]


class RecognitionConfig(ConfigModel):
    region: Region = Field(title="Region", description="Plate grammar to apply: cn, us, eu or br.")
    province: str | None = Field(
        None,
        title="Local province",
        description="Chinese lanes: the local province character (e.g. 皖), weighed when the reader is unsure of the first character.",
    )
    threshold: float = Field(
        0.93,
        ge=0.0,
        le=1.0,
        title="Operating threshold",
        description="Reads with a lower confidence count as unreadable and go to the lane's rule. The default keeps wrong accepted reads near 1 in 200 on the development set (see lanewarden bench plates).",
    )
    roi: tuple[int, int, int, int] | None = Field(
        None,
        title="Region of interest",
        description="x1, y1, x2, y2 in pixels of the part of the frame where plates appear; the whole frame when absent.",
    )
    off_grammar_cost: float = Field(
        12.0,
        ge=0.0,
        title="Off-grammar cost",
        description="Log-probability cost of a read that fits none of the region's plate templates; it still competes, so the grammar re-ranks rather than filters.",
    )
    province_share: float = Field(
        0.8,
        gt=0.0,
        lt=1.0,
        title="Local province share",
        description="With a local province: the share of traffic expected to carry it, used as the prior of the first character.",
    )
    detector_max_side: int = Field(
        640,
        ge=160,
        le=2048,
        title="Detector input size",
        description="Longest side in pixels of the downscaled frame (or region of interest) the plate detector sees; larger finds smaller plates but costs time and memory.",
    )
    detector_retry_side: int = Field(
        960,
        ge=0,
        le=2048,
        title="Detector retry size",
        description="Longest side for the second detection when the first pass read nothing confident (small plates); 0 or anything not above the first size disables it.",
    )
    detector_retry_below: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        title="Detector retry trigger",
        description="Detect again at the retry size, and then on the frame with its local contrast raised, while the best read so far has a lower confidence than this.",
    )
    detector_min_score: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        title="Detector minimum score",
        description="Mean text probability a detected region needs to become a plate candidate.",
    )
    max_candidates: int = Field(
        8,
        ge=1,
        le=64,
        title="Candidates per frame",
        description="Most plate candidates read per frame; the most plate-like come first.",
    )
    threads: int = Field(
        2,
        ge=1,
        le=16,
        title="Inference threads",
        description="onnxruntime threads per model; keep small on a lane computer.",
    )
    nice: int = Field(
        5,
        ge=0,
        le=19,
        title="Reader priority",
        description="How many nice steps below the lane's control loop the plate reader runs "
        "(Linux): on a busy computer the loop's events and barrier commands go first and reads "
        "wait; 0 runs the reader at the loop's priority. More steps also put it below the "
        "camera's decoding: 10 made loaded reads slower and more uneven than 5.",
    )
