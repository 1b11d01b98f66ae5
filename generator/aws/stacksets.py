"""The account baseline and the launch role in every account of the organisation: service-managed StackSets.

``deploy-baseline --organization`` and ``deploy-launch-role --organization`` run this from the hub (the
management account, or a delegated administrator with ``call_as = "DELEGATED_ADMIN"``), in the catalog's
primary region, with the settings' ``[organization]``:

- **Stack sets.** The log replicas are one stack set in every organisation region and the replica region of
  each (``deploy-baseline --organization`` deploys it before the baseline's).  The launch role is one stack set
  with instances in the primary region only (IAM names are account-wide).  The baseline is two:
  ``hipaa-catalog-account-baseline`` in the primary region with
  ``GlobalResources=YES`` (the trail, the CIS alarms, the developer group: once per account) and
  ``hipaa-catalog-account-baseline-regional`` in the other organisation regions with ``GlobalResources=NO``.
  Two stack sets, not parameter overrides, so an account that joins later gets exactly the stack-set values
  in every region.  ``PermissionModel=SERVICE_MANAGED`` with ``AutoDeployment`` ("StackSets automatically
  deploys additional stack instances to AWS Organizations accounts that are added to a target organization
  or organizational unit (OU) in the specified Regions. If an account is removed from a target organization
  or OU, StackSets deletes stack instances from the account", AutoDeployment, AWS CloudFormation API
  Reference): an account moved into a target OU needs no command of ours.  One moved out keeps its stacks
  by default (RetainStacksOnAccountRemoval: "If set to true, stack resources are retained when an account is
  removed from a target organization or OU", same page; see ``RETAIN_STACKS``).
- **Preview.** Before any change: the stack set's template and parameters against the built ones (the
  resources a template change adds, modifies or removes, by logical id), and for every account of the
  targets (AWS Organizations, ``generator.aws.organization``) and region whether its stack instance is
  created, updated or left as it is, with its current status and drift (ListStackInstances: Status
  CURRENT | OUTDATED | INOPERABLE, DriftStatus).  StackSets has no change sets, so the per-resource preview
  is the template difference; conditions (``GlobalResources``) are not evaluated in it.
- **Execution.** CreateStackSet (ClientRequestToken), UpdateStackSet and CreateStackInstances (an
  OperationId: "The operation ID also functions as an idempotency token"), each with the settings'
  OperationPreferences (MaxConcurrentCount, FailureToleranceCount, ConcurrencyMode; they "don't apply to
  AutoDeployment"), waited for with DescribeStackSetOperation, and progress per stack instance from
  ListStackSetOperationResults (Account, Region, Status, StatusReason).  Nothing changed: no write call.
- **An OU no longer in the targets.** Its accounts' stack instances are listed in the preview as ``delete``
  rows; running removes them with DeleteStackInstances (that OU as DeploymentTargets, with
  AccountFilterType DIFFERENCE for accounts of it that another target still covers), which also takes the OU
  out of the stack set's targets, so accounts joining it later get nothing.  ``RETAIN_STACKS``: the stacks
  are kept in the accounts (see there why).
- **A region no longer in the settings.** The same: ``delete`` rows for the instances there, then one
  DeleteStackInstances (the OUs that stay targets, those regions, RetainStacks), run before an update so the
  stack set is not applied there again.
- **Prerequisite.** Trusted access between StackSets and Organizations (DescribeOrganizationsAccess);
  ActivateOrganizationsAccess is the fix, run in the management account.

- **Account inputs.** A stack set has one value per parameter for every account, but the baseline's network,
  certificate, DNS and AMI are each account's own.  So the stack set's template is the built template with
  those parameters (``ACCOUNT_INPUTS``) turned into Systems Manager parameter types,
  ``AWS::SSM::Parameter::Value<TYPE>`` defaulting to ``<ssm_prefix>/account-inputs/<Name>`` (its name, never
  given with ``-p``), which
  CloudFormation resolves in the account and region of each stack instance ("Specify existing resources at
  runtime with CloudFormation-supplied parameter types", AWS CloudFormation User Guide); whoever vends an
  account writes those parameters before it joins a target OU.  Its resources, conditions and outputs are
  the built ones byte for byte (a test checks it); the placement ``Rules``, which read subnet attributes
  of those parameters, are left out (``hipaa-catalog doctor`` in the account checks placement).  The
  replica bucket and key (``REPLICA_INPUTS``) are read the same way, from what the stack set
  ``hipaa-catalog-log-replica`` (products/log_replica.py), deployed first and depended on, wrote in each account
  and region.  ConfigRecording, which deploy-baseline decides by looking at one account, is whatever ``-p``
  gives, the same for every account; the README says what that means.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from generator.aws import api as aws, deploy
from generator.aws.organization import Account
from generator.aws.publish_plan import idempotency_token
from generator.blocks import admin_settings as admin
from generator.errors import AwsCallError, ConfigError, DeployError
from generator.settings import CONCURRENCY_MODES, OrganizationSettings

Progress = Callable[[str], None]

@dataclass(frozen=True)
class Layout:
    """One stack set of a product: its name, its regions ("primary", "others", or "replicas": every organisation
    region and the region each replicates its log bucket to), the parameters it fixes, and the stack sets an
    automatic deployment must finish first (AutoDeployment.DependsOn: "operations will be sequenced to ensure
    all dependencies complete successfully before this StackSet's operation begins")."""

    name: str
    where: str
    fixed: Mapping[str, str]
    depends_on: tuple[str, ...] = ()


BASELINE_PRIMARY = "hipaa-catalog-account-baseline"
LOG_REPLICA_SET = "hipaa-catalog-log-replica"
# The baseline replicates its log bucket into the log-replica bucket of another region, which S3 needs to
# exist first (products/log_replica.py); the launch role reads the baseline's DNS settings (SSM, primary
# region).  So in an account that joins later the log replicas come first, then the baseline, then the role.
STACK_SETS: dict[str, tuple[Layout, ...]] = {
    deploy.LOG_REPLICA: (Layout(LOG_REPLICA_SET, "replicas", {}),),
    deploy.BASELINE: (Layout(BASELINE_PRIMARY, "primary", {"GlobalResources": "YES"}, (LOG_REPLICA_SET,)),
                      Layout("hipaa-catalog-account-baseline-regional", "others", {"GlobalResources": "NO"},
                             (LOG_REPLICA_SET,))),
    deploy.LAUNCH_ROLE: (Layout("hipaa-catalog-launch-role", "primary", {}, (BASELINE_PRIMARY,)),),
}
# The command that deploys each product's stack sets, and the products it deploys first: the log replicas go
# with the baseline.
DEPLOYED_BY = {deploy.LOG_REPLICA: "deploy-baseline", deploy.BASELINE: "deploy-baseline",
               deploy.LAUNCH_ROLE: "deploy-launch-role"}
DEPLOYED_FIRST = {deploy.BASELINE: (deploy.LOG_REPLICA,)}


def stack_set_names() -> list[str]:
    return [layout.name for layouts in STACK_SETS.values() for layout in layouts]
# StackSets take no macros here; the templates name IAM resources.
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
# The baseline parameters each account gives through SSM Parameter Store (see the module docstring).
ACCOUNT_INPUTS = ("VpcId", "PrivateSubnetIds", "PublicSubnetIds", "ProdCertificateArn", "ProdHostedZoneId",
                  "ProdDomain", "InstanceSubnetId", "InstanceAvailabilityZone", "WebServerImageId")
# The baseline parameters the log-replica stack set writes in each account and region (products/log_replica.py):
# the bucket and key this region's log bucket replicates to.
REPLICA_INPUTS = {admin.REPLICA_BUCKET_ARN: admin.REPLICA_DESTINATION_BUCKET,
                  admin.REPLICA_KEY_ARN: admin.REPLICA_DESTINATION_KEY}
DONE_OPERATION = {"SUCCEEDED", "FAILED", "STOPPED"}
BUSY_OPERATION = {"RUNNING", "QUEUED", "STOPPING"}
# DeleteStackInstances' RetainStacks for an OU removed from the targets: "Removes the stack instances from the
# specified StackSet, but doesn't delete the stacks" (*DeleteStackInstances*, AWS CloudFormation API Reference,
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStackInstances.html); "you manage
# retained stacks in CloudFormation, in the target account" (*StackSets concepts*, Retain stacks).  Kept, never
# deleted: deleting the baseline's stack would end the account's trail, AWS Config recording and CIS alarms,
# its audit controls, by a change of the hub's settings.  The evidence would survive a deletion (its buckets,
# log group and keys are DeletionPolicy Retain, HIPAA rule E9410), not the controls.  The launch role is kept
# too: the portfolio stays shared with the OU until its share is removed, and the products provisioned there
# are updated and terminated as that role.  The same reasons make retain_stacks_on_account_removal true by
# default (an account leaving a target, AutoDeployment).
RETAIN_STACKS = True


