"""The validated configuration: the shared settings, the layer, and one frozen section per concern."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.config.database import DatabaseConfig
from infra.config.domain import DomainConfig
from infra.config.edge import EdgeConfig
from infra.config.images import ImagesConfig
from infra.config.keys import KeysConfig
from infra.config.layers import LayerConfig
from infra.config.monitoring import MonitoringConfig
from infra.config.network import NetworkConfig
from infra.config.release import ReleaseConfig
from infra.config.rotation import RotationConfig
from infra.config.service import ServiceConfig
from infra.config.stack import StackSettings


@dataclass(frozen=True)
class AppConfig:
    """One frozen section per concern; each component receives only its own.

    A layer reads only its own sections (LAYER_SECTIONS); asking for another raises.
    """
    stack: StackSettings
    layers: LayerConfig
    sections: Mapping[str, Any]
    # Keys set for this stack that its layer does not read (they have no effect here).
    unused_keys: tuple[str, ...] = ()

    def _section(self, name: str) -> Any:
        if name not in self.sections:
            raise KeyError(f"the {self.layers.layer} layer reads no {name} settings")
        return self.sections[name]

    @property
    def network(self) -> NetworkConfig:
        return self._section("network")

    @property
    def database(self) -> DatabaseConfig:
        return self._section("database")

    @property
    def service(self) -> ServiceConfig:
        return self._section("service")

    @property
    def domain(self) -> DomainConfig:
        return self._section("domain")

    @property
    def monitoring(self) -> MonitoringConfig:
        return self._section("monitoring")

    @property
    def images(self) -> ImagesConfig:
        return self._section("images")

    @property
    def keys(self) -> KeysConfig:
        return self._section("keys")

    @property
    def release(self) -> ReleaseConfig:
        return self._section("release")

    @property
    def edge(self) -> EdgeConfig:
        return self._section("edge")

    @property
    def rotation(self) -> RotationConfig:
        return self._section("rotation")
