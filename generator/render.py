"""Deterministic rendering: the same template always gives the same bytes.

JSON is canonical (sorted keys, two-space indent, trailing newline) so that its sha256 identifies a
template version and a diff always means a real change.  YAML is rendered from the canonical JSON.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from troposphere import Template


def to_dict(template: Template | dict) -> dict:
    """The plain-JSON form of a troposphere template (or a dict, returned as is)."""
    return template if isinstance(template, dict) else template.to_dict()


def canonical_json(template: Template | dict[str, Any]) -> str:
    return json.dumps(to_dict(template), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def canonical_yaml(json_text: str) -> str:
    """The YAML of cfn-flip's ``to_yaml(json_text)`` (short-form functions, its scalar styles), byte for
    byte (tests/test_render.py), made with plain dicts: cfn-flip wraps every mapping and its items in
    classes it builds per item to keep PyYAML from sorting the keys, which was most of the time."""
    import yaml
    from cfn_clean import cfn_literal_parser
    from cfn_tools._config import config

    text = yaml.dump(cfn_literal_parser(json.loads(json_text)), Dumper=_yaml_dumper(), default_flow_style=False,
                     allow_unicode=True, width=config.max_col_width)
    return text if text.endswith("\n") else text + "\n"


@functools.lru_cache(maxsize=None)
def _yaml_dumper() -> type:
    """cfn-flip's standard dumper, its mapping representer on plain dicts: a mapping of one ``Ref``,
    ``Condition`` or ``Fn::*`` key becomes the short-form tag, any other mapping keeps its key order
    (its items are given as a list, which PyYAML does not sort); the analysis of each scalar is kept."""
    from cfn_flip import yaml_dumper as flip

    def function(dumper, name: str, value: Any):
        tag = f"!{name}"
        if tag == "!GetAtt" and isinstance(value, list):
            value = ".".join(value)
        if isinstance(value, list):
            return dumper.represent_sequence(tag, value)
        if isinstance(value, dict):
            return dumper.represent_mapping(tag, list(value.items()))
        return dumper.represent_scalar(tag, value)

    def mapping(dumper, value: dict):
        if len(value) == 1:
            (key, inner), = value.items()
            if key in flip.CONVERTED_SUFFIXES:
                return function(dumper, key, inner)
            if key.startswith(flip.FN_PREFIX):
                return function(dumper, key[len(flip.FN_PREFIX):], inner)
        return dumper.represent_mapping(flip.TAG_MAP, list(value.items()), flow_style=False)

    analyses: dict[tuple[type, str], Any] = {}

    def analyze_scalar(self, scalar: str):
        # PyYAML's analysis of a scalar (which styles can write it) depends on the string, its type
        # (cfn-flip's LiteralString has its own) and the dumper's allow_unicode, which canonical_yaml
        # fixes; a template repeats its keys and values many times, and a build dumps many templates.
        key = (type(scalar), scalar)
        found = analyses.get(key)
        if found is None:
            if len(analyses) >= 100_000:   # a bound for long-lived processes (the tests dump thousands)
                analyses.clear()
            found = analyses[key] = flip.Dumper.analyze_scalar(self, scalar)
        return found

    dumper = type("CanonicalYamlDumper", (flip.Dumper,), {"analyze_scalar": analyze_scalar})
    dumper.add_representer(dict, mapping)
    return dumper


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
