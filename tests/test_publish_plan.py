"""The publish plan (pure): desired state vs observed listings -> actions.  No AWS here."""

from __future__ import annotations

import re

import pytest

from generator.aws import publish_plan as plan
from generator.settings import PortfolioSettings, PublishSettings

H1, H2, H3 = "1" * 64, "2" * 64, "3" * 64
PORTFOLIO = PortfolioSettings("HIPAA Products", "Approved products", "Security")
GROUP = "arn:aws:iam::123456789012:group/HealthcareDeveloper"
POLICY = PublishSettings(active_versions=2, visible_versions=3)


def want(name="web", version="1.0.0", sha=H1, **kw) -> plan.DesiredProduct:
    return plan.DesiredProduct(name=name, version=version, sha256=sha, change_note=f"note {version}",
                               owner="Security", description="A product", **kw)


def art(version, sha=H1, ident=None, active=True, guidance="DEFAULT") -> plan.ObservedArtifact:
    return plan.ObservedArtifact(ident or f"pa-{version}", version, plan.artifact_description("x", sha),
                                 active, guidance)


def product(*artifacts, name="web", in_portfolio=True, constraint=True, fields=None) -> plan.ObservedProduct:
    fields = fields if fields is not None else want(name).product_fields()
    return plan.ObservedProduct(f"prod-{name}", name, tuple(artifacts), fields, in_portfolio, constraint)


def region(*products, principals=(GROUP,), portfolio="port-1") -> plan.ObservedRegion:
    return plan.ObservedRegion(portfolio, {"Description": PORTFOLIO.description, "ProviderName": PORTFOLIO.provider},
                               frozenset(principals), {p.name: p for p in products})


def kinds(actions):
    return [(a.kind, a.product, a.version) for a in actions]


def test_empty_account_creates_everything_in_order():
    actions = plan.plan_region([want(), want("db")], plan.ObservedRegion(), PORTFOLIO, [GROUP], POLICY)
    assert kinds(actions) == [
        (plan.Kind.CREATE_PORTFOLIO, "", ""), (plan.Kind.ASSOCIATE_PRINCIPAL, "", ""),
        (plan.Kind.CREATE_PRODUCT, "web", "1.0.0"), (plan.Kind.ASSOCIATE_PRODUCT, "web", "1.0.0"),
        (plan.Kind.CREATE_CONSTRAINT, "web", "1.0.0"),
        (plan.Kind.CREATE_PRODUCT, "db", "1.0.0"), (plan.Kind.ASSOCIATE_PRODUCT, "db", "1.0.0"),
        (plan.Kind.CREATE_CONSTRAINT, "db", "1.0.0")]
    assert actions[1].principal == GROUP


def test_published_state_plans_nothing_to_change():
    actions = plan.plan_region([want()], region(product(art("1.0.0"))), PORTFOLIO, [GROUP], POLICY)
    assert kinds(actions) == [(plan.Kind.UNCHANGED, "web", "1.0.0")]
    assert actions[0].artifact_id == "pa-1.0.0"
    assert plan.changes(actions) == []


def test_new_version_is_one_new_artifact():
    actions = plan.plan_product(want(version="1.1.0", sha=H2), product(art("1.0.0")), POLICY)
    assert kinds(actions) == [(plan.Kind.NEW_VERSION, "web", "1.1.0")]


def test_same_version_with_other_template_is_refused_and_nothing_else_planned():
    seen = product(art("1.0.0"), art("0.9.0"), art("0.8.0"), art("0.7.0"), in_portfolio=False, constraint=False)
    actions = plan.plan_product(want(sha=H2), seen, PublishSettings(active_versions=1, visible_versions=1))
    assert kinds(actions) == [(plan.Kind.REFUSED, "web", "1.0.0")]
    assert "published with another template" in actions[0].detail and H1[:12] in actions[0].detail


def test_artifact_without_hash_counts_as_different():
    seen = product(plan.ObservedArtifact("pa-1", "1.0.0", "made by hand", True, "DEFAULT"))
    assert kinds(plan.plan_product(want(), seen, POLICY)) == [(plan.Kind.REFUSED, "web", "1.0.0")]


