"""DescribeStacks' ``Parameters`` as CloudFormation gives them: each parameter's input, and for an SSM-typed
parameter its ``ResolvedValue``.

*Parameter*, AWS CloudFormation API Reference
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html): ``ParameterValue``
"The input value associated with the parameter"; ``ResolvedValue`` "The value that corresponds to a Systems
Manager parameter key. This field is returned only for Systems Manager parameter types in the template."
moto answers with the resolved values instead: a list parameter as Python's ``['a', 'b']`` and an SSM-typed
one as its value.
"""

from __future__ import annotations

from typing import Any

from .parameters import as_text

SSM_TYPE = "AWS::SSM::Parameter::Value<"


def parameter_list(stack: Any) -> list[dict[str, Any]]:
    specs = (stack.template_dict or {}).get("Parameters") or {}
    hidden = stack.resource_map.no_echo_parameter_keys
    out = []
    for key, resolved in stack.resource_map.resolved_parameters.items():
        spec = specs.get(key) or {}
        given = (stack.parameters or {}).get(key, spec.get("Default", resolved))
        item = {"ParameterKey": key, "ParameterValue": "****" if key in hidden else as_text(given)}
        if str(spec.get("Type", "")).startswith(SSM_TYPE) and key not in hidden:
            item["ResolvedValue"] = as_text(resolved)
        out.append(item)
    return out


def register() -> None:
    from moto.cloudformation.models import Stack

    Stack.parameter_list = property(parameter_list)  # type: ignore[assignment,method-assign]
