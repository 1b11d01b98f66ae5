"""Derive the launch role's permissions from the products' resource types — never written by hand.

For every resource type of the product templates, the create, update and delete handler permissions come
from cfn-lint's bundled CloudFormation resource provider schemas (``cfnlint/data/schemas``: a region file
maps each type to a schema, whose ``handlers.<op>.permissions`` list the IAM actions CloudFormation calls).
They are de-duplicated and normalised (lower-case service prefix, sorted), then grouped per service and
scoped:

- an action that IAM lets scope to resource types (cfn-lint's ``Policies.json``, from the IAM service
  authorization reference) gets the ARN patterns of those types, collapsed to one per service and account
  (``arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:*``; any region: the role serves every catalog region;
  account-less where AWS owns the resource, e.g. public images), except where ``SCOPES`` fixes them
  (every IAM resource only under the products' IAM path, so ``iam:PassRole`` passes only product roles);
- an action with no resource type needs Resource ``*``: read-only ones (Describe*, List*, Get*) are grouped
  as such; write ones are returned separately (``Permissions.unscopable``) for the caller to isolate;
- using a KMS key (``kms:Encrypt``, ``Decrypt``, ``ReEncrypt*``, ``GenerateDataKey*``, ``CreateGrant``) is
  what a service such as EC2 or AWS Backup does with the launching principal's rights when it encrypts a
  resource, so those actions form their own group (kind ``via-service``) on this account's keys, with the
  services of the resource types that asked for them, for the caller to limit with ``kms:ViaService``;
- attaching and detaching managed policies (``iam:Attach*Policy``/``Detach*Policy``) form their own group
  (kind ``attachment``) for the caller to limit with ``iam:PolicyARN`` to the policies products attach.

Regional services carry an ``aws:RequestedRegion`` condition limiting them to the catalog's regions.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from generator.blocks.admin_settings import PRODUCT_IAM_PATH
from generator.errors import BuildError
from generator.toolinfo import cfn_lint_data, cfn_lint_version

CFN_LINT_VERSION = cfn_lint_version()
DATA = cfn_lint_data()   # found without importing cfnlint (about a second: a cached build does not pay it)
SCHEMAS = DATA / "schemas"
POLICIES = DATA / "AdditionalSpecs" / "Policies.json"
HANDLERS = ("create", "update", "delete")
ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+\*?$")
READ_ONLY = re.compile(r"^(Describe|List|Get|Head|BatchGet|Search|Lookup|Query|Scan|Select|View|Check|Validate|"
                       r"Estimate|Preview|Simulate|Filter|Test)")
# Services whose API is global: their calls are made to us-east-1 whatever the stack's region.
GLOBAL_SERVICES = frozenset({"iam", "sts", "cloudfront", "route53", "organizations", "waf", "globalaccelerator"})
# Using a key (not managing it): done by a service on the caller's behalf, limited with kms:ViaService.
KEY_USE = re.compile(r"^kms:(Encrypt|Decrypt|ReEncrypt[A-Za-z]*\*?|GenerateDataKey[A-Za-z]*\*?|CreateGrant)$")
# Any key of this account, in any region (the via-service condition names the regions).
ACCOUNT_KEYS = "arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"
# Attaching a managed policy to an IAM principal, limited with iam:PolicyARN.
POLICY_ATTACHMENT = re.compile(r"^iam:(Attach|Detach)(Role|Group|User)Policy$")

_PRODUCT_PATH = PRODUCT_IAM_PATH.strip("/")
# Service prefix -> the ARN pattern (Fn::Sub syntax, ``{type}`` = the IAM resource type) that products fix.
# Every IAM resource a product creates (role, instance profile, policy, ...) lives under the products' path,
# so the launch role can create, change and pass only those.  Prefixes not listed here are scoped by the
# generic ARN format of the resource type.
SCOPES: dict[str, str] = {
    "iam": "arn:${AWS::Partition}:iam::${AWS::AccountId}:{type}/" + _PRODUCT_PATH + "/*",
}


@functools.lru_cache(maxsize=None)
def _region_index(region: str) -> Mapping[str, str]:
    path = SCHEMAS / "providers" / f"{region}.json"
    if not path.is_file():
        path = SCHEMAS / "providers" / "us-east-1.json"
    return json.loads(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def _schema(digest: str) -> Mapping:
    return json.loads((SCHEMAS / "resources" / f"{digest}.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _iam_reference() -> Mapping:
    return json.loads(POLICIES.read_text(encoding="utf-8"))


def normalise(action: str) -> str:
    """``EC2:RunInstances`` -> ``ec2:RunInstances`` (IAM prefixes are case-insensitive; we write them lower)."""
    prefix, _, name = action.strip().partition(":")
    return f"{prefix.lower()}:{name}"


def is_read_only(action: str) -> bool:
    return bool(READ_ONLY.match(action.partition(":")[2]))


def handler_permissions(resource_type: str, regions: Sequence[str]) -> set[str]:
    """The create/update/delete handler permissions of ``resource_type`` in any of ``regions``, normalised.

    Entries that are not IAM actions (schema typos such as ``s3:REST.PUT.OBJECT``, actions IAM does not
    define such as ``backup-storage:Mount``) are dropped; a
    full-service wildcard (``svc:*``) is an error, since the launch role must never hold one."""
    found: set[str] = set()
    known = False
    for region in regions:
        digest = _region_index(region).get(resource_type)
        if digest is None:
            continue
        known = True
        handlers = _schema(digest).get("handlers", {})
        for op in HANDLERS:
            for perm in handlers.get(op, {}).get("permissions", []):
                action = normalise(perm)
                if action.endswith(":*"):
                    raise BuildError(f"resource type {resource_type}: its provider schema's {op} handler needs "
                                     f"{action}, a full-service wildcard the launch role must not hold; "
                                     "allowed: specific actions (add the type's actions to "
                                     "generator/blocks/permissions.py or choose another resource type)")
                if not ACTION.match(action) or not is_known(action):
                    continue  # schema typos and actions IAM does not define (cfn-lint W3037 would flag them)
                found.add(action)
    if not known:
        raise BuildError(f"resource type {resource_type}: no provider schema in cfn-lint {CFN_LINT_VERSION} "
                         f"for regions {', '.join(regions)}; allowed: types CloudFormation supports there")
    return found


def service_of(resource_type: str) -> str:
    """``AWS::EC2::Volume`` -> ``ec2``: the service whose endpoint (``ec2.<region>.amazonaws.com``) calls KMS
    for the resource.  Lower-casing the namespace is right for the services that encrypt with a caller's
    key (EC2, Backup, Logs, RDS, SQS, SNS, S3, DynamoDB, SecretsManager ...); where it is not, the
    kms:ViaService condition names an endpoint that never calls, which denies rather than widens."""
    return resource_type.split("::")[1].lower()


def is_known(action: str) -> bool:
    """Whether IAM defines ``action`` (a ``Prefix*`` wildcard: whether it matches a defined action)."""
    prefix, _, name = action.partition(":")
    defined = _iam_reference().get(prefix, {}).get("Actions", {})
    if name.endswith("*"):
        return any(a.startswith(name[:-1].lower()) for a in defined)
    return name.lower() in defined


def resource_types_of(action: str) -> list[str]:
    """IAM resource types ``action`` can be scoped to ([] when it needs Resource ``*`` or is unknown)."""
    prefix, _, name = action.partition(":")
    if name.endswith("*"):
        return []
    entry = _iam_reference().get(prefix, {}).get("Actions", {}).get(name.lower(), {})
    return list(entry.get("Resources", []))


def _sub_pattern(fmt: str) -> str:
    out = fmt.replace("${Partition}", "${AWS::Partition}").replace("${Account}", "${AWS::AccountId}")
    out = out.replace("${Region}", "*").replace(".*", "*")
    out = re.sub(r"\$\{(?!AWS::)[^}]*\}", "*", out)
    return re.sub(r"\*+", "*", out)


def arn_patterns(prefix: str, resource_type: str) -> list[str]:
    """The ARN patterns (Fn::Sub strings) an action on ``prefix``'s ``resource_type`` is allowed on."""
    key = resource_type.lower()
    if prefix in SCOPES:
        return [SCOPES[prefix].replace("{type}", resource_type)]
    formats = _iam_reference().get(prefix, {}).get("Resources", {}).get(key, {}).get("ARNFormats", [])
    return sorted({_sub_pattern(_collapse(f)) for f in formats})


