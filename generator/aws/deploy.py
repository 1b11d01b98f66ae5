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

Before any of that, nothing of AWS is asked until the inputs pass local checks: the region is one of the
catalog's (the launch role's: the primary region only, since IAM names are account-wide), and every
``-p`` value satisfies the template's constraints (``generator.aws.parameters``, the code ``launch``
uses too).  For the account baseline, some parameters are then *decided* by looking at the account
(``baseline_decisions``): ``GlobalResources`` (the primary region only), ``ConfigRecording`` (adopt an
existing AWS Config recorder and channel) and the replica bucket of the log bucket.  Each decision is a
``Decision`` the command prints with the change table.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from generator.aws import api as aws, parameters
from generator.blocks import admin_settings as admin
from generator.errors import AwsCallError, ConfigError, DeployError, Interrupted
from generator.pipeline import manifest as manifests
from generator.settings import Settings

Progress = Callable[[str], None]
Status = Callable[[str, float], None]   # what is being waited for, and the seconds waited so far
NOTHING_CHANGED = "stack {name}: interrupted before its change set was executed: nothing changed"

# The administrator's stacks: which built template (manifest name) and which default stack name.
BASELINE = "account-baseline"
LAUNCH_ROLE = "launch-role"
LOG_REPLICA = "log-replica"   # organisation only: deployed by deploy-baseline --organization before the baseline
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


def parameter_hint(product: str) -> str:
    return (f"fix the -p Key=Value values; the Parameters section of build/{product}/<version>/template.json gives "
            "each parameter's constraint")


def check_given(template: dict, given: Mapping[str, str], product: str) -> None:
    """Refuse unknown names and values breaking the template's constraints, before any AWS call."""
    parameters.check(parameters.template_specs(template), given, where=product, kept=None,
                     hint=parameter_hint(product))


def check_parameters(template: dict, given: Mapping[str, str], previous: set[str], product: str) -> list[dict]:
    """CloudFormation parameters for ``given``: unknown names, values breaking a constraint and required
    parameters neither given nor kept from the stack (``previous``) are refused."""
    parameters.check(parameters.template_specs(template), given, where=product, kept=previous,
                     hint=parameter_hint(product))
    declared = template.get("Parameters", {})
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()]
    params += [{"ParameterKey": k, "UsePreviousValue": True} for k in declared if k not in given and k in previous]
    return params


def check_region(region: str, settings: Settings, product: str) -> None:
    """A stack goes to a catalog region only; the launch role to the primary (first) region only.

    IAM names are account-wide: "Naming an IAM resource can cause an unrecoverable error if you reuse the
    same template in multiple Regions" (*AWS::IAM::Role*, AWS CloudFormation User Guide,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-iam-role.html), so the
    stack naming one (the launch role; the baseline's developer group and trail, GlobalResources=YES) is
    created once, in the primary region."""
    settings.require_region(region, product)
    regions = settings.regions
    if product == LAUNCH_ROLE and region != regions[0]:
        raise ConfigError(f"{product}: the launch role {admin.LAUNCH_ROLE_NAME} is created once per account, in "
                          f"the catalog's primary region {regions[0]}, not in {region}: IAM role names are "
                          "account-wide, so a second stack naming it would fail and roll back",
                          hint=f"run hipaa-catalog deploy-launch-role --region {regions[0]}")


# --------------------------------------------------------------------------------------------- AWS side

def _aws(c, operation: str, resource: str, **params):
    """One AWS call; an error is a DeployError with AWS's code and the translated message."""
    try:
        return aws.call(c, operation, resource, **params)
    except AwsCallError as exc:
        raise DeployError(exc.message, code=exc.code, hint=exc.hint) from exc


def _call(cf, operation: str, stack_name: str, **params):
    """One CloudFormation call on stack ``stack_name``."""
    return _aws(cf, operation, f"stack {stack_name}", **params)


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


