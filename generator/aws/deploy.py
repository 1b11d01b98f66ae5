"""Create or update the administrator's stacks (account baseline, launch role) through a change set.

The flow, for one stack:

1. ``plan``: look the stack up; refuse a stack in a failed or busy state with an explanation and the
   failing resource events; create a change set (``CREATE`` when the stack does not exist yet, else
   ``UPDATE``), wait for it, and read its changes (Add / Modify / Remove, Replacement, and the
   properties that change).  A change set
   with nothing to do is deleted and reported as "no changes".
2. The caller shows the changes and asks (``--yes`` skips the question).
3. ``execute``: execute the change set, wait with progress (one line per new stack event), and return
   the outputs; a stack that ends rolled back or failed raises ``DeployError`` with the failing events.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from generator.aws import api as aws
from generator.errors import AwsCallError, ConfigError, DeployError
from generator.pipeline import manifest as manifests

Progress = Callable[[str], None]

# The administrator's stacks: which built template (manifest name) and which default stack name.
BASELINE = "account-baseline"
LAUNCH_ROLE = "launch-role"
DEFAULT_STACK_NAMES = {BASELINE: "hipaa-catalog-account-baseline", LAUNCH_ROLE: "hipaa-catalog-launch-role"}

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
MAX_TEMPLATE_BODY = 51_200  # bytes CloudFormation accepts inline; larger templates need an S3 URL

OK_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
# States from which CloudFormation refuses any update; the administrator must act first.
STUCK_STATES = {
    "ROLLBACK_COMPLETE": "its first creation failed and was rolled back; CloudFormation cannot update such a "
                         "stack. Delete it (aws cloudformation delete-stack --stack-name {name}) and run again",
    "ROLLBACK_FAILED": "its first creation failed and the rollback failed too. Delete it (aws cloudformation "
                       "delete-stack --stack-name {name}, retaining the resources it names) and run again",
    "CREATE_FAILED": "its creation failed. Delete it (aws cloudformation delete-stack --stack-name {name}) "
                     "and run again",
    "UPDATE_ROLLBACK_FAILED": "an update failed and its rollback failed too. Fix the resource named below, then "
                              "aws cloudformation continue-update-rollback --stack-name {name}, and run again",
    "DELETE_FAILED": "a deletion failed. Finish deleting it (aws cloudformation delete-stack --stack-name "
                     "{name}) and run again",
}
# How CloudFormation says an update changes nothing: a FAILED change set whose StatusReason says "The
# submitted information didn't contain changes" (CreateChangeSet), or UpdateStack's ValidationError "No
# updates are to be performed"; neither has an error code of its own.
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


@dataclass
class Plan:
    stack_name: str
    change_set_type: str            # CREATE | UPDATE | NONE (nothing to change)
    change_set_id: str | None
    changes: list[dict] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return self.change_set_type != "NONE"

    def as_dict(self) -> dict:
        return {"stack_name": self.stack_name, "change_set_type": self.change_set_type,
                "change_set_id": self.change_set_id, "changes": self.changes, "parameters": self.parameters}


# --------------------------------------------------------------------------------------------- inputs

def load_template(name: str, out_dir: Path = manifests.BUILD_DIR) -> tuple[manifests.Entry, dict]:
    """The manifest entry and the parsed template of built product ``name`` (e.g. account-baseline)."""
    built = manifests.load(out_dir)
    entry = built.entry(name)
    return entry, json.loads(built.read_template(entry))


def parse_assignments(items: list[str] | None, what: str = "-p") -> dict[str, str]:
    """``["Key=Value", …]`` as a dict; a malformed item is a ConfigError naming it."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} {item!r}: expected Key=Value", hint=f"e.g. {what} Environment=TEST")
        if key.strip() in out:
            raise ConfigError(f"{what} {key.strip()}: given twice", hint="give each parameter once")
        out[key.strip()] = value
    return out


def check_parameters(template: dict, given: Mapping[str, str], previous: set[str], product: str) -> list[dict]:
    """CloudFormation parameters for ``given``; unknown names and missing required ones are refused."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ConfigError(f"{product}: unknown parameter(s) {', '.join(unknown)}; "
                          f"allowed: {', '.join(declared) or 'none'}")
    missing = [k for k, d in declared.items() if k not in given and "Default" not in d and k not in previous]
    if missing:
        desc = "; ".join(f"{k}: {declared[k].get('Description', '')}".rstrip(": ") for k in missing)
        raise ConfigError(f"{product}: missing required parameter(s) {', '.join(missing)} ({desc})",
                          hint=f"pass them with -p, e.g. -p {missing[0]}=VALUE")
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()]
    params += [{"ParameterKey": k, "UsePreviousValue": True} for k in declared if k not in given and k in previous]
    return params


# --------------------------------------------------------------------------------------------- AWS side

def _call(cf, operation: str, stack_name: str, **params):
    """One CloudFormation call; an error is a DeployError with AWS's code and the translated message."""
    try:
        return aws.call(cf, operation, f"stack {stack_name}", **params)
    except AwsCallError as exc:
        raise DeployError(exc.message, code=exc.code, hint=exc.hint) from exc