@dataclass(frozen=True)
class Spec:
    """One stack set as the build and the settings want it."""

    name: str
    product: str
    version: str
    regions: tuple[str, ...]
    template: dict
    given: Mapping[str, str]          # the -p values and the parameters the stack set fixes
    depends_on: tuple[str, ...] = ()  # names of the stack sets it depends on; their ARNs once resolved

    @property
    def body(self) -> str:
        return json.dumps(self.template, separators=(",", ":"), sort_keys=True)


@dataclass
class Current:
    """A stack set as DescribeStackSet and ListStackInstances show it (``exists`` False: none yet)."""

    exists: bool
    template: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    auto_deployment: dict = field(default_factory=dict)
    ous: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    instances: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class InstanceChange:
    stack_set: str
    account: str
    account_name: str
    environment: str
    target: str
    region: str
    action: str                  # create | update | unchanged | delete
    status: str = ""             # the instance's Status now ("" when there is none)
    detailed_status: str = ""
    drift: str = ""

    @classmethod
    def of(cls, stack_set: str, account: Account, environment: str, target: str, region: str, action: str,
           instance: Mapping | None) -> "InstanceChange":
        """The row of ``account`` in ``region``, with the state of its stack instance now (ListStackInstances'
        summary; None when it has none)."""
        i = instance or {}
        return cls(stack_set, account.id, account.name, environment, target, region, action, i.get("Status", ""),
                   (i.get("StackInstanceStatus") or {}).get("DetailedStatus", ""), i.get("DriftStatus", ""))

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class StackSetPlan:
    spec: Spec
    current: Current
    set_action: str                      # create | update | none
    reasons: list[str]
    diff: dict
    create_targets: dict                 # region -> sorted OU/root ids needing CreateStackInstances
    instances: list[InstanceChange]
    parameters: list[dict]
    not_targets: list[str]               # OUs the stack set deploys to that the settings no longer name
    delete_targets: dict = field(default_factory=dict)   # such an OU -> {"regions": [...], "keep": [accounts]}
    # regions the stack set deploys to that the settings no longer name: {"regions": [...], "targets": [OUs]}
    delete_regions: dict = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return (self.set_action != "none" or bool(self.create_targets) or bool(self.delete_targets)
                or bool(self.delete_regions))

    def departing(self, ou: str) -> list[InstanceChange]:
        """The stack instances that leave the stack set with ``ou``, an OU no longer targeted."""
        return [i for i in self.instances if i.action == "delete" and i.target == ou]

    def departing_regions(self) -> list[InstanceChange]:
        """The stack instances that leave the stack set with the regions no longer in the settings."""
        gone, staying = self.delete_regions.get("regions", ()), self.delete_regions.get("targets", ())
        return [i for i in self.instances if i.action == "delete" and i.region in gone and i.target in staying]

    def to_json(self) -> dict:
        return {"stack_set": self.spec.name, "product": self.spec.product, "version": self.spec.version,
                "regions": list(self.spec.regions), "action": self.set_action, "reasons": self.reasons,
                "template_changes": self.diff,
                "create_instances": {r: list(t) for r, t in sorted(self.create_targets.items())},
                "instances": [i.to_json() for i in self.instances], "not_targets": self.not_targets,
                "delete_instances": {ou: {"regions": list(d["regions"]), "accounts_kept": list(d["keep"])}
                                     for ou, d in sorted(self.delete_targets.items())},
                "delete_regions": {k: list(v) for k, v in sorted(self.delete_regions.items())},
                "retain_stacks": RETAIN_STACKS}