def refuse_unusable(cf, stack_name: str, stack: Mapping | None) -> str | None:
    """The stack's status; a stack CloudFormation would not update (failed, or busy) is refused."""
    status = stack["StackStatus"] if stack else None
    if status in STUCK_STATES:
        raise DeployError(f"stack {stack_name} is in state {status}: "
                          + STUCK_STATES[status].format(name=stack_name), failing_events(cf, stack_name))
    if status and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise DeployError(f"stack {stack_name} is busy ({status}): another operation is running",
                          hint="wait until it finishes (aws cloudformation describe-stacks) and run again")
    return status


def template_args(cf_body: str, upload: Callable[[str], str] | None) -> dict:
    if len(cf_body.encode("utf-8")) <= MAX_TEMPLATE_BODY:
        return {"TemplateBody": cf_body}
    if upload is None:
        raise DeployError(f"template is {len(cf_body.encode())} bytes, over CloudFormation's inline limit of "
                          f"{MAX_TEMPLATE_BODY}", hint="pass --template-bucket BUCKET to upload it to S3 first")
    return {"TemplateURL": upload(cf_body)}


def plan(cf, stack_name: str, template: dict, given: Mapping[str, str], *, product: str,
         tags: Mapping[str, str] | None = None, upload: Callable[[str], str] | None = None,
         progress: Progress | None = None, timeout: float = 600, poll: float = 2.0,
         stop: threading.Event | None = None) -> Plan:
    """Create a change set for ``stack_name`` and read its changes (see the module docstring).  Once
    ``stop`` is set (Ctrl-C), nothing new starts: a change set already created is deleted and
    ``Interrupted`` says that nothing changed."""
    progress = progress or (lambda _m: None)
    stop = stop or threading.Event()
    if stop.is_set():
        raise Interrupted(NOTHING_CHANGED.format(name=stack_name), hint="run the same command again")
    stack = describe_stack(cf, stack_name)
    status = refuse_unusable(cf, stack_name, stack)
    change_type = "UPDATE" if status and status != "REVIEW_IN_PROGRESS" else "CREATE"
    previous = {p["ParameterKey"] for p in (stack or {}).get("Parameters", [])} if change_type == "UPDATE" else set()
    params = check_parameters(template, given, previous, product)
    body = json.dumps(template, separators=(",", ":"), sort_keys=True)
    name = f"hipaa-catalog-{time.strftime('%Y%m%d-%H%M%S')}-{int(time.time() * 1000) % 1000:03d}"
    progress(f"creating change set {name} ({change_type}) for stack {stack_name}")
    kwargs = dict(StackName=stack_name, ChangeSetName=name, ChangeSetType=change_type, Parameters=params,
                  Capabilities=CAPABILITIES, Description=f"hipaa-catalog deploy of {product}",
                  Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()], **template_args(body, upload))
    try:
        created = _call(cf, "CreateChangeSet", stack_name, **kwargs)
    except DeployError as exc:
        if any(s in exc.message for s in NO_CHANGES):
            return Plan(stack_name, "NONE", None, parameters=dict(given))
        raise
    cs_id = created["Id"]
    deadline, delays = time.monotonic() + timeout, aws.backoff(poll)
    while True:
        if stop.is_set():
            discard(cf, Plan(stack_name, change_type, cs_id))
            raise Interrupted(NOTHING_CHANGED.format(name=stack_name) + f" (change set {name} deleted)",
                              hint="run the same command again")
        desc = _call(cf, "DescribeChangeSet", stack_name, ChangeSetName=cs_id, StackName=stack_name)
        if desc["Status"] in ("CREATE_COMPLETE", "FAILED"):
            break
        if time.monotonic() > deadline:
            raise DeployError(f"change set {name} of stack {stack_name} still {desc['Status']} after {timeout:.0f}s")
        progress(f"change set {name}: {desc['Status']}")
        stop.wait(next(delays))
    if desc["Status"] == "FAILED":
        reason = desc.get("StatusReason", "")
        _call(cf, "DeleteChangeSet", stack_name, ChangeSetName=cs_id, StackName=stack_name)
        if any(s in reason for s in NO_CHANGES):
            return Plan(stack_name, "NONE", None, parameters=dict(given))
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
    return Plan(stack_name, change_type, cs_id, rows, dict(given))


