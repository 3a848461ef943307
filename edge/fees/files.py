"""Reading a tariff file and the network files it refers to (the I/O shell of the fee engine)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationInfo, model_validator

from contracts.network import Network
from contracts.tariff import Tariff
from edge.fees.engine import CompiledTariff, compile_tariff
from plumbing.config import ConfigError, load


def load_tariff(path: Path | str) -> CompiledTariff:
    """Load, validate and compile a tariff; raises :class:`ConfigError` naming the file and key."""
    path = Path(path)
    tariff = load(path, Tariff)
    return compile_tariff(tariff, load_networks(tariff, path))


def load_networks(tariff: Tariff, path: Path) -> dict[str, Network]:
    """The network files of a tariff's highway versions, by their path as written."""
    networks: dict[str, Network] = {}
    for index, version in enumerate(tariff.versions):
        if version.highway is None or version.highway.network in networks:
            continue
        network_path = path.parent / version.highway.network
        if not network_path.is_file():
            raise ConfigError(
                path,
                [f"versions[{index}].highway.network: network file {network_path} not found"],
            )
        networks[version.highway.network] = load(network_path, Network)
    return networks


class TariffFile(Tariff):
    """A tariff validated as a file (``config check``, lane files): its network files must load."""

    @model_validator(mode="after")
    def _networks_load(self, info: ValidationInfo) -> TariffFile:
        path = (info.context or {}).get("path")
        if isinstance(path, Path):
            try:
                load_networks(self, path)
            except ConfigError as exc:
                own = f"{path}: "  # the tariff file's own name is already on the line
                raise ValueError("; ".join(p.removeprefix(own) for p in exc.problems)) from None
        return self
