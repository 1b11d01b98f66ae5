"""The one list of everything the catalog builds.

Build, lint, report, publish and the tests all iterate over ``REGISTRY``; adding a product touches
this file (one entry), its module, and its table in ``catalog.toml``.  Order matters: a spec may read
the templates built before it (the launch role covers the products' resource types).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from troposphere import Template

from generator.settings import ProductSettings, Settings

# kind "product": published to Service Catalog for developers to launch.
# kind "admin": deployed by the security administrator (account baseline, launch role).
KINDS = ("product", "admin")


@dataclass(frozen=True)
class ProductSpec:
    name: str
    title: str
    kind: str
    build: Callable[[Any], Template]
    # (settings, this product's settings, templates built so far by name) -> the product's typed config
    make_config: Callable[[Settings, ProductSettings, Mapping[str, dict]], Any]
    # extra manifest fields derived from the config (e.g. which products a launch role covers)
    manifest_extra: Callable[[Any], dict] | None = None


def _specs() -> dict[str, ProductSpec]:
    from products import account_baseline, launch_role, web_server

    # the launch role comes last: it covers the resource types of every product built before it
    specs = [web_server.SPEC, account_baseline.SPEC, launch_role.SPEC]
    return {s.name: s for s in specs}


REGISTRY: dict[str, ProductSpec] = _specs()
