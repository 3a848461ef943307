"""Evidence images and plate text retention: where images go and how long things are kept."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from contracts.schema import ConfigModel


class EvidenceConfig(ConfigModel):
    """Evidence images of every passage and the retention of images and plate text.

    Images show the plate, so they may not outlive the plate text: a lane that
    pseudonymised its plates after 30 days but kept the pictures for a year would
    keep the plates too. ``retention_days`` is therefore at most
    ``plate_retention_days``.
    """

    directory: Path = Field(
        Path("/var/lib/lanewarden/evidence"),
        title="Evidence directory",
        description="Where evidence images are kept, one folder per lane and per day "
        "(relative paths are relative to the working directory).",
    )
    retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        title="Image retention",
        description="Days an evidence image is kept before purge deletes it.",
    )
    plate_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        title="Plate text retention",
        description="Days plate text is kept in the store before it is replaced by a keyed "
        "pseudonym (equal plates keep equal pseudonyms).",
    )
    jpeg_quality: int = Field(
        85,
        ge=30,
        le=95,
        title="JPEG quality",
        description="JPEG quality of evidence images (30..95); lowered for an image that "
        "would exceed max_image_kb.",
    )
    max_image_kb: int = Field(
        400,
        ge=1,
        le=10_000,
        title="Largest image",
        description="Size cap of one evidence image in KiB: quality, then resolution, are "
        "lowered until the image fits.",
    )
    min_free_mb: int = Field(
        200,
        ge=0,
        title="Free space kept",
        description="No image is written when the disk has less free space than this (MiB), "
        "so that the store's records always have room.",
    )
    pseudonym_key_file: Path = Field(
        Path("/var/lib/lanewarden/site.key"),
        title="Pseudonym key file",
        description="Per-site secret (at least 16 bytes) of the plate pseudonyms; created "
        "with 32 random bytes when missing. Give every lane of a site the same file so "
        "that pseudonyms match across lanes.",
    )

    @model_validator(mode="after")
    def _images_not_kept_longer_than_plates(self) -> Self:
        if self.retention_days > self.plate_retention_days:
            raise ValueError(
                f"retention_days: images show the plate, so they may not be kept longer "
                f"({self.retention_days} days) than plate text (plate_retention_days "
                f"{self.plate_retention_days})"
            )
        return self

    def image_cutoff(self, now: datetime) -> datetime:
        """Images taken before this time are purged."""
        return now - timedelta(days=self.retention_days)

    def plate_cutoff(self, now: datetime) -> datetime:
        """Plate text recorded before this time is pseudonymised."""
        return now - timedelta(days=self.plate_retention_days)
