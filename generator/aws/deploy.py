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

from botocore.exceptions import BotoCoreError, ClientError

from generator.pipeline import build as pipeline
from generator.aws import api as aws
from generator.aws.consumer import backoff
from generator.errors import AwsError, BuildError, ConfigError

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
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


class DeployError(AwsError):
    """A stack could not be created or updated; ``events`` are its failing resource events."""

    def __init__(self, message: str, events=(), *, hint: str | None = None):
        lines = [f"  {e['LogicalResourceId']} ({e['ResourceType']}): {e['ResourceStatus']}: "
                 f"{e.get('ResourceStatusReason') or 'no reason given'}" for e in events]
        full = message + ("\nfailing resource events (newest first):\n" + "\n".join(lines) if lines else "")
        super().__init__(full, hint=hint)
        self.events = list(events)


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

def load_template(name: str, out_dir: Path = pipeline.DEFAULT_OUT) -> tuple[dict, dict]:
    """The manifest entry and the parsed template of built product ``name`` (e.g. account-baseline)."""
    manifest = pipeline.load_manifest(out_dir)
    entries = {p["name"]: p for p in manifest.get("products", [])}
    if name not in entries:
        raise BuildError(f"{Path(out_dir) / pipeline.MANIFEST}: no product {name!r} in the manifest; "
                         f"built: {', '.join(entries) or 'nothing'}", hint="run `make build` first")
    entry = entries[name]
    path = Path(out_dir) / entry["path"]
    try:
        return entry, json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BuildError(f"{path}: listed in the manifest but missing", hint="run `make build` again") from exc


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

def _translate(exc: Exception, action: str) -> DeployError:
    err = aws.translate(exc, action, "")
    return DeployError(err.message, hint=err.hint)


def _call(action: str, fn, **kwargs):
    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise _translate(exc, action) from exc


def describe_stack(cf, name: str) -> dict | None:
    try:
        return cf.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
            return None
        raise _translate(exc, f"describe stack {name}") from exc
    except BotoCoreError as exc:
        raise _translate(exc, f"describe stack {name}") from exc


def failing_events(cf, name: str, limit: int = 10) -> list[dict]:
    """The newest failed resource events of the stack's last operation."""
    try:
        events = cf.describe_stack_events(StackName=name)["StackEvents"]
    except (ClientError, BotoCoreError):
        return []
    failed = [e for e in events if e.get("ResourceStatus", "").endswith("_FAILED")]
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
        created = cf.create_change_set(**kwargs)
    except ClientError as exc:
        if any(s in exc.response.get("Error", {}).get("Message", "") for s in NO_CHANGES):
            return Plan(stack_name, "NONE", None, parameters=dict(parameters))
        raise _translate(exc, f"create change set for stack {stack_name}") from exc
    except BotoCoreError as exc:
        raise _translate(exc, f"create change set for stack {stack_name}") from exc
    cs_id = created["Id"]
    deadline, delays = time.monotonic() + timeout, backoff(poll)
    while True:
        desc = _call("describe change set", cf.describe_change_set, ChangeSetName=cs_id, StackName=stack_name)
        if desc["Status"] in ("CREATE_COMPLETE", "FAILED"):
            break
        if time.monotonic() > deadline:
            raise DeployError(f"change set {name} of stack {stack_name} still {desc['Status']} after {timeout:.0f}s")
        progress(f"change set {name}: {desc['Status']}")
        time.sleep(next(delays))
    if desc["Status"] == "FAILED":
        reason = desc.get("StatusReason", "")
        _call("delete change set", cf.delete_change_set, ChangeSetName=cs_id, StackName=stack_name)
        if any(s in reason for s in NO_CHANGES):
            return Plan(stack_name, "NONE", None, parameters=dict(parameters))
        raise DeployError(f"change set for stack {stack_name} failed: {reason}")
    changes = list(desc.get("Changes", []))
    while desc.get("NextToken"):
        desc = _call("describe change set", cf.describe_change_set, ChangeSetName=cs_id, StackName=stack_name,
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
        _call("delete change set", cf.delete_change_set, ChangeSetName=p.change_set_id, StackName=p.stack_name)


def execute(cf, p: Plan, *, progress: Progress | None = None, timeout: float = 3600, poll: float = 3.0) -> dict:
    """Execute the change set, wait for the stack, return ``{"status", "outputs"}``."""
    progress = progress or (lambda _m: None)
    seen = {e["EventId"] for e in _events(cf, p.stack_name)}
    try:
        cf.execute_change_set(ChangeSetName=p.change_set_id, StackName=p.stack_name)
    except (ClientError, BotoCoreError) as exc:
        err = aws.translate(exc, "ExecuteChangeSet", f"stack {p.stack_name}")
        raise DeployError(err.message, failing_events(cf, p.stack_name), hint=err.hint) from exc
    progress(f"executing {p.change_set_type} of stack {p.stack_name}")
    deadline, delays = time.monotonic() + timeout, backoff(poll)
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
    try:
        return cf.describe_stack_events(StackName=name)["StackEvents"]
    except (ClientError, BotoCoreError):
        return []


def outputs(stack: dict | None) -> dict[str, str]:
    return {o["OutputKey"]: o.get("OutputValue", "") for o in (stack or {}).get("Outputs", [])}


def upload_template(s3, bucket: str, entry: dict, body: str) -> str:
    """Upload a template too large to send inline; return the URL CloudFormation reads it from."""
    key = f"admin/{entry['name']}/{entry['version']}/{entry['sha256']}.json"
    _call("PutObject", s3.put_object, Bucket=bucket, Key=key, Body=body.encode("utf-8"),
          ServerSideEncryption="aws:kms", ContentType="application/json")
    return f"{s3.meta.endpoint_url.rstrip('/')}/{bucket}/{key}"
