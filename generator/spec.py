"""What a catalog entry is: ``ProductSpec`` (and the ``KINDS`` it may have).

It lives here, not in ``products/registry.py``, so that a product module can be imported on its own:
the registry imports every product module, so a product importing the registry for this class was a
circular import whenever the product module was imported first.  ``products.registry`` re-exports both.
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
