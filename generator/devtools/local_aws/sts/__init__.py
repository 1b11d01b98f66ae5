"""AWS STS for the local endpoint: moto's, with AssumeRole refused as AWS refuses it.

API note (``generator.devtools.local_aws.sts.responses``):

* AssumeRole evaluates the role's trust policy for the caller (the IAM user, the role of an assumed-role
  session, or, for a key moto did not issue, moto's default identity in its account) with the policy
  evaluator of ``iam.policy``.  *AssumeRole* (AWS STS API Reference,
  https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html): "You specify the trusted
  principal that is allowed to assume the role in the role trust policy. To assume a role from a different
  account, your Amazon Web Services account must be trusted by the role"; *Troubleshooting IAM roles*, "I
  can't assume a role" (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_roles.html): "If
  your account number is not listed in the Principal element of the role's trust policy, then you cannot
  assume the role. It does not matter what permissions are granted to you in access policies."
* A refusal is ``AccessDenied`` (HTTP 403) in the form of *Troubleshoot access denied error messages*
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html): "User: <caller> is
  not authorized to perform: sts:AssumeRole on resource: <role> because no resource-based policy allows the
  sts:AssumeRole action" (or "with an explicit deny in a resource-based policy").  A role that does not
  exist has no trust policy, so nothing allows the request: the same implicit deny ("By default, all
  requests are implicitly denied", *Policy evaluation logic*), which tells the caller nothing about
  whether the role exists.
* Context keys given to the trust policy: ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
  ``aws:RequestedRegion`` and, when given, ``sts:ExternalId`` and ``sts:RoleSessionName``.

Not modelled: the caller's own identity-based permission to call sts:AssumeRole (needed across accounts),
permissions boundaries, SCPs, session policies' effect, MFA and session tags.
"""

from __future__ import annotations


def register() -> None:
    """Make moto build our STS backend (its responses then come from our ``urls``)."""
    from moto.sts.models import sts_backends

    from .models import STSBackend

    sts_backends.backend = STSBackend