def describe_stack(cf, name: str) -> dict | None:
    """The stack, or None when there is none.  CloudFormation answers a missing stack with the code
    ``ValidationError`` and the message "Stack with id NAME does not exist" (DescribeStacks, AWS
    CloudFormation API Reference), so both are checked."""
    try:
        return _call(cf, "DescribeStacks", name, StackName=name)["Stacks"][0]
    except DeployError as exc:
        if exc.code == "ValidationError" and "does not exist" in exc.message:
            return None
        raise


def failing_events(cf, name: str, limit: int = 10) -> list[dict]:
    """The newest failed resource events of the stack's last operation (none when they cannot be read)."""
    failed = [e for e in _events(cf, name) if e.get("ResourceStatus", "").endswith("_FAILED")]
    return failed[:limit]


def _template_args(cf_body: str, upload: Callable[[str], str] | None) -> dict:
    if len(cf_body.encode("utf-8")) <= MAX_TEMPLATE_BODY:
        return {"TemplateBody": cf_body}
    if upload is None:
        raise DeployError(f"template is {len(cf_body.encode())} bytes, over CloudFormation's inline limit of "
                          f"{MAX_TEMPLATE_BODY}", hint="pass --template-bucket BUCKET to upload it to S3 first")
    return {"TemplateURL": upload(cf_body)}


def plan(cf, stack_name: str, template: dict, parameters: Mapping[str, str], *, product: str,
         tags: Mapping[str, str] | None = None, upload: Callable[[str], str] | None = None,
         progress: Progress | None = None, timeout: float = 600, poll: float = 2.0) -> Plan:
    """Create a change set for ``stack_name`` and read its changes (see the module docstring)."""
    progress = progress or (lambda _m: None)
    stack = describe_stack(cf, stack_name)
    status = stack["StackStatus"] if stack else None
    if status in STUCK_STATES:
        raise DeployError(f"stack {stack_name} is in state {status}: "
                          + STUCK_STATES[status].format(name=stack_name), failing_events(cf, stack_name))
    if status and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise DeployError(f"stack {stack_name} is busy ({status}): another operation is running",
                          hint="wait until it finishes (aws cloudformation describe-stacks) and run again")
    change_type = "UPDATE" if status and status != "REVIEW_IN_PROGRESS" else "CREATE"
    previous = {p["ParameterKey"] for p in (stack or {}).get("Parameters", [])} if change_type == "UPDATE" else set()
    params = check_parameters(template, parameters, previous, product)
    body = json.dumps(template, separators=(",", ":"), sort_keys=True)
    name = f"hipaa-catalog-{time.strftime('%Y%m%d-%H%M%S')}-{int(time.time() * 1000) % 1000:03d}"
    progress(f"creating change set {name} ({change_type}) for stack {stack_name}")
    kwargs = dict(StackName=stack_name, ChangeSetName=name, ChangeSetType=change_type, Parameters=params,
                  Capabilities=CAPABILITIES, Description=f"hipaa-catalog deploy of {product}",
                  Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()], **_template_args(body, upload))
    try:
        created = _call(cf, "CreateChangeSet", stack_name, **kwargs)
    except DeployError as exc:
        if any(s in exc.message for s in NO_CHANGES):
            return Plan(stack_name, "NONE", None, parameters=dict(parameters))
        raise
    cs_id = created["Id"]
    deadline, delays = time.monotonic() + timeout, aws.backoff(poll)
    while True:
        desc = _call(cf, "DescribeChangeSet", stack_name, ChangeSetName=cs_id, StackName=stack_name)
        if desc["Status"] in ("CREATE_COMPLETE", "FAILED"):
            break
        if time.monotonic() > deadline:
            raise DeployError(f"change set {name} of stack {stack_name} still {desc['Status']} after {timeout:.0f}s")
        progress(f"change set {name}: {desc['Status']}")
        time.sleep(next(delays))
    if desc["Status"] == "FAILED":
        reason = desc.get("StatusReason", "")
        _call(cf, "DeleteChangeSet", stack_name, ChangeSetName=cs_id, StackName=stack_name)
        if any(s in reason for s in NO_CHANGES):
            return Plan(stack_name, "NONE", None, parameters=dict(parameters))
        raise DeployError(f"change set for stack {stack_name} failed: {reason}")
    changes = list(desc.get("Changes", []))
    while desc.get("NextToken"):
        desc = _call(cf, "DescribeChangeSet", stack_name, ChangeSetName=cs_id, StackName=stack_name,
                     NextToken=desc["NextToken"])
        changes += desc.get("Changes", [])
    rows = []
    for c in changes:
        rc = c.get("ResourceChange", {})
        props = [d["Target"]["Name"] for d in rc.get("Details", []) if d.get("Target", {}).get("Name")]
        rows.append({"action": rc.get("Action", ""), "logical_id": rc.get("LogicalResourceId", ""),
                     "resource_type": rc.get("ResourceType", ""), "replacement": rc.get("Replacement", ""),
                     "properties": sorted(set(props))})
    return Plan(stack_name, change_type, cs_id, rows, dict(parameters))