# ------------------------------------------------------------------------------------------ the wanted sets

def account_input_name(ssm_prefix: str, parameter: str) -> str:
    return f"{ssm_prefix}/account-inputs/{parameter}"


def ssm_input_name(ssm_prefix: str, parameter: str) -> str:
    """The SSM parameter a stack set's template reads ``parameter`` from in each account and region."""
    if parameter in REPLICA_INPUTS:
        return REPLICA_INPUTS[parameter].full_name(ssm_prefix)
    return account_input_name(ssm_prefix, parameter)


def organization_template(template: dict, ssm_prefix: str) -> dict:
    """The template with its ACCOUNT_INPUTS and REPLICA_INPUTS read from SSM in each account and region; Rules
    on them dropped."""
    inputs = [k for k in (*ACCOUNT_INPUTS, *REPLICA_INPUTS) if k in template.get("Parameters", {})]
    if not inputs:
        return template
    out = json.loads(json.dumps(template))
    for name in inputs:
        old = out["Parameters"][name]
        default = ssm_input_name(ssm_prefix, name)
        # (the -p refusal in specs() keeps the name; the description stays the built one: the stack set's
        # template must stay under the 51,200-byte TemplateBody limit)
        out["Parameters"][name] = {"Type": f"AWS::SSM::Parameter::Value<{old['Type']}>", "Default": default,
                                   "Description": old.get("Description", name)}
    rules = {k: v for k, v in out.get("Rules", {}).items() if not any(f'"{n}"' in json.dumps(v) for n in inputs)}
    if rules:
        out["Rules"] = rules
    else:
        out.pop("Rules", None)
    return out