def _collapse(pattern: str) -> str:
    """``arn:${Partition}:ec2:${Region}:${Account}:instance/.*`` -> ``…:${Account}:*``: one pattern per service and
    account keeps policies small; the account (or its absence, for AWS-owned images) is what scopes them."""
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return pattern
    if parts[4]:  # never another account: whatever placeholder the format has, it is this account
        parts[4] = "${Account}"
    return ":".join(parts[:5] + ["*"])


@dataclass(frozen=True)
class Group:
    """Actions of one service sharing one Resource list."""

    prefix: str
    kind: str                  # "scoped" | "read" (read-only on *) | "unscopable" (write, AWS requires *)
    #                            | "via-service" (KMS key use) | "attachment" (IAM managed-policy attachment)
    actions: tuple[str, ...]
    resources: tuple[str, ...]  # Fn::Sub strings, or ("*",)
    regional: bool             # add aws:RequestedRegion
    services: tuple[str, ...] = ()  # kind via-service: services whose resource types use the keys (ec2, backup)

    @property
    def sid(self) -> str:
        service = "".join(p.capitalize() for p in self.prefix.split("-"))
        return service + {"scoped": "Scoped", "read": "ReadOnly", "unscopable": "Unscopable",
                          "via-service": "UseViaServices", "attachment": "PolicyAttachment"}[self.kind]