def discard(cf, p: Plan) -> None:
    """Delete a change set the administrator declined (a CREATE leaves the empty stack in review)."""
    if p.change_set_id:
        _call(cf, "DeleteChangeSet", p.stack_name, ChangeSetName=p.change_set_id, StackName=p.stack_name)


def execute(cf, p: Plan, *, progress: Progress | None = None, timeout: float = 3600, poll: float = 3.0) -> dict:
    """Execute the change set, wait for the stack, return ``{"status", "outputs"}``."""
    progress = progress or (lambda _m: None)
    seen = {e["EventId"] for e in _events(cf, p.stack_name)}
    try:
        aws.call(cf, "ExecuteChangeSet", f"stack {p.stack_name}", ChangeSetName=p.change_set_id,
                 StackName=p.stack_name)
    except AwsCallError as exc:
        raise DeployError(exc.message, failing_events(cf, p.stack_name), code=exc.code, hint=exc.hint) from exc
    progress(f"executing {p.change_set_type} of stack {p.stack_name}")
    deadline, delays = time.monotonic() + timeout, aws.backoff(poll)
    while True:
        stack = describe_stack(cf, p.stack_name)
        for e in reversed(_events(cf, p.stack_name)):
            if e["EventId"] not in seen:
                seen.add(e["EventId"])
                reason = f": {e['ResourceStatusReason']}" if e.get("ResourceStatusReason") else ""
                progress(f"{e['ResourceStatus']:<20} {e['ResourceType']} {e['LogicalResourceId']}{reason}")
        status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
        if not status.endswith("_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise DeployError(f"stack {p.stack_name} still {status} after {timeout:.0f}s",
                              hint="it keeps running in CloudFormation; check it with aws cloudformation "
                                   "describe-stacks and run again when it has finished")
        time.sleep(next(delays))
    if status not in OK_STATES:
        raise DeployError(f"stack {p.stack_name} ended in state {status}: CloudFormation rolled the "
                          f"{p.change_set_type.lower()} back", failing_events(cf, p.stack_name),
                          hint=STUCK_STATES.get(status, "fix the cause named above and run again")
                          .format(name=p.stack_name))
    return {"status": status, "outputs": outputs(stack)}


def _events(cf, name: str) -> list[dict]:
    """The newest page of the stack's events (newest first); none when they cannot be read, as this only
    adds detail to progress and to an error that is already being reported."""
    try:
        return aws.call(cf, "DescribeStackEvents", f"stack {name}", StackName=name)["StackEvents"]
    except AwsCallError:
        return []


def outputs(stack: dict | None) -> dict[str, str]:
    return {o["OutputKey"]: o.get("OutputValue", "") for o in (stack or {}).get("Outputs", [])}


def upload_template(s3, bucket: str, entry: manifests.Entry, body: str) -> str:
    """Upload a template too large to send inline; return the URL CloudFormation reads it from."""
    key = f"admin/{entry.name}/{entry.version}/{entry.sha256}.json"
    try:
        aws.call(s3, "PutObject", f"s3://{bucket}/{key}", Bucket=bucket, Key=key, Body=body.encode("utf-8"),
                 ServerSideEncryption="aws:kms", ContentType="application/json")
    except AwsCallError as exc:
        raise DeployError(exc.message, code=exc.code, hint=exc.hint) from exc
    return f"{s3.meta.endpoint_url.rstrip('/')}/{bucket}/{key}"
