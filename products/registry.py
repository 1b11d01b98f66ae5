"""The one list of everything the catalog builds.

Build, lint, report, publish and the tests all iterate over ``REGISTRY``; adding a product touches
this file (one entry), its module, and its table in ``catalog.toml``.  Order matters: a spec may read
the templates built before it (the launch role covers the products' resource types).
"""

from __future__ import annotations

from generator.product import ProductSpec


def _specs() -> dict[str, ProductSpec]:
    from products import account_baseline, launch_role, log_replica, web_server

    # the launch role comes last: it covers the resource types of every product built before it
    specs = [web_server.SPEC, account_baseline.SPEC, log_replica.SPEC, launch_role.SPEC]
    return {s.name: s for s in specs}


REGISTRY: dict[str, ProductSpec] = _specs()
