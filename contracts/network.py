"""Network files (``kind = "network"``): the plazas of a closed toll system and the
distances between them.

The distance table is symmetric: each pair of plazas is listed once, in either
order, and every pair must be listed (a closed system charges any entry to any
exit). Distances are decimal km along the charged route.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import combinations
from typing import Literal

from pydantic import Field, model_validator

from contracts.ids import NetworkId, PlazaId
from contracts.schema import ConfigModel


class NetworkPlaza(ConfigModel):
    id: PlazaId = Field(title="Plaza id", description="The plaza file's id.")
    name: str = Field(min_length=1, title="Name", description="Shown on receipts.")


class Distance(ConfigModel):
    plazas: tuple[str, str] = Field(
        title="Plazas", description="The two plazas (ids), in either order."
    )
    km: Decimal = Field(gt=0, title="Distance", description="Charged distance in km.")


class Network(ConfigModel):
    kind: Literal["network"] = Field(title="Kind", description="Always `network`.")
    id: NetworkId = Field(title="Network id", description="E.g. `g60`.")
    name: str = Field(min_length=1, title="Name", description="Shown to supervisors.")
    plazas: list[NetworkPlaza] = Field(
        min_length=2, title="Plazas", description="The toll plazas of the closed system."
    )
    distances: list[Distance] = Field(
        title="Distances", description="One entry per pair of plazas (symmetric)."
    )

    @model_validator(mode="after")
    def _complete_table(self) -> Network:
        ids = [p.id for p in self.plazas]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"plazas: ids must be unique; repeated: {', '.join(repeated)}")
        seen: set[frozenset[str]] = set()
        for index, entry in enumerate(self.distances):
            a, b = entry.plazas
            where = f"distances[{index}].plazas"
            unknown = [p for p in (a, b) if p not in ids]
            if unknown:
                raise ValueError(
                    f"{where}: unknown plaza {unknown[0]!r} (plazas: {', '.join(ids)})"
                )
            if a == b:
                raise ValueError(f"{where}: a plaza's distance to itself is 0; list pairs only")
            pair = frozenset((a, b))
            if pair in seen:
                raise ValueError(f"{where}: {a} – {b} is listed twice")
            seen.add(pair)
        missing = [f"{a} – {b}" for a, b in combinations(ids, 2) if frozenset((a, b)) not in seen]
        if missing:
            raise ValueError(f"distances: missing pairs: {', '.join(missing)}")
        return self

    def table(self) -> dict[tuple[str, str], Decimal]:
        """Both orders of every pair, and 0 from each plaza to itself."""
        out = {(p.id, p.id): Decimal(0) for p in self.plazas}
        for entry in self.distances:
            a, b = entry.plazas
            out[a, b] = out[b, a] = entry.km
        return out
