"""Reading a tariff file and the network files it refers to (the I/O shell of the fee engine)."""

from __future__ import annotations

from pathlib import Path

from edge.config.loading import ConfigError, load
from edge.fees.engine import CompiledTariff, compile_tariff
from edge.fees.network import Network
from edge.fees.tariff import Tariff


def load_tariff(path: Path | str) -> CompiledTariff:
    """Load, validate and compile a tariff; raises :class:`ConfigError` naming the file and key."""
    path = Path(path)
    tariff = load(path, Tariff)
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
    return compile_tariff(tariff, networks)
