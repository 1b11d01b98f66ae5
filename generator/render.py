"""Deterministic rendering: the same template always gives the same bytes.

JSON is canonical (sorted keys, two-space indent, trailing newline) so that its sha256 identifies a
template version and a diff always means a real change.  YAML is rendered from the canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cfn_flip import to_yaml
from troposphere import Template


def to_dict(template: Template | dict) -> dict:
    """The plain-JSON form of a troposphere template (or a dict, returned as is)."""
    return template if isinstance(template, dict) else template.to_dict()


def canonical_json(template: Template | dict[str, Any]) -> str:
    return json.dumps(to_dict(template), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def canonical_yaml(json_text: str) -> str:
    text = to_yaml(json_text, clean_up=False, long_form=False)
    return text if text.endswith("\n") else text + "\n"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
