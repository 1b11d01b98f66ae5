"""How the local CloudFormation reads a template body: JSON as JSON, anything else as YAML.

CloudFormation takes templates in either format (CloudFormation User Guide, "CloudFormation template
format": "You can author CloudFormation templates in JSON or YAML formats").  moto tries its pure-Python
YAML parser first for every body, JSON included; on the 50-90 KB JSON templates of this catalog that was
the largest cost of a stack operation on the local endpoint.  A body ``json.loads`` accepts gives the
same document either way (JSON's strings are quoted, so YAML reads no scalar differently), so JSON is
read with ``json`` and only other bodies go to moto's YAML reader (short-form tags such as ``!Ref``).
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation.models import ChangeSet, Stack

_MOTO_PARSE = Stack.parse_template


def parse_template(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return _MOTO_PARSE(body)


def _parse_change_set_template(change_set: ChangeSet) -> None:
    change_set.template_dict = parse_template(change_set.template)


def register() -> None:
    """Make moto's stacks and change sets read their templates with ``parse_template``."""
    Stack.parse_template = staticmethod(parse_template)  # type: ignore[method-assign]
    ChangeSet._parse_template = _parse_change_set_template  # type: ignore[method-assign]