def specs(product: str, version: str, template: dict, given: Mapping[str, str],
          org: OrganizationSettings, primary: str, ssm_prefix: str) -> list[Spec]:
    """The stack sets of ``product``; one may have no region (a one-region organisation's regional baseline):
    ``plan`` then only removes the instances it still has, and the deploy leaves it out when it has none."""
    inputs = sorted(set(ACCOUNT_INPUTS) & set(given))
    if inputs:
        raise ConfigError(f"{product}: -p {inputs[0]} is each account's own: the organisation deploy reads it in "
                          f"every account from the SSM parameter {account_input_name(ssm_prefix, inputs[0])}",
                          hint=f"leave out -p {inputs[0]}; write that parameter in each account (README: Setting up "
                               "an organisation)")
    replica = sorted(set(REPLICA_INPUTS) & set(given))
    if replica:
        raise ConfigError(f"{product}: -p {replica[0]} is set in every account and region by stack set "
                          f"{LOG_REPLICA_SET} (the SSM parameter {ssm_input_name(ssm_prefix, replica[0])})",
                          hint=f"leave out -p {replica[0]}")
    declared = template.get("Parameters", {})
    if product == deploy.BASELINE and str(declared.get(admin.REPLICA_BUCKET_ARN, {}).get("Default", "")):
        raise ConfigError(f"{product}: the settings name one replica bucket (replica_bucket_arn), and in an "
                          "organisation every account replicates into its own log-replica bucket",
                          hint="remove replica_bucket_arn and replica_kms_key_arn from "
                               f"[products.{product}.options] (a catalog of two or more regions), make build, "
                               "then run this again")
    template = organization_template(template, ssm_prefix)
    out = []
    for layout in STACK_SETS[product]:
        clash = sorted(set(layout.fixed) & set(given))
        if clash:
            raise ConfigError(f"{product}: -p {clash[0]} is set by the organisation deploy ({layout.fixed[clash[0]]} "
                              f"in stack set {layout.name})", hint=f"leave out -p {clash[0]}")
        out.append(Spec(layout.name, product, version, _regions(layout.where, template, org, primary), template,
                        {**given, **layout.fixed}, layout.depends_on))
    return out


def _regions(where: str, template: dict, org: OrganizationSettings, primary: str) -> tuple[str, ...]:
    if where == "primary":
        return (primary,)
    if where == "others":
        return tuple(r for r in org.regions if r != primary)
    ring = template.get("Mappings", {}).get(admin.REPLICATION_MAPPING, {})
    replicas = [ring[r][admin.REPLICA_REGION] for r in org.regions if r in ring]
    return (*org.regions, *sorted(set(replicas) - set(org.regions)))


def resolve_dependencies(cf, spec: Spec, call_as: str, planned: tuple[str, ...] = ()) -> Spec:
    """The spec with its dependencies' ARNs.  A dependency not deployed yet is refused with the command, unless
    it is ``planned`` (deployed earlier in the same run): then its name stays until ``execute`` resolves it."""
    found = []
    for name in spec.depends_on:
        if name.startswith("arn:"):
            found.append(name)
            continue
        try:
            found.append(aws.call(cf, "DescribeStackSet", f"stack set {name}", StackSetName=name,
                                  CallAs=call_as)["StackSet"]["StackSetARN"])
        except AwsCallError as exc:
            if exc.code != "StackSetNotFoundException":
                raise DeployError(exc.message, code=exc.code, hint=exc.hint) from exc
            if name in planned:
                found.append(name)
                continue
            command = f"hipaa-catalog {DEPLOYED_BY[_product_of(name)]} --organization"
            raise DeployError(f"stack set {spec.name} needs stack set {name} first: in each account it must be "
                              "deployed before", hint=f"run {command} first, then this again") from exc
    return dataclasses.replace(spec, depends_on=tuple(found))


def _product_of(stack_set: str) -> str:
    return next(product for product, layouts in STACK_SETS.items() for layout in layouts if layout.name == stack_set)