def discard(cf, p: Plan) -> None:
    """Delete a change set the administrator declined (a CREATE leaves the empty stack in review)."""
    if p.change_set_id:
        _call(cf, "DeleteChangeSet", p.stack_name, ChangeSetName=p.change_set_id, StackName=p.stack_name)


def execute(cf, p: Plan, *, progress: Progress | None = None, status: Status | None = None, timeout: float = 3600,
            poll: float = 3.0, stop: threading.Event | None = None) -> dict:
    """Execute the change set, wait for the stack (each new event a ``progress`` line, the stack's status
    and the time waited given to ``status``), return ``{"status", "outputs"}``.  Once ``stop`` is set
    (Ctrl-C) the wait ends: the operation goes on in CloudFormation and ``Interrupted`` says how to follow
    it; before ExecuteChangeSet, the change set is deleted and nothing changes."""
    progress = progress or (lambda _m: None)
    status = status or (lambda _s, _t: None)
    stop = stop or threading.Event()
    seen: set[str] = set()
    aws.new_stack_events(cf, p.stack_name, seen)
    if stop.is_set():
        discard(cf, p)
        raise Interrupted(NOTHING_CHANGED.format(name=p.stack_name) + " (change set deleted)",
                          hint="run the same command again")
    progress(f"executing {p.change_set_type} of stack {p.stack_name}")
    try:
        aws.call(cf, "ExecuteChangeSet", f"stack {p.stack_name}", ChangeSetName=p.change_set_id,
                 StackName=p.stack_name)
    except AwsCallError as exc:
        raise DeployError(exc.message, failing_events(cf, p.stack_name), code=exc.code, hint=exc.hint) from exc
    started = time.monotonic()
    deadline, delays = started + timeout, aws.backoff(poll)
    while True:
        if stop.is_set():
            raise still_running(cf, p)
        stack = describe_stack(cf, p.stack_name)
        for e in aws.new_stack_events(cf, p.stack_name, seen):
            progress(aws.event_line(e))
        state = stack["StackStatus"] if stack else "DELETE_COMPLETE"
        if not state.endswith("_IN_PROGRESS"):
            break
        status(f"stack {p.stack_name}: {state}", time.monotonic() - started)
        if time.monotonic() > deadline:
            raise DeployError(f"stack {p.stack_name} still {state} after {timeout:.0f}s",
                              hint="it keeps running in CloudFormation; check it with aws cloudformation "
                                   "describe-stacks and run again when it has finished")
        stop.wait(next(delays))
    if state not in OK_STATES:
        raise DeployError(f"stack {p.stack_name} ended in state {state}: CloudFormation rolled the "
                          f"{p.change_set_type.lower()} back", failing_events(cf, p.stack_name),
                          hint=STUCK_STATES.get(state, "fix the cause named above and run again")
                          .format(name=p.stack_name))
    return {"status": state, "outputs": outputs(stack)}


def still_running(cf, p: Plan) -> Interrupted:
    """What to do after Ctrl-C once the change set was executed: the operation goes on in CloudFormation
    (stopping the client does not stop it), and a re-run while it does is refused (``refuse_unusable``)."""
    region = cf.meta.region_name
    return Interrupted(
        f"stack {p.stack_name}: stopped waiting; the {p.change_set_type.lower()} was started (ExecuteChangeSet "
        "accepted) and goes on in CloudFormation",
        hint=f"follow it with `aws cloudformation describe-stack-events --stack-name {p.stack_name} --region "
             f"{region}`; once the stack is *_COMPLETE, run the same command again: it finds no changes and "
             "prints the outputs and next steps")


def _events(cf, name: str) -> list[dict]:
    """The newest page of the stack's events (newest first); none when they cannot be read, as this only
    adds detail to an error that is already being reported."""
    try:
        return aws.call(cf, "DescribeStackEvents", f"stack {name}", StackName=name)["StackEvents"]
    except AwsCallError:
        return []


def outputs(stack: dict | None) -> dict[str, str]:
    return {o["OutputKey"]: o.get("OutputValue", "") for o in (stack or {}).get("Outputs", [])}


