"""STS backend: moto's, plus who is calling and whether a role's trust policy lets them assume it."""

from __future__ import annotations

from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.sts.models import STSBackend as MotoSTSBackend

from ..iam.policy import Decision, Request, evaluate

ACTION = "sts:AssumeRole"


class STSBackend(MotoSTSBackend):
    def principals(self, access_key_id: str, region: str) -> list[str]:
        """The caller's principal ARNs a trust policy's ``Principal`` may name: for an assumed-role session
        its role and the session itself, else the IAM user (or moto's default identity)."""
        session = self.get_assumed_role_from_access_key(access_key_id)  # kept in the account it acts in
        if session is not None:
            return [session.role_arn, session.arn]
        return [self.get_caller_identity(access_key_id, region)[1]]

    def trust_decision(self, role_arn: str, principals: list[str], context: dict[str, str]) -> Decision:
        """The role's trust policy on ``sts:AssumeRole`` by any of ``principals`` (none: implicitly denied)."""
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
        try:
            role = iam_backends[account][self.partition].get_role_by_arn(role_arn) if account else None
        except NotFoundException:
            role = None
        if role is None:
            return Decision(False)
        decisions = [evaluate([("trust policy", role.assume_role_policy_document)],
                              Request(ACTION, role_arn, {**context, "aws:PrincipalArn": principal,
                                                         "aws:PrincipalAccount": principal.split(":")[4]},
                                      principal={"AWS": principal}))
                     for principal in principals]
        denied = next((d for d in decisions if d.explicit_deny), None)
        return denied or next((d for d in decisions if d.allowed), decisions[0])