def operation_preferences(org: OrganizationSettings) -> dict:
    return {"MaxConcurrentCount": org.max_concurrent_accounts, "FailureToleranceCount": org.failure_tolerance,
            "ConcurrencyMode": CONCURRENCY_MODES[org.concurrency_mode], "RegionConcurrencyType": "PARALLEL"}


def auto_deployment(org: OrganizationSettings, depends_on: tuple[str, ...] = ()) -> dict:
    out: dict = {"Enabled": org.auto_deployment}
    if org.auto_deployment:
        out["RetainStacksOnAccountRemoval"] = org.retain_stacks_on_account_removal
        if depends_on:
            out["DependsOn"] = sorted(depends_on)
    return out


def _same_auto_deployment(current: Mapping, wanted: Mapping) -> bool:
    norm = lambda a: {**a, "DependsOn": sorted(a.get("DependsOn") or [])}  # noqa: E731
    return norm(current) == norm(wanted)


# ------------------------------------------------------------------------------------------ reading AWS

def _call(cf, operation: str, name: str, **params):
    try:
        return aws.call(cf, operation, f"stack set {name}", **params)
    except AwsCallError as exc:
        raise DeployError(exc.message, code=exc.code, hint=exc.hint) from exc


def check_trusted_access(cf, call_as: str, account: str) -> None:
    """StackSets' trusted access with Organizations must be ENABLED (DescribeOrganizationsAccess: "can be
    called either by the management account or the delegated administrator by using the CallAs parameter")."""
    # The delegated administrator of StackSets is registered for the service principal
    # member.org.stacksets.cloudformation.amazonaws.com ("Register a delegated administrator", AWS CloudFormation
    # User Guide, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html).
    try:
        status = aws.call(cf, "DescribeOrganizationsAccess", "StackSets' access to AWS Organizations",
                          CallAs=call_as)["Status"]
    except AwsCallError as exc:
        if exc.code in aws.ACCESS_DENIED or exc.code in ("ValidationError", "InvalidOperation"):
            raise DeployError(
                f"account {account} cannot manage service-managed StackSets as {call_as} ({exc.code}: {exc.message})",
                code=exc.code,
                hint="run with the management account's credentials (organization.call_as = \"SELF\"), or register "
                     "this account as StackSets' delegated administrator in the management account (`aws "
                     "organizations register-delegated-administrator --account-id " + account + " "
                     "--service-principal member.org.stacksets.cloudformation.amazonaws.com`) and set "
                     "organization.call_as = \"DELEGATED_ADMIN\"") from exc
        raise DeployError(exc.message, code=exc.code, hint=exc.hint) from exc
    if status != "ENABLED":
        raise DeployError(f"trusted access between StackSets and AWS Organizations is {status}: the management "
                          "account has no permission to create service-managed StackSets",
                          hint="in the management account run `aws cloudformation activate-organizations-access` "
                               "once, then run this again")


def observe(cf, name: str, call_as: str) -> Current:
    try:
        s = aws.call(cf, "DescribeStackSet", f"stack set {name}", StackSetName=name, CallAs=call_as)["StackSet"]
    except AwsCallError as exc:
        if exc.code == "StackSetNotFoundException":
            return Current(False)
        raise DeployError(exc.message, code=exc.code, hint=exc.hint) from exc
    if s.get("Status") == "DELETED":
        return Current(False)
    instances = aws.pages(cf, "ListStackInstances", "Summaries", f"stack set {name}", token=("NextToken", "NextToken"),
                          StackSetName=name, CallAs=call_as)
    return Current(True, json.loads(s.get("TemplateBody") or "{}"),
                   {p["ParameterKey"]: p.get("ParameterValue", "") for p in s.get("Parameters", [])},
                   dict(s.get("AutoDeployment") or {}), tuple(s.get("OrganizationalUnitIds") or ()),
                   tuple(s.get("Regions") or ()), instances)


def template_diff(old: dict, new: dict) -> dict:
    """Resources a template change adds, modifies or removes (by logical id), and parameters added/removed."""
    before, after = old.get("Resources", {}), new.get("Resources", {})
    return {"add": sorted(set(after) - set(before)), "remove": sorted(set(before) - set(after)),
            "modify": sorted(k for k in set(after) & set(before) if after[k] != before[k]),
            "parameters_added": sorted(set(new.get("Parameters", {})) - set(old.get("Parameters", {}))),
            "parameters_removed": sorted(set(old.get("Parameters", {})) - set(new.get("Parameters", {})))}


