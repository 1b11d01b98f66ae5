"""The launch-role session a provisioning acts as, its authorization decisions and their log.

Service Catalog provisions "as" the launch constraint's role: it assumes the role (the trust policy must
let ``servicecatalog.amazonaws.com`` do so, with ``aws:SourceAccount`` and ``aws:SourceArn``: *AWS
Service Catalog Launch Constraints*, "Adding Confused Deputy to Launch Constraint",
https://docs.aws.amazon.com/servicecatalog/latest/adminguide/constraints-launch.html) and every call it
and CloudFormation make for the provisioned product is authorized against the role's attached and inline
policies.  ``acting_as`` makes a ``Caller`` current for one provisioning operation (a context variable:
one per request thread); ``authorize`` evaluates a request for the current caller, logs it and raises
``AccessDenied`` with AWS's message when it is refused.

The session name Service Catalog uses is not documented (research brief 13, section 9); ``SESSION`` is
the one seen in the wild (SWO-GS/auto-tag issue #5).  The denial text follows *Troubleshoot access
denied error messages* (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html):
"User: arn:aws:sts::111122223333:assumed-role/role-name/role-session-name is not authorized to perform:
SNS:Publish on resource: ... with an explicit deny in a ... policy", or "... because no identity-based
policy allows the ... action".

Enforcement is on unless the server was started with ``--no-iam`` (``LOCAL_AWS_IAM=off``) or told
``POST /_local_aws/iam {"enforce": false}``; with it off, requests are still logged (decision included)
but nothing is refused.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator

from generator.errors import AccessDenied, ConfigError

from .policy import Decision, Policy, Request, evaluate, parse

SERVICE_CATALOG = "servicecatalog.amazonaws.com"
SESSION = "servicecatalog"


class _Settings:
    def __init__(self) -> None:
        self.initial = True
        self.enforce = True
        self.lock = threading.Lock()
        self.log: list[dict[str, Any]] = []

    def configure(self, data: Any, initial: bool = False) -> None:
        if not isinstance(data, dict) or set(data) - {"enforce"} or not isinstance(data.get("enforce", True), bool):
            raise ConfigError(f"IAM settings: {data!r}; allowed: {{\"enforce\": true}} or {{\"enforce\": false}}")
        self.enforce = data.get("enforce", self.enforce)
        if initial:
            self.initial = self.enforce

    def restore(self) -> None:
        with self.lock:
            self.enforce = self.initial
            self.log.clear()

    def to_dict(self) -> dict[str, Any]:
        with self.lock:
            return {"enforce": self.enforce, "requests": len(self.log),
                    "denied": sum(not r["allowed"] for r in self.log)}

    def requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.log)

    def clear(self) -> None:
        with self.lock:
            self.log.clear()


SETTINGS = _Settings()


@dataclass
class Caller:
    """The launch role's session for one Service Catalog operation."""

    role_arn: str
    account_id: str
    partition: str
    operation: str            # PROVISION_PRODUCT | UPDATE_PROVISIONED_PRODUCT | TERMINATE_PROVISIONED_PRODUCT
    record_id: str
    _policies: list[Policy] | None = field(default=None, repr=False)

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]

    @property
    def session_arn(self) -> str:
        return f"arn:{self.partition}:sts::{self.account_id}:assumed-role/{self.role_name}/{SESSION}"

    def policies(self) -> list[Policy]:
        """The role's attached managed policies (their default versions) and inline policies, read once per
        operation (a role does not change while its session provisions)."""
        if self._policies is None:
            role = _iam(self.account_id, self.partition).get_role_by_arn(self.role_arn)
            backend = _iam(self.account_id, self.partition)
            found: list[Policy] = []
            for arn in sorted(role.managed_policies):
                policy = backend.managed_policies.get(arn) or role.managed_policies[arn]
                version = next((v for v in policy.versions if v.is_default), None)
                found.append((policy.name, parse(version.document if version else policy.document)))
            for name, document in sorted(role.policies.items()):
                found.append((name, parse(document)))
            self._policies = found
        return self._policies


_CURRENT: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("local_aws_caller", default=None)


def _iam(account_id: str, partition: str):
    from moto.iam.models import iam_backends

    return iam_backends[account_id][partition]


def current() -> Caller | None:
    return _CURRENT.get()


@contextlib.contextmanager
def acting_as(caller: Caller | None) -> Iterator[Caller | None]:
    token = _CURRENT.set(caller)
    try:
        yield caller
    finally:
        _CURRENT.reset(token)


def assume(role_arn: str, account_id: str, partition: str, region: str, source_arn: str, operation: str,
           record_id: str) -> Caller:
    """Service Catalog assumes the launch role: its trust policy must allow ``sts:AssumeRole`` for
    ``servicecatalog.amazonaws.com`` with this account and provisioned product as source."""
    caller = Caller(role_arn, account_id, partition, operation, record_id)
    role = _iam(account_id, partition).get_role_by_arn(role_arn)
    request = Request("sts:AssumeRole", role_arn, {"aws:SourceAccount": account_id, "aws:SourceArn": source_arn,
                                                   "aws:RequestedRegion": region},
                      principal={"Service": SERVICE_CATALOG})
    decision = evaluate([("trust policy", role.assume_role_policy_document)], request)
    _record(caller, request, decision, {"stage": "assume-role"})
    if not decision.allowed and SETTINGS.enforce:
        raise AccessDenied(f"User: {SERVICE_CATALOG} is not authorized to perform: sts:AssumeRole on resource: "
                           f"{role_arn} ({_because(decision, 'resource-based')})", "sts:AssumeRole", role_arn)
    return caller


def authorize(request: Request, where: dict[str, Any]) -> Decision | None:
    """Evaluate ``request`` for the current caller (none: not enforced here); log it; refuse a denial."""
    caller = current()
    if caller is None:
        return None
    decision = evaluate(caller.policies(), request)
    _record(caller, request, decision, where)
    if not decision.allowed and SETTINGS.enforce:
        raise AccessDenied(denial_message(caller.session_arn, request, decision), request.action, request.resource)
    return decision


def denial_message(session_arn: str, request: Request, decision: Decision) -> str:
    return (f"User: {session_arn} is not authorized to perform: {request.action} on resource: {request.resource} "
            f"{_because(decision, 'identity-based', request.action)}")


def _because(decision: Decision, kind: str, action: str = "sts:AssumeRole") -> str:
    if decision.explicit_deny:
        return f"with an explicit deny in an {kind} policy"
    return f"because no {kind} policy allows the {action} action"


def _record(caller: Caller, request: Request, decision: Decision, where: dict[str, Any]) -> None:
    entry = {"operation": caller.operation, "record": caller.record_id, "role": caller.role_arn,
             **where, **request.to_dict(), "allowed": decision.allowed, "statement": decision.statement}
    with SETTINGS.lock:
        SETTINGS.log.append(entry)


def handler_message(err: AccessDenied) -> str:
    """A refused call as CloudFormation reports a handler failure in the resource's event."""
    return f'Resource handler returned message: "{err.message}" (HandlerErrorCode: AccessDenied)'
