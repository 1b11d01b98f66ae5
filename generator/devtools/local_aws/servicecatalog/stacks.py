"""Provisioned products become stacks in moto's CloudFormation backend, in this process.

moto creates a stack synchronously.  Before handing the template over, this module does the checks
CloudFormation makes and moto does not (AllowedValues, AllowedPattern, lengths, ranges, required
values), so a bad parameter fails the record the way it would in AWS.  Any error moto raises while
creating, updating or deleting the stack becomes a ``StackFailure``: the caller records it as a
FAILED record with a status message rather than an HTTP 500.

What moto's CloudFormation does with the resource types our products use (measured with moto 5.2.5):

* ``Metadata`` (including ``AWS::CloudFormation::Interface``) is ignored: harmless.
* Types moto does not model (``AWS::Backup::*``, ``AWS::Config::*`` rules etc.) are skipped: the
  stack succeeds without them; ``Ref`` to such a resource yields its logical id.
* ``AWS::SSM::Parameter::Value<...>`` parameters are resolved from the local SSM; a missing SSM
  parameter fails the stack (as in AWS).
* ``{{resolve:ssm:...}}`` dynamic references are not resolved by moto, ``AWS::SSM::Parameter``
  without ``Name`` and ``AWS::KMS::Key`` with ``Tags`` crash it; ``prepare`` rewrites the template
  for those cases before it reaches moto.
* Anything else moto cannot do fails the record with the resource's logical id and moto's error.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

STACK_ARN_OUTPUT = "CloudformationStackARN"


class StackFailure(Exception):
    """CloudFormation refused or failed the stack operation; ``code`` is the CFN error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class StackResult:
    stack_id: str
    outputs: list[dict[str, str]]


def _backend(account_id: str, region: str):
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[account_id][region]


def resolve_parameters(doc: dict[str, Any], given: dict[str, str], previous: dict[str, str] | None = None
                       ) -> dict[str, str]:
    """Check ``given`` against the template's parameters as CloudFormation does; return the values."""
    specs = doc.get("Parameters", {})
    values: dict[str, str] = {}
    missing = []
    for key, spec in specs.items():
        if key in given:
            values[key] = given[key]
        elif previous and key in previous:
            values[key] = previous[key]
        elif "Default" in spec:
            default = spec["Default"]
            values[key] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
        else:
            missing.append(key)
    if missing:
        raise StackFailure("ValidationError", f"Parameters: [{', '.join(missing)}] must have values")
    for key, value in values.items():
        _check_value(key, value, specs[key])
    return values


def _check_value(key: str, value: str, spec: dict[str, Any]) -> None:
    allowed = spec.get("AllowedValues")
    described = spec.get("ConstraintDescription")

    def fail(detail: str) -> StackFailure:
        if described:
            return StackFailure("ValidationError", f"Parameter '{key}' failed to satisfy constraint: {described}")
        return StackFailure("ValidationError", f"Parameter '{key}' {detail}")

    items = value.split(",") if spec.get("Type", "").startswith(("List<", "CommaDelimitedList")) else [value]
    for item in items:
        if allowed is not None and item not in [str(a) for a in allowed]:
            raise fail("must be one of AllowedValues")
        if "AllowedPattern" in spec and not re.fullmatch(str(spec["AllowedPattern"]), item):
            raise fail(f"must match pattern {spec['AllowedPattern']}")
        if "MinLength" in spec and len(item) < int(spec["MinLength"]):
            raise fail(f"must contain at least {spec['MinLength']} characters")
        if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
            raise fail(f"must contain at most {spec['MaxLength']} characters")
        if spec.get("Type") in ("Number", "List<Number>"):
            try:
                number = float(item)
            except ValueError:
                raise fail("must be a number") from None
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise fail(f"must be a number not less than {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise fail(f"must be a number not greater than {spec['MaxValue']}")


def check_ssm_parameters(account_id: str, region: str, doc: dict[str, Any], values: dict[str, str]) -> None:
    """SSM-typed parameters must name existing SSM parameters (moto would crash with AttributeError)."""
    from moto.ssm.models import ssm_backends

    ssm = ssm_backends[account_id][region]
    missing = [values[key] for key, spec in doc.get("Parameters", {}).items()
               if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value<") and key in values
               and ssm.get_parameter(values[key]) is None]
    if missing:
        raise StackFailure("ValidationError",
                           f"Unable to fetch parameters [{','.join(missing)}] from parameter store for this account.")


def _failure(err: Exception) -> StackFailure:
    code = getattr(err, "error_type", None) or getattr(err, "code", None)
    message = getattr(err, "message", None) or str(err) or type(err).__name__
    if isinstance(code, str):
        return StackFailure(code, f"CloudFormation (local): {message}")
    # Not a CloudFormation error: moto's template engine broke on something it does not model.
    where = _resource_in_traceback(err)
    return StackFailure("InternalFailure",
                        f"CloudFormation (local, moto) could not create {where or 'the stack'}: "
                        f"{type(err).__name__}: {message}")


def _resource_in_traceback(err: BaseException) -> str | None:
    tb, found = err.__traceback__, None
    while tb is not None:
        local = tb.tb_frame.f_locals
        name = local.get("logical_id") or local.get("resource_name")
        resource = local.get("resource_json")
        if isinstance(name, str):
            kind = resource.get("Type") if isinstance(resource, dict) else None
            found = f"resource {name}" + (f" ({kind})" if kind else "")
        tb = tb.tb_next
    return found


# CloudFormation generates a physical name when a template leaves it out; moto does not for these
# types, so one is generated here the way CloudFormation would (STACK-LOGICALID-SUFFIX).
_GENERATED_NAMES = {"AWS::SSM::Parameter": "Name"}
_DYNAMIC_SSM = re.compile(r"\{\{resolve:(ssm|ssm-secure):([^:}]+)(?::(\d+))?\}\}")


def prepare(body: str, doc: dict[str, Any], stack_name: str, account_id: str, region: str) -> str:
    """The template to hand to moto: ``body``, or a JSON rewrite doing what CloudFormation does and moto does not.

    * ``{{resolve:ssm:NAME[:VERSION]}}`` / ``{{resolve:ssm-secure:...}}`` are replaced by the value in
      the local SSM (a missing parameter fails like CloudFormation does);
    * an ``AWS::SSM::Parameter`` without ``Name`` gets a generated name;
    * ``AWS::KMS::Key`` ``Tags`` are passed in the TagKey/TagValue form moto's KMS expects.
    """
    resources = {}
    for logical_id, resource in doc.get("Resources", {}).items():
        resource = _resolve_dynamic(resource, account_id, region)
        props = dict(resource.get("Properties") or {})
        prop = _GENERATED_NAMES.get(resource.get("Type"))
        if prop and prop not in props:
            suffix = hashlib.sha1(f"{stack_name}/{logical_id}".encode()).hexdigest()[:12].upper()
            props[prop] = f"{stack_name}-{logical_id}-{suffix}"
        if resource.get("Type") == "AWS::KMS::Key" and isinstance(props.get("Tags"), list):
            props["Tags"] = [{"TagKey": t.get("Key"), "TagValue": t.get("Value")} if isinstance(t, dict) else t
                             for t in props["Tags"]]
        resources[logical_id] = {**resource, "Properties": props} if props else resource
    if resources == doc.get("Resources", {}):
        return body
    return json.dumps({**doc, "Resources": resources})


def _resolve_dynamic(value: Any, account_id: str, region: str) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_dynamic(v, account_id, region) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_dynamic(v, account_id, region) for v in value]
    if isinstance(value, str) and "{{resolve:ssm" in value:
        return _DYNAMIC_SSM.sub(lambda m: _ssm_value(m.group(2), m.group(3), account_id, region), value)
    return value