# ------------------------------------------------------------------------------------------ planning

def plan(cf, spec: Spec, org: OrganizationSettings, accounts: list[Account],
         leaving: Callable[[str], list[Account]] = lambda _ou: []) -> StackSetPlan:
    """Compare the stack set with the wanted one and list, per account and region, what would happen;
    ``leaving(ou)``: the accounts now in an OU the stack set deploys to and the settings no longer name."""
    current = observe(cf, spec.name, org.call_as)
    if not spec.regions and not current.exists:   # no region and nothing deployed: nothing to do
        return StackSetPlan(spec, current, "none", [], {}, {}, [], [], [])
    previous = set(current.parameters) if current.exists else set()
    params = deploy.check_parameters(spec.template, spec.given, previous, spec.product)
    reasons: list[str] = []
    diff: dict = {}
    if not current.exists:
        set_action = "create"
        reasons.append("no stack set yet")
        diff = template_diff({}, spec.template)
    else:
        if current.template != spec.template:
            diff = template_diff(current.template, spec.template)
            reasons.append(f"template: {len(diff['add'])} resource(s) added, {len(diff['modify'])} modified, "
                           f"{len(diff['remove'])} removed")
        changed = sorted(k for k, v in spec.given.items() if current.parameters.get(k) != v)
        if changed:
            reasons.append("parameters: " + ", ".join(changed))
        wanted = auto_deployment(org, spec.depends_on)
        if not _same_auto_deployment(current.auto_deployment, wanted):
            reasons.append(f"automatic deployment: {current.auto_deployment} -> {wanted}")
        outdated = [i for i in current.instances if i.get("Status") == "OUTDATED" and i.get("Region") in spec.regions]
        if outdated and not reasons:
            reasons.append(f"{len(outdated)} stack instance(s) OUTDATED: applied again")
        # no region left (a one-region organisation's regional baseline): nothing to update, only instances to remove
        set_action = "update" if reasons and spec.regions else "none"
    have = {(i.get("Account"), i.get("Region")): i for i in current.instances}
    instances, create_targets = [], {}
    for a in accounts:
        for region in spec.regions:
            i = have.get((a.id, region))
            if i is None:
                action = "create"
                create_targets.setdefault(region, set()).add(a.target)
            else:
                action = "update" if set_action == "update" else "unchanged"
            instances.append(InstanceChange.of(spec.name, a, a.environment, a.target, region, action, i))
    # A target the stack set does not deploy to yet becomes one even without accounts, so that accounts moved
    # into it later are deployed to.
    for region in spec.regions:
        for target in org.target_ids:
            if target not in current.ous:
                create_targets.setdefault(region, set()).add(target)
    wanted = set(org.target_ids)
    not_targets = sorted(set(current.ous) - wanted)
    targeted = {a.id for a in accounts}
    regions = tuple(sorted(set(current.regions) | set(spec.regions) | {i.get("Region", "") for i in current.instances}
                           - {""}))
    delete_targets = {}
    for ou in not_targets:
        under = leaving(ou)
        for a in under:
            if a.id in targeted:
                continue
            for region in regions:
                if (a.id, region) in have:
                    instances.append(InstanceChange.of(spec.name, a, "", ou, region, "delete", have[(a.id, region)]))
        delete_targets[ou] = {"regions": regions, "keep": tuple(sorted(a.id for a in under if a.id in targeted))}
    # Regions no longer in the settings: the instances there of the targets that stay leave the stack set the
    # same way (those of an OU no longer targeted leave with it, above, in every region).
    gone = tuple(r for r in regions if r not in spec.regions)
    staying = tuple(sorted(set(current.ous) & wanted))
    delete_regions: dict = {}
    if gone and staying:
        for a in accounts:
            for region in gone:
                if (a.id, region) in have:
                    instances.append(InstanceChange.of(spec.name, a, a.environment, a.target, region, "delete",
                                                       have[(a.id, region)]))
        delete_regions = {"regions": gone, "targets": staying}
    return StackSetPlan(spec, current, set_action, reasons, diff,
                        {r: tuple(sorted(t)) for r, t in create_targets.items()}, instances, params, not_targets,
                        delete_targets, delete_regions)


# ------------------------------------------------------------------------------------------ execution

def _operation_id(*parts: str) -> str:
    return idempotency_token("stackset-operation", *parts)


def _previous_operations(cf, name: str, call_as: str) -> list[dict]:
    return aws.pages(cf, "ListStackSetOperations", "Summaries", f"stack set {name}", token=("NextToken", "NextToken"),
                     StackSetName=name, CallAs=call_as)