# --------------------------------------------------------------------------------- baseline decisions

Clients = Callable[[str, str], object]  # (service, region) -> boto3 client

# Service-linked recorders belong to another AWS service and do not count against the one customer
# managed recorder per region; their names start with this prefix and they carry a servicePrincipal
# (*PutServiceLinkedConfigurationRecorder* and *ConfigurationRecorder*, AWS Config API Reference,
# https://docs.aws.amazon.com/config/latest/APIReference/API_ConfigurationRecorder.html).
SERVICE_LINKED_RECORDER = "AWSConfigurationRecorderFor"
OWN_CONFIG = ("ConfigRecorder", "ConfigDeliveryChannel")  # the baseline's logical ids


@dataclass(frozen=True)
class Decision:
    """A parameter deploy-baseline set after looking at the account, and why."""

    parameter: str
    value: str
    why: str
    next_step: str = ""


def _declares(template: Mapping, name: str) -> bool:
    return name in (template.get("Parameters") or {})


def decide_global_resources(template: Mapping, given: Mapping[str, str], region: str,
                            primary: str) -> Decision | None:
    """GlobalResources is YES in the primary region and NO elsewhere; any other value is refused."""
    if not _declares(template, admin.GLOBAL_RESOURCES):
        return None
    want = "YES" if region == primary else "NO"
    value = given.get(admin.GLOBAL_RESOURCES)
    if value is not None and value != want:
        raise ConfigError(
            f"{BASELINE}: {admin.GLOBAL_RESOURCES}={value} in {region}: the trail, the CIS alarms and the "
            f"{admin.DEVELOPER_GROUP} group are created once per account, by the stack in the catalog's primary "
            f"region {primary} ({admin.GLOBAL_RESOURCES}=YES there and NO in every other region)",
            hint=f"leave {admin.GLOBAL_RESOURCES} out; deploy-baseline sets it from the region")
    why = (f"{region} is the catalog's primary region: the account's trail, CIS alarms and developer group are "
           "created here" if want == "YES" else
           f"{region} is not the catalog's primary region ({primary}), whose stack holds the account's trail, "
           "CIS alarms and developer group")
    return Decision(admin.GLOBAL_RESOURCES, want, why)


def _own_physical_ids(cf, stack_name: str, stack: Mapping | None) -> dict[str, str]:
    """Physical ids of the stack's own AWS Config recorder and channel, by logical id."""
    if not stack:
        return {}
    rows = aws.pages(cf, "ListStackResources", "StackResourceSummaries", f"stack {stack_name}", StackName=stack_name)
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in rows
            if r["LogicalResourceId"] in OWN_CONFIG and r.get("PhysicalResourceId")}


