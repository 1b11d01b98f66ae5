"""What a product is: its typed build-time config (``ProductConfig``) and its catalog entry (``ProductSpec``).

A product module in ``products/`` subclasses ``ProductConfig`` (frozen, validated in ``__post_init__``)
and declares one ``ProductSpec``; ``products/registry.py`` lists the specs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from troposphere import Template

from generator.errors import ConfigError
from generator.settings import SEMVER, SSM_PREFIX, ProductSettings, Settings

# kind "product": published to Service Catalog for developers to launch.
# kind "admin": deployed by the security administrator (account baseline, launch role).
KINDS = ("product", "admin")


def config_error(product: str, field: str, found: Any, allowed: str) -> ConfigError:
    return ConfigError(f"product {product}: {field}: found {found!r}; allowed: {allowed}",
                       hint="fix the [products.%s.options] table in the catalog settings" % product)


@dataclass(frozen=True)
class ProductConfig:
    """Fields every product has; a product's own config subclasses this (frozen, validated)."""

    product: str
    version: str
    ssm_prefix: str
    regions: tuple[str, ...]

    def __post_init__(self) -> None:
        if not SEMVER.match(self.version):
            raise config_error(self.product, "version", self.version, "MAJOR.MINOR.PATCH")
        if not SSM_PREFIX.match(self.ssm_prefix):
            raise config_error(self.product, "ssm_prefix", self.ssm_prefix, "an SSM path such as /hipaa-catalog")
        if not self.regions:
            raise config_error(self.product, "regions", self.regions, "at least one region")

    def ssm(self, name: str) -> str:
        """The full SSM parameter name of an administrator setting, e.g. ``/hipaa-catalog/vpc-id``."""
        return f"{self.ssm_prefix}/{name}"


def options_for(cls, product: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Check a product's ``options`` table against the config class fields; unknown keys are errors."""
    common = {f.name for f in dataclasses.fields(ProductConfig)}
    allowed = sorted(f.name for f in dataclasses.fields(cls) if f.name not in common and f.init)
    for key in options:
        if key not in allowed:
            raise config_error(product, f"options.{key}", key, ", ".join(allowed) or "no options")
    return dict(options)


@dataclass(frozen=True)
class Rendered:
    """A product rendered earlier in the same build, as a later product's config may read it."""

    kind: str
    version: str
    template: dict


@dataclass(frozen=True)
class ProductSpec:
    """One entry of the registry: how to make a product's config and build its template."""

    name: str
    title: str
    kind: str
    build: Callable[[Any], Template]
    # (settings, this product's settings, the products rendered before it by name) -> its typed config
    make_config: Callable[[Settings, ProductSettings, Mapping[str, Rendered]], Any]
    # extra manifest fields derived from the config (e.g. which products a launch role covers)
    manifest_extra: Callable[[Any], dict] | None = None