def execute(cf, p: StackSetPlan, org: OrganizationSettings, *, upload: Callable[[str], str] | None = None,
            progress: Progress | None = None, timeout: float = 3600) -> list[dict]:
    """Carry the plan out; return every operation with its status and per-instance results."""
    progress = progress or (lambda _m: None)
    spec, call_as, prefs = resolve_dependencies(cf, p.spec, org.call_as), org.call_as, operation_preferences(org)
    # the template is sent (and uploaded, when over the inline limit) only by a create or an update
    source = deploy.template_args(spec.body, upload) if p.set_action != "none" else {}
    tags = [{"Key": "hipaa-catalog:product", "Value": spec.product},
            {"Key": "hipaa-catalog:version", "Value": spec.version}]
    operations: list[dict] = []
    history = _previous_operations(cf, spec.name, call_as) if p.current.exists else []
    for op in history:
        if op.get("Status") in BUSY_OPERATION:   # an earlier run's operation: wait for it first
            operations.append(wait(cf, spec.name, op["OperationId"], call_as, progress, timeout))
    count = str(len(history))
    auto = auto_deployment(org, spec.depends_on)
    fingerprint = json.dumps([spec.body, sorted(spec.given.items()), auto], sort_keys=True)
    # first the OUs no longer targeted: their instances are not updated on the way out
    for ou, d in sorted(p.delete_targets.items()):
        op_id = _operation_id(spec.name, "delete-instances", ou, ",".join(d["keep"]), count)
        progress(f"removing {len(p.departing(ou))} stack instance(s) of {spec.name} in {ou}, no longer a target, from the stack "
                 "set; their stacks stay in the accounts (RetainStacks)")
        targets: dict = {"OrganizationalUnitIds": [ou]}
        if d["keep"]:
            targets.update(Accounts=list(d["keep"]), AccountFilterType="DIFFERENCE")
        _call(cf, "DeleteStackInstances", spec.name, StackSetName=spec.name, DeploymentTargets=targets,
              Regions=list(d["regions"]), RetainStacks=RETAIN_STACKS, OperationPreferences=prefs, OperationId=op_id,
              CallAs=call_as)
        operations.append(wait(cf, spec.name, op_id, call_as, progress, timeout))
    if p.delete_regions:   # then the regions no longer named, before an update would apply the stack set there
        gone, staying = p.delete_regions["regions"], p.delete_regions["targets"]
        op_id = _operation_id(spec.name, "delete-regions", ",".join(gone), ",".join(staying), count)
        progress(f"removing {len(p.departing_regions())} stack instance(s) of {spec.name} in {', '.join(gone)}, "
                 "no longer an organisation region, from the stack set; their stacks stay in the accounts "
                 "(RetainStacks)")
        _call(cf, "DeleteStackInstances", spec.name, StackSetName=spec.name,
              DeploymentTargets={"OrganizationalUnitIds": list(staying)}, Regions=list(gone),
              RetainStacks=RETAIN_STACKS, OperationPreferences=prefs, OperationId=op_id, CallAs=call_as)
        operations.append(wait(cf, spec.name, op_id, call_as, progress, timeout))
    if p.set_action == "create":
        progress(f"creating stack set {spec.name}")
        _call(cf, "CreateStackSet", spec.name, StackSetName=spec.name,
              Description=f"hipaa-catalog {spec.product} {spec.version} in every account of the organisation's "
                          "targets", Parameters=p.parameters, Capabilities=CAPABILITIES, Tags=tags,
              PermissionModel="SERVICE_MANAGED", AutoDeployment=auto, CallAs=call_as,
              ClientRequestToken=idempotency_token("stackset", spec.name, fingerprint), **source)
    elif p.set_action == "update":
        op_id = _operation_id(spec.name, "update", fingerprint, count)
        progress(f"updating stack set {spec.name} and its stack instances ({'; '.join(p.reasons)})")
        _call(cf, "UpdateStackSet", spec.name, StackSetName=spec.name, Parameters=p.parameters,
              Capabilities=CAPABILITIES, Tags=tags, AutoDeployment=auto, OperationPreferences=prefs,
              OperationId=op_id, CallAs=call_as, Description=f"hipaa-catalog {spec.product} {spec.version}",
              **source)
        operations.append(wait(cf, spec.name, op_id, call_as, progress, timeout))
    by_targets: dict[tuple[str, ...], list[str]] = {}
    for region, targets in sorted(p.create_targets.items()):
        by_targets.setdefault(targets, []).append(region)
    for targets, regions in by_targets.items():
        op_id = _operation_id(spec.name, "create-instances", ",".join(targets), ",".join(regions), fingerprint, count)
        progress(f"creating stack instances of {spec.name} in {', '.join(targets)} x {', '.join(regions)}")
        _call(cf, "CreateStackInstances", spec.name, StackSetName=spec.name,
              DeploymentTargets={"OrganizationalUnitIds": list(targets)}, Regions=regions,
              OperationPreferences=prefs, OperationId=op_id, CallAs=call_as)
        operations.append(wait(cf, spec.name, op_id, call_as, progress, timeout))
    failed = [o for o in operations if o["status"] != "SUCCEEDED"]
    if failed:
        lines = [f"{r['account']} {r['region']}: {r['status']}: {r['reason']}" for o in failed for r in o["results"]
                 if r["status"] != "SUCCEEDED"]
        raise DeployError(f"stack set {spec.name}: operation {failed[0]['operation_id']} ended {failed[0]['status']}"
                          + (":\n  " + "\n  ".join(lines) if lines else ""),
                          hint="fix the cause in the accounts named, then run the same command again: it applies "
                               "the stack set to the instances left OUTDATED or missing")
    return operations