def decide_config_recording(template: Mapping, given: Mapping[str, str], region: str, config_client, cf,
                            stack_name: str, stack: Mapping | None) -> Decision | None:
    """CREATE the AWS Config recorder and channel, or use the account's EXISTING ones.

    DescribeConfigurationRecorders without names "returns details for the customer managed configuration
    recorder" and DescribeDeliveryChannels "the details of all delivery channels" (AWS Config API
    Reference, https://docs.aws.amazon.com/config/latest/APIReference/API_DescribeConfigurationRecorders.html,
    .../API_DescribeDeliveryChannels.html); the stack's own recorder and channel (an update) do not count.
    A recorder without a channel, or a channel without a recorder, is refused: the baseline cannot create
    the missing half next to the other (one of each per region) and a Config rule needs a recorder."""
    if not _declares(template, admin.CONFIG_RECORDING):
        return None
    where = f"AWS Config in {region}"
    described = _aws(config_client, "DescribeConfigurationRecorders", where).get("ConfigurationRecorders", [])
    recorders = [r for r in described
                 if not r.get("servicePrincipal") and not r.get("name", "").startswith(SERVICE_LINKED_RECORDER)]
    channels = _aws(config_client, "DescribeDeliveryChannels", where).get("DeliveryChannels", [])
    own = _own_physical_ids(cf, stack_name, stack)
    recorder = next((r for r in recorders if r.get("name") != own.get("ConfigRecorder")), None)
    channel = next((c for c in channels if c.get("name") != own.get("ConfigDeliveryChannel")), None)
    value = given.get(admin.CONFIG_RECORDING)
    if recorder and channel:
        group = recorder.get("recordingGroup") or {}
        records = ("all supported resource types" if group.get("allSupported") else "selected resource types") + \
            (" including global ones (IAM)" if group.get("includeGlobalResourceTypes") else "")
        if value == admin.CONFIG_CREATE:
            raise ConfigError(
                f"{BASELINE}: {admin.CONFIG_RECORDING}=CREATE in {region}, but the account already has the "
                f"configuration recorder {recorder.get('name')!r} and the delivery channel {channel.get('name')!r} "
                "there; AWS Config allows one of each per account and region, so the stack would fail",
                hint=f"leave {admin.CONFIG_RECORDING} out (or pass {admin.CONFIG_EXISTING}) to use them")
        return Decision(admin.CONFIG_RECORDING, admin.CONFIG_EXISTING,
                        f"the account already records in {region}: adopting recorder {recorder.get('name')!r} "
                        f"({records}) and delivery channel {channel.get('name')!r} (bucket "
                        f"{channel.get('s3BucketName', '?')}); the stack creates neither (nor the recorder's role), "
                        "and AWS Config keeps delivering to that bucket, not to the baseline's log bucket")
    if recorder or channel:
        have, missing = (("recorder", recorder), "delivery channel") if recorder else (("delivery channel", channel),
                                                                                        "recorder")
        raise ConfigError(
            f"{BASELINE}: AWS Config in {region} has a configuration {have[0]} ({have[1].get('name')!r}) but no "
            f"{missing}: the baseline can neither adopt half a set-up nor create the other half beside it",
            hint=f"finish the set-up (aws configservice put-{missing.replace(' ', '-')} in {region}) or remove the "
                 f"{have[0]} (aws configservice delete-{have[0].replace(' ', '-')} --"
                 f"{'configuration-recorder' if recorder else 'delivery-channel'}-name {have[1].get('name')}), "
                 "then run deploy-baseline again")
    if value == admin.CONFIG_EXISTING:
        raise ConfigError(
            f"{BASELINE}: {admin.CONFIG_RECORDING}=EXISTING in {region}, but the account has no configuration "
            "recorder or delivery channel there besides the stack's own; the Config rules need a recorder "
            "(PutConfigRule: NoAvailableConfigurationRecorderException)",
            hint=f"leave {admin.CONFIG_RECORDING} out (or pass {admin.CONFIG_CREATE}) to create them")
    why = (f"the stack keeps its own recorder and delivery channel in {region}" if own else
           f"no configuration recorder or delivery channel in {region}: the stack creates them, delivering to "
           "the log bucket")
    return Decision(admin.CONFIG_RECORDING, admin.CONFIG_CREATE, why)


def _replica_region(template: Mapping, region: str) -> str:
    return template["Mappings"][admin.REPLICATION_MAPPING][region][admin.REPLICA_REGION]