@dataclass(frozen=True)
class Permissions:
    resource_types: tuple[str, ...]
    actions: tuple[str, ...]   # every derived action, sorted
    groups: tuple[Group, ...]

    @property
    def unscopable(self) -> tuple[Group, ...]:
        return tuple(g for g in self.groups if g.kind == "unscopable")

    def by_prefix(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for a in self.actions:
            out.setdefault(a.partition(":")[0], []).append(a)
        return out


def derive(resource_types: Iterable[str], regions: Sequence[str]) -> Permissions:
    """Everything the launch role needs to create, update and delete ``resource_types``."""
    types = tuple(sorted(set(resource_types)))
    actions: set[str] = set()
    key_services: set[str] = set()
    for rt in types:
        found = handler_permissions(rt, regions)
        actions |= found
        if any(KEY_USE.match(a) for a in found):
            key_services.add(service_of(rt))
    # de-duplicate case-insensitively (schemas spell some actions differently), keeping the first spelling
    unique: dict[str, str] = {}
    for a in sorted(actions):
        unique.setdefault(a.lower(), a)
    ordered = sorted(unique.values(), key=str.lower)

    groups: list[Group] = []
    by_prefix: dict[str, list[str]] = {}
    for a in ordered:
        by_prefix.setdefault(a.partition(":")[0], []).append(a)
    for prefix, names in sorted(by_prefix.items()):
        scoped, resources, read, write = [], set(), [], []
        key_use, attach, attach_resources = [], [], set()
        for a in names:
            patterns = [p for rt in resource_types_of(a) for p in arn_patterns(prefix, rt)]
            if KEY_USE.match(a):
                key_use.append(a)
            elif POLICY_ATTACHMENT.match(a) and patterns:
                attach.append(a)
                attach_resources.update(patterns)
            elif patterns:
                scoped.append(a)
                resources.update(patterns)
            elif is_read_only(a):
                read.append(a)
            else:
                write.append(a)
        regional = prefix not in GLOBAL_SERVICES
        if scoped:
            groups.append(Group(prefix, "scoped", tuple(scoped), tuple(sorted(resources)), regional))
        if read:
            groups.append(Group(prefix, "read", tuple(read), ("*",), regional))
        if write:
            groups.append(Group(prefix, "unscopable", tuple(write), ("*",), regional))
        if key_use:
            groups.append(Group(prefix, "via-service", tuple(key_use), (ACCOUNT_KEYS,), regional,
                                services=tuple(sorted(key_services))))
        if attach:
            groups.append(Group(prefix, "attachment", tuple(attach), tuple(sorted(attach_resources)), regional))
    return Permissions(resource_types=types, actions=tuple(ordered), groups=tuple(groups))