def _ssm_value(name: str, version: str | None, account_id: str, region: str) -> str:
    from moto.ssm.models import ssm_backends

    parameter = ssm_backends[account_id][region].get_parameter(f"{name}:{version}" if version else name)
    if parameter is None:
        raise StackFailure("ValidationError", f"Unable to resolve the dynamic reference {{{{resolve:ssm:{name}}}}}: "
                                              f"parameter {name}{':' + version if version else ''} not found "
                                              "in the parameter store of this account")
    return str(parameter.value)


def _outputs(stack) -> list[dict[str, str]]:
    outputs = [{"OutputKey": STACK_ARN_OUTPUT, "OutputValue": stack.stack_id,
                "Description": "The ARN of the launched Cloudformation Stack"}]
    for out in stack.outputs or []:
        item = {"OutputKey": out["OutputKey"], "OutputValue": str(out["OutputValue"])}
        if out.get("Description"):
            item["Description"] = out["Description"]
        outputs.append(item)
    return outputs


def create(account_id: str, region: str, name: str, body: str, parameters: dict[str, str],
           tags: dict[str, str], role_arn: str | None) -> StackResult:
    """Create the stack; on failure leave it ROLLBACK_COMPLETE (as AWS does) and raise StackFailure."""
    backend = _backend(account_id, region)
    try:
        stack = backend.create_stack(name=name, template=body, parameters=parameters, tags=tags,
                                     role_arn=role_arn)
    # moto can raise anything from its template engine (KeyError, ValueError, its own errors);
    # every one of them is a failed stack for the caller, reported with its message.
    except Exception as err:  # noqa: BLE001
        _roll_back(backend, name, err)
        raise _failure(err) from err
    if stack.status != "CREATE_COMPLETE":
        stack.status = "ROLLBACK_COMPLETE"
        raise StackFailure("ResourceNotReady", f"Stack {name} did not reach CREATE_COMPLETE")
    return StackResult(stack.stack_id, _outputs(stack))


def _roll_back(backend, name: str, err: Exception) -> None:
    for stack in list(backend.stacks.values()):
        if stack.name == name:
            stack._add_stack_event("ROLLBACK_COMPLETE", resource_status_reason=str(err)[:1000])
            stack.status = "ROLLBACK_COMPLETE"


def update(account_id: str, region: str, stack_id: str, body: str, parameters: dict[str, str],
           tags: dict[str, str], role_arn: str | None) -> StackResult:
    backend = _backend(account_id, region)
    stack = backend.get_stack(stack_id)
    if stack.status in ("ROLLBACK_COMPLETE", "CREATE_FAILED", "DELETE_COMPLETE"):
        raise StackFailure("ValidationError",
                           f"Stack:{stack_id} is in {stack.status} state and can not be updated.")
    incoming = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    try:
        stack = backend.update_stack(name=stack_id, template=body, role_arn=role_arn,
                                     parameters=incoming, tags=tags)
    except Exception as err:  # noqa: BLE001 - see create()
        raise _failure(err) from err
    return StackResult(stack.stack_id, _outputs(stack))


def delete(account_id: str, region: str, stack_id: str | None) -> None:
    if not stack_id:
        return
    backend = _backend(account_id, region)
    try:
        backend.delete_stack(stack_id)
    except Exception as err:  # noqa: BLE001 - see create()
        raise _failure(err) from err
