"""Which resource properties force a replacement, from the CloudFormation provider schemas cfn-lint bundles.

A provider schema lists ``createOnlyProperties`` (changing one replaces the resource) and, for some
types, ``conditionalCreateOnlyProperties`` (changing one may replace it, depending on the change).
cfn-lint ships the us-east-1 schemas as ``data/schemas/providers/us-east-1.json`` (type -> hash) and
``data/schemas/resources/<hash>.json``; they are read from there, never imported, and cached per type.
A type without a schema (or a schema that cannot be read) is treated as having no create-only
properties: its changes show ``Replacement: False``.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from generator import toolinfo

ALWAYS, CONDITIONALLY, NEVER = "Always", "Conditionally", "Never"


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    path = toolinfo.cfn_lint_data() / "schemas" / "providers" / "us-east-1.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@functools.lru_cache(maxsize=None)
def _schema(resource_type: str) -> dict[str, Any]:
    digest = _index().get(resource_type)
    if not digest:
        return {}
    try:
        return json.loads((toolinfo.cfn_lint_data() / "schemas" / "resources" / f"{digest}.json")
                          .read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def requires_recreation(resource_type: str, prop: str) -> str:
    """``Always`` / ``Conditionally`` / ``Never``: what changing top-level property ``prop`` does.

    ``Always`` when the schema marks the property create-only; ``Conditionally`` when it marks only a part
    of it (``/properties/Prop/Sub``) create-only, or the property conditionally create-only.
    """
    schema = _schema(resource_type)
    create_only = schema.get("createOnlyProperties") or []
    conditional = schema.get("conditionalCreateOnlyProperties") or []
    if f"/properties/{prop}" in create_only:
        return ALWAYS
    if any(p == f"/properties/{prop}" or p.startswith(f"/properties/{prop}/") for p in conditional) or \
            any(p.startswith(f"/properties/{prop}/") for p in create_only):
        return CONDITIONALLY
    return NEVER
