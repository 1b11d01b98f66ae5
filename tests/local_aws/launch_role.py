"""Helpers for tests of the launch role as the local endpoint enforces it: read and edit the deployed role's
policies, and find, in recorded authorization requests, what each statement alone allows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterable

from generator.aws import api as aws
from generator.blocks.admin_settings import LAUNCH_ROLE_NAME
from generator.devtools.local_aws.iam.enforcement import SESSION, denial_message
from generator.devtools.local_aws.iam.policy import Request, applies, evaluate, statements, without_statement


def role_policies(sess) -> list[tuple[str, dict]]:
    """The launch role's attached managed policies as ``(policy name, default version document)``."""
    iam = aws.client(sess, "iam")
    out = []
    for attached in iam.list_attached_role_policies(RoleName=LAUNCH_ROLE_NAME)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
        document = version["PolicyVersion"]["Document"]
        out.append((attached["PolicyName"], json.loads(document) if isinstance(document, str) else document))
    return sorted(out)


def edit_role(sess, change: Callable[[str, dict], dict]) -> None:
    """Give every launch-role policy the document ``change(policy name, document)`` returns (a new default
    version where it differs), as an administrator editing the role would."""
    iam = aws.client(sess, "iam")
    for attached in iam.list_attached_role_policies(RoleName=LAUNCH_ROLE_NAME)["AttachedPolicies"]:
        arn = attached["PolicyArn"]
        name, document = next((n, d) for n, d in role_policies(sess) if n == attached["PolicyName"])
        changed = change(name, document)
        if changed == document:
            continue
        for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(changed), SetAsDefault=True)


def restore_role(sess, policies: list[tuple[str, dict]]) -> None:
    """Put back the documents ``role_policies`` returned earlier."""
    documents = dict(policies)
    edit_role(sess, lambda name, _doc: documents[name])


def remove_statement(sess, sid: str) -> None:
    edit_role(sess, lambda _name, doc: without_statement(doc, sid))


def replace_statement(sess, sid: str, replacement: Callable[[dict], dict]) -> None:
    def change(_name: str, doc: dict) -> dict:
        return {**doc, "Statement": [replacement(st) if st.get("Sid") == sid else st for st in statements(doc)]}
    edit_role(sess, change)


@dataclass(frozen=True)
class Break:
    """The first recorded request only statement ``sid`` allowed: without it, that request is refused."""

    sid: str
    scenario: tuple[str, str]
    entry: dict
    message: str


def identity_requests(entries: Iterable[dict]) -> list[tuple[dict, Request]]:
    """The recorded requests judged by the role's identity policies (not the trust policy)."""
    return [(e, Request.from_dict(e)) for e in entries if e.get("stage") != "assume-role"]


def allowed_by(policies: list[tuple[str, dict]], request: Request) -> list[str]:
    """Sids of the Allow statements that apply to ``request`` (there are no Deny statements in the role)."""
    return [st.get("Sid", "") for _name, doc in policies for st in statements(doc)
            if st.get("Effect") == "Allow" and applies(st, request)]


@dataclass(frozen=True)
class Recording:
    """A lifecycle's authorization requests and the launch role's policies as deployed in its account (a
    statement naming an administrator setting, such as the hosted zone, names that account's value)."""

    policies: list[tuple[str, dict]]
    entries: list[dict]


def first_breaks(recorded: dict[tuple[str, str], Recording]) -> dict[str, Break]:
    """For each statement, the first request (scenario by scenario, in order) that no other statement of the
    scenario's role allows, with the denial the endpoint would answer without the statement."""
    session = f"arn:aws:sts::{{account}}:assumed-role/{LAUNCH_ROLE_NAME}/{SESSION}"
    found: dict[str, Break] = {}
    for scenario, recording in recorded.items():
        policies = recording.policies
        for entry, request in identity_requests(recording.entries):
            sids = allowed_by(policies, request)
            assert sids, f"{scenario}: a recorded request no statement allows: {entry}"
            if len(sids) == 1 and sids[0] not in found:
                reduced = [(name, without_statement(doc, sids[0])) for name, doc in policies]
                decision = evaluate(reduced, request)
                assert not decision.allowed
                account = entry["role"].split(":")[4]
                found[sids[0]] = Break(sids[0], scenario, entry,
                                       denial_message(session.format(account=account), request, decision))
    return found