def decide_replication(template: Mapping, given: Mapping[str, str], region: str, stack_name: str,
                       clients: Clients) -> list[Decision]:
    """The replica bucket and key of the log bucket: from the replica region's baseline stack, or the
    settings' bucket (the template's defaults).  S3 needs the destination to exist ("The destination bucket
    or buckets must already exist", *AWS::S3::Bucket*, AWS CloudFormation User Guide,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucket.html) and to be
    versioned (*Replicating objects*, Amazon S3 User Guide,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication.html); until the replica region's
    stack exists both stay empty and the log bucket does not replicate yet."""
    if not _declares(template, admin.REPLICA_BUCKET_ARN):
        return []
    for name in (admin.REPLICA_BUCKET_ARN, admin.REPLICA_KEY_ARN):
        if name in given:
            raise ConfigError(f"{BASELINE}: {name} is set by deploy-baseline from the replica region's baseline "
                              "stack (or from the catalog settings' replica_bucket_arn / replica_kms_key_arn)",
                              hint=f"leave -p {name} out")
    dest = _replica_region(template, region)
    declared = template["Parameters"]
    bucket_arn = str(declared[admin.REPLICA_BUCKET_ARN].get("Default", ""))
    key_arn = str(declared[admin.REPLICA_KEY_ARN].get("Default", ""))
    if bucket_arn:  # the settings name the destination
        bucket = bucket_arn.rsplit(":", 1)[-1]
        s3 = clients("s3", dest)
        try:
            aws.call(s3, "HeadBucket", f"s3://{bucket}", Bucket=bucket)
        except AwsCallError as exc:
            raise ConfigError(f"{BASELINE}: the replica bucket {bucket} the catalog settings name "
                              f"(replica_bucket_arn) cannot be reached in {dest}: {exc.message}",
                              hint=f"create it in {dest}, versioned, or fix replica_bucket_arn and run make build") \
                from exc
        status = _aws(s3, "GetBucketVersioning", f"s3://{bucket}", Bucket=bucket).get("Status")
        if status != "Enabled":
            raise ConfigError(f"{BASELINE}: the replica bucket {bucket} is not versioned (versioning "
                              f"{status or 'never enabled'}); S3 replicates only between versioned buckets",
                              hint=f"aws s3api put-bucket-versioning --bucket {bucket} "
                                   "--versioning-configuration Status=Enabled, then run again")
        why = f"the log bucket replicates to {bucket} in {dest} (the catalog settings' replica bucket)"
        return [Decision(admin.REPLICA_BUCKET_ARN, bucket_arn, why), Decision(admin.REPLICA_KEY_ARN, key_arn,
                                                                             f"encrypts the replicas in {dest}")]
    partner = describe_stack(clients("cloudformation", dest), stack_name)
    outs = outputs(partner) if partner and partner["StackStatus"] in OK_STATES else {}
    bucket_arn, key_arn = outs.get(admin.REPLICA_BUCKET_OUTPUT, ""), outs.get(admin.LOG_KEY_OUTPUT, "")
    if bucket_arn and key_arn:
        why = (f"the log bucket replicates to {bucket_arn.rsplit(':', 1)[-1]}, the replica bucket of stack "
               f"{stack_name} in {dest}")
        return [Decision(admin.REPLICA_BUCKET_ARN, bucket_arn, why),
                Decision(admin.REPLICA_KEY_ARN, key_arn, f"the logs key of {dest} encrypts the replicas")]
    state = partner["StackStatus"] if partner else "not deployed"
    why = (f"replication pending: the replica bucket in {dest} does not exist yet (stack {stack_name} there: "
           f"{state}), and S3 needs the destination to exist; objects written before replication is on are "
           "not replicated")
    step = f"hipaa-catalog deploy-baseline --region {dest}, then this command again, turns replication on"
    return [Decision(admin.REPLICA_BUCKET_ARN, "", why, step), Decision(admin.REPLICA_KEY_ARN, "", "(pending)")]


def replication_followups(template: Mapping, region: str, regions: tuple[str, ...], stack_name: str,
                          clients: Clients) -> list[str]:
    """Next steps after deploying ``region``: the catalog regions whose log bucket replicates into it and
    whose stack still waits for it (replication pending)."""
    mapping = (template.get("Mappings") or {}).get(admin.REPLICATION_MAPPING) or {}
    steps = []
    for source in regions:
        if source == region or (mapping.get(source) or {}).get(admin.REPLICA_REGION) != region:
            continue
        stack = describe_stack(clients("cloudformation", source), stack_name)
        values = {p["ParameterKey"]: p.get("ParameterValue", "") for p in (stack or {}).get("Parameters", [])}
        if stack and stack["StackStatus"] in OK_STATES and values.get(admin.REPLICA_BUCKET_ARN, "x") == "":
            steps.append(f"hipaa-catalog deploy-baseline --region {source}: turns on the replication of its log "
                         f"bucket into {region}'s replica bucket, which exists now")
    return steps