def test_missing_association_constraint_principal_are_planned():
    seen = region(product(art("1.0.0"), in_portfolio=False, constraint=False), principals=())
    extra = "arn:aws:iam::123456789012:role/Auditor"
    actions = plan.plan_region([want()], seen, PORTFOLIO, [GROUP, extra], POLICY)
    assert kinds(actions) == [(plan.Kind.ASSOCIATE_PRINCIPAL, "", ""), (plan.Kind.ASSOCIATE_PRINCIPAL, "", ""),
                              (plan.Kind.UNCHANGED, "web", "1.0.0"), (plan.Kind.ASSOCIATE_PRODUCT, "web", "1.0.0"),
                              (plan.Kind.CREATE_CONSTRAINT, "web", "1.0.0")]
    assert [a.principal for a in actions[:2]] == [GROUP, extra]


def test_deprecate_beyond_active_hide_beyond_visible():
    seen = product(art("1.0.0"), art("1.1.0"), art("1.2.0"), art("1.10.0"))
    actions = plan.plan_product(want(version="2.0.0", sha=H3), seen, POLICY)
    # ranked: 2.0.0, 1.10.0 (active) | 1.2.0 (deprecated, visible) | 1.1.0, 1.0.0 (deprecated + hidden)
    assert kinds(actions) == [(plan.Kind.NEW_VERSION, "web", "2.0.0"),
                              (plan.Kind.DEPRECATE, "web", "1.2.0"),
                              (plan.Kind.DEPRECATE, "web", "1.1.0"), (plan.Kind.HIDE, "web", "1.1.0"),
                              (plan.Kind.DEPRECATE, "web", "1.0.0"), (plan.Kind.HIDE, "web", "1.0.0")]
    assert actions[1].artifact_id == "pa-1.2.0"


def test_retirement_already_done_is_not_repeated_and_never_undone():
    seen = product(art("2.0.0", H3), art("1.2.0", guidance="DEPRECATED"),
                   art("1.1.0", guidance="DEPRECATED", active=False),
                   art("1.0.0", guidance="DEPRECATED", active=False),
                   art("1.10.0", guidance="DEPRECATED"))   # an administrator's choice: left alone
    actions = plan.plan_product(want(version="2.0.0", sha=H3), seen, POLICY)
    assert kinds(actions) == [(plan.Kind.UNCHANGED, "web", "2.0.0")]


def test_version_being_published_always_counts_as_newest():
    seen = product(art("3.0.0"), art("2.0.0"))
    actions = plan.plan_product(want(version="1.5.0", sha=H2), seen, PublishSettings(1, 1))
    assert kinds(actions) == [(plan.Kind.NEW_VERSION, "web", "1.5.0"),
                              (plan.Kind.DEPRECATE, "web", "3.0.0"), (plan.Kind.HIDE, "web", "3.0.0"),
                              (plan.Kind.DEPRECATE, "web", "2.0.0"), (plan.Kind.HIDE, "web", "2.0.0")]


def test_non_semver_artifacts_are_left_alone():
    seen = product(art("1.0.0"), plan.ObservedArtifact("pa-x", "legacy", "", True, "DEFAULT"))
    assert kinds(plan.plan_product(want(), seen, PublishSettings(1, 1))) == [(plan.Kind.UNCHANGED, "web", "1.0.0")]


def test_product_and_portfolio_detail_drift_is_updated():
    fields = dict(want(support_email="a@example.org").product_fields(), ShortDescription="old text")
    seen = product(art("1.0.0"), fields=fields)
    actions = plan.plan_product(want(support_email="b@example.org"), seen, POLICY)
    assert kinds(actions)[0] == (plan.Kind.UPDATE_PRODUCT, "web", "1.0.0")
    assert actions[0].detail == "changed: ShortDescription, SupportEmail"
    seen_region = plan.ObservedRegion("port-1", {"Description": "old", "ProviderName": PORTFOLIO.provider},
                                      frozenset([GROUP]), {})
    assert kinds(plan.plan_region([], seen_region, PORTFOLIO, [GROUP], POLICY)) == [(plan.Kind.UPDATE_PORTFOLIO, "", "")]


def test_empty_setting_is_not_drift():
    seen = product(art("1.0.0"), fields={**want().product_fields(), "SupportUrl": "https://x.example.org"})
    assert kinds(plan.plan_product(want(), seen, POLICY)) == [(plan.Kind.UNCHANGED, "web", "1.0.0")]


