"""Provisioned products become stacks in moto's CloudFormation backend, in this process.

Stacks are created, updated and deleted through the local CloudFormation backend
(``generator.devtools.local_aws.cloudformation``): the same parameter checks (allowed values, patterns,
lengths, numbers, Rules), resource events, replacement and rollback as a CloudFormation stack there.  A
refused or failed operation becomes a ``StackFailure`` naming the failed resources and their reasons:
the caller records it as a FAILED record with a status message rather than an HTTP 500.

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

from generator.errors import AccessDenied, ParameterRefused, StackFailure

STACK_ARN_OUTPUT = "CloudformationStackARN"


@dataclass
class StackResult:
    stack_id: str
    outputs: list[dict[str, str]]


def _backend(account_id: str, region: str):
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[account_id][region]


def resolve_parameters(doc: dict[str, Any], given: dict[str, str], previous: dict[str, str] | None = None
                       ) -> dict[str, str]:
    """The template's parameter values, checked as CloudFormation checks them (``cloudformation.parameters``)."""
    from ..cloudformation import parameters

    try:
        return parameters.check(doc, given, previous)
    except ParameterRefused as err:
        raise StackFailure("ValidationError", err.message) from err


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


def authorize_ssm_reads(account_id: str, region: str, doc: dict[str, Any], values: dict[str, str]) -> None:
    """CloudFormation reads the SSM parameters of SSM-typed parameters and ``{{resolve:ssm:...}}`` with the
    caller's credentials (*CloudFormation service role*: "By default, CloudFormation uses a temporary session
    that it generates from your user credentials for stack operations"): ``ssm:GetParameters`` on each."""
    from moto.utilities.utils import get_partition

    from ..iam import enforcement, requests as iam_requests

    caller = enforcement.current()
    if caller is None:
        return
    names = [values[key] for key, spec in doc.get("Parameters", {}).items()
             if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value<") and key in values]
    names += _REFERENCED_SSM.findall(json.dumps([doc.get("Resources"), doc.get("Outputs")]))
    for request in iam_requests.ssm_requests(names, caller.role_arn, account_id, region, get_partition(region)):
        try:
            enforcement.authorize(request, {"stage": "ssm-parameters"})
        except AccessDenied as err:
            raise StackFailure("AccessDenied", err.message) from err


def _failure(err: Exception) -> StackFailure:
    code = getattr(err, "error_type", None) or getattr(err, "code", None)
    message = getattr(err, "message", None) or str(err) or type(err).__name__
    if isinstance(code, str):
        return StackFailure(code, message)
    # Not a CloudFormation error: moto's template engine broke on something it does not model.
    return StackFailure("InternalFailure", f"CloudFormation (local, moto) could not handle the stack: "
                                           f"{type(err).__name__}: {message}")


def _failed_resources(stack) -> str:
    """What the stack's events say failed since its last operation started, as the record's error."""
    failed: list[str] = []
    for event in reversed(stack.events):
        if event.resource_type == "AWS::CloudFormation::Stack" and event.resource_status in (
                "ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS"):
            failed.clear()  # what failed during the rollback is not why the operation failed
        if event.resource_type == "AWS::CloudFormation::Stack" and event.resource_status.endswith("_IN_PROGRESS") \
                and event.resource_status_reason == "User Initiated":
            break
        if event.resource_status.endswith("_FAILED") and event.resource_type != "AWS::CloudFormation::Stack":
            failed.append(f"{event.logical_resource_id} ({event.resource_type}) {event.resource_status}: "
                          f"{event.resource_status_reason}")
    return "; ".join(reversed(failed)) or f"stack {stack.name} is {stack.status}"


# CloudFormation generates a physical name when a template leaves it out; moto does not for these
# types, so one is generated here the way CloudFormation would (STACK-LOGICALID-SUFFIX).
_GENERATED_NAMES = {"AWS::SSM::Parameter": "Name"}
_DYNAMIC_SSM = re.compile(r"\{\{resolve:(ssm|ssm-secure):([^:}]+)(?::(\d+))?\}\}")
# The parameter names of dynamic references, the version also a variable of the Fn::Sub building the
# reference (``{{resolve:ssm:NAME:${AmiVersion}}}``).  The read is authorized on the parameter whatever the
# version: an SSM parameter's ARN is ``arn:${Partition}:ssm:${Region}:${Account}:parameter/...`` (cfn-lint's
# copy of the Service Authorization Reference, Policies.json), its name, no version; "You can reference
# specific parameter versions ... by using the following format: ssm:parameter-name:version-number"
# (*Working with parameter versions*, https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-versions.html).
_REFERENCED_SSM = re.compile(r"\{\{resolve:(?:ssm|ssm-secure):([^:}]+)(?::(?:\d+|\$\{[A-Za-z0-9]+\}))?\}\}")


def prepare(body: str, doc: dict[str, Any], stack_name: str, account_id: str, region: str,
            values: dict[str, str] | None = None) -> str:
    """The template to hand to moto: ``body``, or a JSON rewrite doing what CloudFormation does and moto does not.

    * ``{{resolve:ssm:NAME[:VERSION]}}`` / ``{{resolve:ssm-secure:...}}`` are replaced by the value in
      the local SSM (a missing parameter fails like CloudFormation does), also where ``Fn::Sub`` builds the
      reference from the stack's parameter ``values`` (``{{resolve:ssm:NAME:${Version}}}``): CloudFormation
      resolves dynamic references once the intrinsic functions are evaluated;
    * an ``AWS::SSM::Parameter`` without ``Name`` gets a generated name;
    * ``AWS::KMS::Key`` ``Tags`` are passed in the TagKey/TagValue form moto's KMS expects.
    """
    resources = {}
    for logical_id, resource in doc.get("Resources", {}).items():
        resource = _resolve_dynamic(resource, account_id, region, values or {})
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


def _resolve_dynamic(value: Any, account_id: str, region: str, values: dict[str, str]) -> Any:
    if isinstance(value, dict):
        built = _sub_reference(value, values)
        if built is not None:
            return _resolve_dynamic(built, account_id, region, values)
        return {k: _resolve_dynamic(v, account_id, region, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_dynamic(v, account_id, region, values) for v in value]
    if isinstance(value, str) and "{{resolve:ssm" in value:
        return _DYNAMIC_SSM.sub(lambda m: _ssm_value(m.group(2), m.group(3), account_id, region), value)
    return value


_SUB_VARIABLE = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def _sub_reference(value: dict[str, Any], values: dict[str, str]) -> str | None:
    """The text of ``{"Fn::Sub": "...{{resolve:ssm:NAME:${Param}}}..."}`` whose variables are all template
    parameters, with their values substituted; None for anything else."""
    if set(value) != {"Fn::Sub"} or not isinstance(value["Fn::Sub"], str) or "{{resolve:" not in value["Fn::Sub"]:
        return None
    text = value["Fn::Sub"]
    names = _SUB_VARIABLE.findall(text)
    if not names or any(n not in values for n in names) or "${" in _SUB_VARIABLE.sub("", text):
        return None
    return _SUB_VARIABLE.sub(lambda m: values[m.group(1)], text)


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
    """Create the stack; on failure it is left ROLLBACK_COMPLETE (as AWS does) and StackFailure is raised."""
    backend = _backend(account_id, region)
    try:
        stack = backend.create_stack(name=name, template=body, parameters=parameters, tags=tags, role_arn=role_arn)
    # the backend raises CloudFormation's errors; anything else is moto's template engine breaking
    except Exception as err:  # noqa: BLE001
        raise _failure(err) from err
    if stack.status != "CREATE_COMPLETE":
        raise StackFailure("CREATE_FAILED", _failed_resources(stack))
    return StackResult(stack.stack_id, _outputs(stack))


def update(account_id: str, region: str, stack_id: str, body: str, parameters: dict[str, str],
           tags: dict[str, str], role_arn: str | None) -> StackResult:
    """Update the stack; a failed update has rolled back (UPDATE_ROLLBACK_COMPLETE) when StackFailure is raised."""
    backend = _backend(account_id, region)
    incoming = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    try:
        stack = backend.update_stack(name=stack_id, template=body, role_arn=role_arn, parameters=incoming,
                                     tags=tags)
    except Exception as err:  # noqa: BLE001 - see create()
        failure = _failure(err)
        if failure.message != "No updates are to be performed.":
            raise failure from err
        return StackResult(stack_id, _outputs(backend.get_stack(stack_id)))  # nothing to change: succeeded
    if stack.status != "UPDATE_COMPLETE":
        raise StackFailure("UPDATE_FAILED", _failed_resources(stack))
    return StackResult(stack.stack_id, _outputs(stack))


def delete(account_id: str, region: str, stack_id: str | None) -> None:
    if not stack_id:
        return
    backend = _backend(account_id, region)
    try:
        backend.delete_stack(stack_id)
    except Exception as err:  # noqa: BLE001 - see create()
        raise _failure(err) from err
    stack = backend.stacks.get(stack_id)
    if stack is not None and stack.status == "DELETE_FAILED":
        raise StackFailure("DELETE_FAILED", _failed_resources(stack))