def upload_template(s3, bucket: str, entry: manifests.Entry, body: str) -> str:
    """Upload a template too large to send inline; return the URL CloudFormation reads it from.  The key is
    the sha256 of ``body``, which may differ from the built file (a stack set's template reads its account inputs
    from SSM)."""
    key = f"admin/{entry.name}/{entry.version}/{hashlib.sha256(body.encode('utf-8')).hexdigest()}.json"
    try:
        aws.call(s3, "PutObject", f"s3://{bucket}/{key}", Bucket=bucket, Key=key, Body=body.encode("utf-8"),
                 ServerSideEncryption="aws:kms", ContentType="application/json")
    except AwsCallError as exc:
        raise DeployError(exc.message, code=exc.code, hint=exc.hint) from exc
    return f"{s3.meta.endpoint_url.rstrip('/')}/{bucket}/{key}"


# ----------------------------------------------------------------------- web server placement and AMI

def _previous(stack: Mapping | None) -> dict[str, str]:
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in (stack or {}).get("Parameters", [])}


def _subnet_list(given: Mapping[str, str], previous: Mapping[str, str], key: str) -> list[str]:
    return [s.strip() for s in (given.get(key) or previous.get(key) or "").split(",") if s.strip()]


def decide_placement(template: Mapping, given: Mapping[str, str], region: str, ec2,
                     stack: Mapping | None) -> list[Decision]:
    """``InstanceSubnetId`` and ``InstanceAvailabilityZone``: the private subnet web servers launch into, in
    an Availability Zone where the load balancers have a public subnet, or the settings are refused with the
    subnets named.

    A load balancer sends no traffic to a target outside its zones: "If you register targets in an
    Availability Zone but do not enable the Availability Zone, these registered targets do not receive
    traffic" (*How Elastic Load Balancing works*,
    https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/how-elastic-load-balancing-works.html),
    and an Application Load Balancer needs subnets in two zones: "You must select at least two Availability
    Zone subnets" (*Application Load Balancers*,
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html).
    The stack's previous subnet is kept while it is still valid: moving it moves every web server at its
    next update (a new instance, and a new PHI volume in the new zone: the old one leaves its final snapshot)."""
    subnet_key, zone_key = admin.INSTANCE_SUBNET_PARAMETER, admin.INSTANCE_AZ_PARAMETER
    if not _declares(template, subnet_key):
        return []
    previous = _previous(stack)
    private, public = _subnet_list(given, previous, "PrivateSubnetIds"), _subnet_list(given, previous, "PublicSubnetIds")
    vpc = given.get("VpcId") or previous.get("VpcId")
    if not private or not public or not vpc:
        return []  # required parameters missing: the parameter check names them
    subnets = describe_subnets(ec2, [*private, *public], region)
    outside = [f"{s} ({subnets[s]['VpcId']})" for s in [*private, *public] if subnets[s]["VpcId"] != vpc]
    if outside:
        raise ConfigError(f"{BASELINE}: subnets outside VpcId {vpc}: {', '.join(outside)}",
                          hint="give PrivateSubnetIds and PublicSubnetIds of that VPC, or its VpcId")
    zone = {s: subnets[s]["AvailabilityZone"] for s in subnets}
    public_zones = sorted({zone[s] for s in public})
    listing = (f"private subnets {', '.join(f'{s} ({zone[s]})' for s in private)}; public subnets "
               f"{', '.join(f'{s} ({zone[s]})' for s in public)}")
    if len(public_zones) < 2:
        raise ConfigError(f"{BASELINE}: PublicSubnetIds are all in {public_zones[0]}: an Application Load Balancer "
                          f"needs subnets in at least two Availability Zones ({listing})",
                          hint="add a public subnet of another Availability Zone to PublicSubnetIds")
    usable = [s for s in private if zone[s] in public_zones]
    if not usable:
        raise ConfigError(f"{BASELINE}: no private subnet is in an Availability Zone of the public subnets, so a "
                          f"load balancer could never reach a web server ({listing})",
                          hint="add a private subnet in one of " + ", ".join(public_zones) + " to PrivateSubnetIds, "
                               "or a public subnet in a private subnet's zone to PublicSubnetIds")
    wanted = given.get(subnet_key)
    if wanted is not None and wanted not in usable:
        why = "is not one of PrivateSubnetIds" if wanted not in private else \
            f"is in {zone[wanted]}, where no public subnet is"
        raise ConfigError(f"{BASELINE}: {subnet_key}={wanted} {why} ({listing})",
                          hint=f"leave {subnet_key} out (deploy-baseline chooses one) or give one of {', '.join(usable)}")
    kept = previous.get(subnet_key)
    if wanted:
        chosen, why = wanted, "given"
    elif kept in usable:
        chosen, why = kept, "kept from the stack: web servers stay where they are"
    else:
        chosen = usable[0]
        why = (f"the first private subnet in an Availability Zone of the load balancers' subnets ({', '.join(public_zones)})"
               + (f"; the previous one, {kept}, is no longer usable: web servers move at their next update (a new "
                  "instance, and a new PHI volume: the old one leaves its final snapshot)" if kept else ""))
    given_zone = given.get(zone_key)
    if given_zone is not None and given_zone != zone[chosen]:
        raise ConfigError(f"{BASELINE}: {zone_key}={given_zone}, but {subnet_key} {chosen} is in {zone[chosen]}",
                          hint=f"leave {zone_key} out: deploy-baseline sets it from the subnet")
    return [Decision(subnet_key, chosen, why),
            Decision(zone_key, zone[chosen], f"the Availability Zone of {chosen} (PHI volumes are created there)")]