@pytest.mark.parametrize("parts", [("product", "us-east-1", "web", "1.0.0", H1),
                                   ("artifact", "prod-" + "x" * 300, "99.99.99", H2), ("",)])
def test_idempotency_tokens_are_deterministic_and_valid(parts):
    token = plan.idempotency_token(*parts)
    assert token == plan.idempotency_token(*parts)
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_-]*", token) and len(token) <= 128
    assert token != plan.idempotency_token(*parts, "other")


def test_hash_round_trips_through_the_description():
    d = plan.artifact_description("First release: sha256 matters", H2)
    assert plan.hash_from_description(d) == H2
    assert plan.hash_from_description("no hash here") is None
    assert plan.hash_from_description(None) is None


# -- an organisation: shares, the developer group by name, the launch role by LocalRoleName ----------------

PATTERN = plan.principal_name_arn("aws", "group/HealthcareDeveloper")
OUS = (plan.ShareTarget("ORGANIZATIONAL_UNIT", "ou-ab12-11111111", "prod"),
       plan.ShareTarget("ORGANIZATIONAL_UNIT", "ou-ab12-22222222", "test"))
LOCAL = plan.local_launch_description("HipaaCatalogLaunchRole")


def test_principal_name_is_an_arn_without_account():
    assert PATTERN == "arn:aws:iam:::group/HealthcareDeveloper"
    assert plan.is_pattern(PATTERN) and not plan.is_pattern(GROUP)


def test_organisation_first_publish_shares_with_every_target():
    actions = plan.plan_region([want()], plan.ObservedRegion(), PORTFOLIO, [GROUP, PATTERN], POLICY, OUS, LOCAL)
    portfolio_level = [(a.kind, a.principal or a.node) for a in actions if not a.product]
    assert portfolio_level == [(plan.Kind.CREATE_PORTFOLIO, ""), (plan.Kind.ASSOCIATE_PRINCIPAL, GROUP),
                               (plan.Kind.ASSOCIATE_PRINCIPAL, PATTERN), (plan.Kind.SHARE, "ou-ab12-11111111"),
                               (plan.Kind.SHARE, "ou-ab12-22222222")]
    assert actions[3].detail == "environment prod"


def shared(principals=True, tags=True):
    return {t.node_id: plan.ObservedShare(t.node_id, principals, tags) for t in OUS}


def test_organisation_published_state_plans_nothing():
    seen = plan.ObservedRegion("port-1", {"Description": PORTFOLIO.description, "ProviderName": PORTFOLIO.provider},
                               frozenset({GROUP, PATTERN}),
                               {"web": plan.ObservedProduct("prod-web", "web", (art("1.0.0"),), want().product_fields(),
                                                            True, True, "cons-1", LOCAL)}, shared())
    assert plan.changes(plan.plan_region([want()], seen, PORTFOLIO, [GROUP, PATTERN], POLICY, OUS, LOCAL)) == []


def test_a_share_without_principal_sharing_is_updated_not_duplicated():
    actions = plan.plan_shares(OUS, {**shared(), "ou-ab12-22222222": plan.ObservedShare("ou-ab12-22222222", False, True)})
    assert [(a.kind, a.node, a.detail) for a in actions] == [
        (plan.Kind.UPDATE_SHARE, "ou-ab12-22222222", "turning on principal sharing")]


def test_a_role_arn_launch_constraint_becomes_a_local_role_one():
    seen = product(art("1.0.0"))
    seen = plan.ObservedProduct(seen.id, seen.name, seen.artifacts, seen.fields, True, True, "cons-1",
                                "Launch as arn:aws:iam::123456789012:role/HipaaCatalogLaunchRole")
    actions = plan.plan_product(want(), seen, POLICY, LOCAL)
    assert [(a.kind, a.artifact_id) for a in actions] == [(plan.Kind.UNCHANGED, "pa-1.0.0"),
                                                          (plan.Kind.UPDATE_CONSTRAINT, "cons-1")]
    # one account: the description is not compared (a launch constraint is created only when missing)
    assert plan.changes(plan.plan_product(want(), seen, POLICY)) == []