def detect_drift(cf, name: str, org: OrganizationSettings, *, progress: Progress | None = None,
                 timeout: float = 3600) -> dict | None:
    """Run drift detection on stack set ``name`` and wait for it; None when there is no such stack set or it
    has no stack instance (nothing to check).

    DetectStackSetDrift "returns the OperationId of the StackSet drift detection operation. Use this operation
    id with DescribeStackSetOperation to monitor the progress"; once it has completed, ListStackInstances has
    "the drift status and last drift time checked of each instance", and "You can only run a single drift
    detection operation on a given StackSet at one time" (*DetectStackSetDrift*, AWS CloudFormation API
    Reference, https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DetectStackSetDrift.html).
    So an operation of an earlier run still under way is waited for first.  The operation id is derived from
    the stack set and its operation count, so a retried call is the same detection."""
    progress = progress or (lambda _m: None)
    current = observe(cf, name, org.call_as)
    if not current.exists or not current.instances:
        return None
    history = _previous_operations(cf, name, org.call_as)
    for op in history:
        if op.get("Status") in BUSY_OPERATION:
            wait(cf, name, op["OperationId"], org.call_as, progress, timeout)
    op_id = _operation_id(name, "detect-drift", str(len(history)))
    progress(f"detecting drift of stack set {name} ({len(current.instances)} stack instance(s))")
    _call(cf, "DetectStackSetDrift", name, StackSetName=name, OperationPreferences=operation_preferences(org),
          OperationId=op_id, CallAs=org.call_as)
    return wait(cf, name, op_id, org.call_as, progress, timeout)


def wait(cf, name: str, op_id: str, call_as: str, progress: Progress, timeout: float) -> dict:
    """Poll DescribeStackSetOperation until the operation ends; report each stack instance's result once."""
    deadline, delays = time.monotonic() + timeout, aws.backoff(5.0)
    shown: dict[tuple[str, str], str] = {}
    while True:
        op = _call(cf, "DescribeStackSetOperation", name, StackSetName=name, OperationId=op_id,
                   CallAs=call_as)["StackSetOperation"]
        results = [{"account": r.get("Account", ""), "region": r.get("Region", ""), "status": r.get("Status", ""),
                    "reason": r.get("StatusReason", "")}
                   for r in aws.pages(cf, "ListStackSetOperationResults", "Summaries", f"stack set {name}",
                                      token=("NextToken", "NextToken"), StackSetName=name, OperationId=op_id,
                                      CallAs=call_as)]
        for r in results:
            key = (r["account"], r["region"])
            if shown.get(key) != r["status"]:
                shown[key] = r["status"]
                progress(f"{name}: {r['account']} {r['region']}: {r['status']}"
                         + (f": {r['reason']}" if r["reason"] else ""))
        status = op.get("Status", "")
        if status in DONE_OPERATION:
            return {"stack_set": name, "operation_id": op_id, "action": op.get("Action", ""), "status": status,
                    "reason": op.get("StatusReason", ""), "results": results}
        if time.monotonic() > deadline:
            raise DeployError(f"stack set {name}: operation {op_id} still {status} after {timeout:.0f} s",
                              hint="it keeps running in CloudFormation; run the same command again to wait for it")
        time.sleep(next(delays))