def describe_subnets(ec2, subnet_ids: list[str], region: str) -> dict[str, dict]:
    """Each subnet's description by id; missing ones are refused naming them.  EC2 answers a missing subnet
    with ``InvalidSubnetID.NotFound`` (*Error codes for the Amazon EC2 API*,
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html)."""
    ids = list(dict.fromkeys(subnet_ids))
    try:
        found = aws.call(ec2, "DescribeSubnets", f"subnets in {region}", SubnetIds=ids)["Subnets"]
    except AwsCallError as exc:
        if exc.code != "InvalidSubnetID.NotFound":
            raise DeployError(exc.message, code=exc.code, hint=exc.hint) from exc
        found = []
        for subnet in ids:
            try:
                found += aws.call(ec2, "DescribeSubnets", f"subnet {subnet}", SubnetIds=[subnet])["Subnets"]
            except AwsCallError as one:
                if one.code != "InvalidSubnetID.NotFound":
                    raise DeployError(one.message, code=one.code, hint=one.hint) from one
    by_id = {s["SubnetId"]: s for s in found}
    missing = [s for s in ids if s not in by_id]
    if missing:
        raise ConfigError(f"{BASELINE}: no subnet {', '.join(missing)} in {region}",
                          hint="give subnets of the VPC in this region (aws ec2 describe-subnets)")
    return by_id


def decide_ami(template: Mapping, given: Mapping[str, str], region: str, ssm, stack: Mapping | None
               ) -> Decision | None:
    """``WebServerImageId``: given, else the stack's (web servers change AMI only when the administrator says
    so), else the newest Amazon Linux 2023 x86_64 AMI of the public parameter ``admin.PUBLIC_AL2023_AMI``."""
    key = admin.AMI_PARAMETER
    if not _declares(template, key) or key in given:
        return None
    kept = _previous(stack).get(key)
    if kept:
        return Decision(key, kept, "kept from the stack: new launches keep this AMI until you give -p "
                                   f"{key}=ami-… (aws ssm get-parameter --name {admin.PUBLIC_AL2023_AMI} shows the newest)")
    name = admin.PUBLIC_AL2023_AMI
    found = _aws(ssm, "GetParameter", f"SSM parameter {name} in {region}", Name=name)["Parameter"]
    return Decision(key, found["Value"], f"the newest Amazon Linux 2023 x86_64 AMI now ({name}, version "
                                         f"{found.get('Version')}); later deploys keep it until you give -p {key}=ami-…")
