"""The deployed launch role against the local endpoint's IAM enforcement: what AWS's documentation says a
launch role must allow is refused without the statement that allows it, with AWS's AccessDenied message.

* the template read: Service Catalog's own copy of the template, in a service-owned bucket, with
  ``s3:ExistingObjectTag/servicecatalog:provisioning`` (*AWS Service Catalog Launch Constraints*,
  https://docs.aws.amazon.com/servicecatalog/latest/adminguide/constraints-launch.html);
* the Elastic Load Balancing service-linked role, created on the first load balancer of an account
  (*Elastic Load Balancing service-linked role*,
  https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-service-linked-roles.html);
* ``iam:PassRole`` only to the service a statement names (``iam:PassedToService``, *IAM and AWS STS
  condition context keys*, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html);
* the PROD alias record only in the administrator's hosted zone ("ChangeResourceRecordSets ... Resources:
  arn:aws:route53:::hostedzone/hosted zone ID", *Amazon Route 53 API permissions: Actions, resources, and
  conditions reference*, https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/r53-api-permissions-ref.html)
  and only under the administrator's domain (``route53:ChangeResourceRecordSetsNormalizedRecordNames``,
  *Using IAM policy conditions for fine-grained access control*,
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html);
* the trust policy's confused-deputy conditions, and the switch that turns enforcement off.
"""

from __future__ import annotations

import json

import pytest

from generator.aws import api as aws
from generator.blocks.admin_settings import LAUNCH_ROLE_NAME
from tests.local_aws.launch_role import remove_statement, replace_statement, restore_role, role_policies

pytestmark = [pytest.mark.aws, pytest.mark.slow]
REGION = "us-east-1"
PRODUCT = "healthcare-web-server"
SESSION = f"User: arn:aws:sts::123456789012:assumed-role/{LAUNCH_ROLE_NAME}/servicecatalog is not authorized to perform:"


def launch(account, hc, name: str, environment: str = "TEST", phi: str = "NO") -> tuple[int, dict, str]:
    repo = aws.client(account["session"], "codecommit").create_repository(repositoryName=f"{name}-site")
    return hc("launch", PRODUCT, "--name", name, "--region", REGION, "-p", "FriendlyName=Clinic",
              "-p", f"Environment={environment}", "-p", f"PHI={phi}",
              "-p", f"CodeCommitRepo={repo['repositoryMetadata']['cloneUrlHttp']}",
              "-p", "InstanceOwnerEmail=dev@example.org", "-p", "WebDirectory=clinic")


def test_the_template_is_read_only_from_service_catalogs_tagged_copy(account, hc):
    sess = account["session"]
    bucket = aws.client(sess, "ssm").get_parameter(Name="/hipaa-catalog/catalog/template-bucket")["Parameter"]["Value"]
    # the read scoped to the catalog's own template bucket (what the launch role used to allow): refused,
    # since CloudFormation reads Service Catalog's copy
    replace_statement(sess, "ReadProvisioningTemplates",
                      lambda st: {**st, "Resource": [f"arn:aws:s3:::{bucket}/*"]})
    code, _out, err = launch(account, hc, "read-own-bucket")
    assert code == 3
    assert f"{SESSION} s3:GetObject on resource: arn:aws:s3:::servicecatalog-templates-us-east-1-local/" in err
    # Resource "*" but another tag value: refused too
    replace_statement(sess, "ReadProvisioningTemplates", lambda st: {
        **st, "Resource": "*", "Condition": {"StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "no"}}})
    code, _out, err = launch(account, hc, "read-other-tag")
    assert code == 3 and f"{SESSION} s3:GetObject" in err
    # AWS's statement: the launch succeeds
    replace_statement(sess, "ReadProvisioningTemplates", lambda st: {
        **st, "Resource": "*",
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}}})
    code, out, err = launch(account, hc, "read-copy")
    assert code == 0 and out["status"] == "SUCCEEDED", err


def _service_linked_roles(sess) -> list[str]:
    return [r["RoleName"] for r in aws.client(sess, "iam").list_roles(PathPrefix="/aws-service-role/")["Roles"]]


def test_the_first_load_balancer_of_a_fresh_account_needs_create_service_linked_role(account, hc):
    sess = account["session"]
    deployed = role_policies(sess)
    assert "AWSServiceRoleForElasticLoadBalancing" not in _service_linked_roles(sess)
    remove_statement(sess, "IamCreateServiceLinkedRoleForElasticloadbalancing")
    code, _out, err = launch(account, hc, "prod-fresh", environment="PROD")
    assert code == 3
    assert (f"{SESSION} iam:CreateServiceLinkedRole on resource: arn:aws:iam::123456789012:role/aws-service-role/"
            "elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing") in err
    assert "AWSServiceRoleForElasticLoadBalancing" not in _service_linked_roles(sess)

    # with the statement the first PROD launch creates the role; afterwards the statement is not needed
    restore_role(sess, deployed)
    code, out, err = launch(account, hc, "prod-first", environment="PROD")
    assert code == 0, err
    assert "AWSServiceRoleForElasticLoadBalancing" in _service_linked_roles(sess)
    role = aws.client(sess, "iam").get_role(RoleName="AWSServiceRoleForElasticLoadBalancing")["Role"]
    assert role["Path"] == "/aws-service-role/elasticloadbalancing.amazonaws.com/"
    remove_statement(sess, "IamCreateServiceLinkedRoleForElasticloadbalancing")
    code, out, err = launch(account, hc, "prod-second", environment="PROD")
    assert code == 0 and out["status"] == "SUCCEEDED", err


def test_pass_role_only_to_the_service_the_statement_names(account, hc):
    sess = account["session"]
    deployed = role_policies(sess)
    replace_statement(sess, "IamPassRoleToEc2", lambda st: {
        **st, "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}})
    code, _out, err = launch(account, hc, "pass-to-lambda")
    assert code == 3
    assert f"{SESSION} iam:PassRole on resource: arn:aws:iam::123456789012:role/hipaa-catalog/products/" in err
    assert "InstanceRole" in err
    # the backup role may go to AWS Backup only
    restore_role(sess, deployed)
    replace_statement(sess, "IamPassRoleToBackup", lambda st: {
        **st, "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}})
    code, _out, err = launch(account, hc, "backup-to-ec2", phi="YES")
    assert code == 3
    assert f"{SESSION} iam:PassRole on resource: arn:aws:iam::123456789012:role/hipaa-catalog/products/" in err
    assert "PhiBackupRole" in err and "PhiBackupSelection" in err


def test_a_dns_record_only_in_the_administrators_zone_and_under_their_domain(account, hc):
    sess = account["session"]
    ssm = aws.client(sess, "ssm")
    zone = ssm.get_parameter(Name="/hipaa-catalog/dns/hosted-zone-id")["Parameter"]["Value"]
    domain = ssm.get_parameter(Name="/hipaa-catalog/dns/domain")["Parameter"]["Value"]
    deployed = role_policies(sess)
    (st,) = [st for _name, doc in deployed for st in doc["Statement"] if st["Sid"] == "Route53ChangeSharedResources"]
    assert st["Resource"] == [f"arn:aws:route53:::hostedzone/{zone}"]   # the settings, as the role stack read them
    assert st["Condition"]["ForAllValues:StringLike"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"] == \
        [f"*.{domain}"]
    refused = f"{SESSION} route53:ChangeResourceRecordSets on resource: arn:aws:route53:::hostedzone/{zone} "
    replace_statement(sess, "Route53ChangeSharedResources",
                      lambda st: {**st, "Resource": ["arn:aws:route53:::hostedzone/ZOTHERZONE"]})
    code, _out, err = launch(account, hc, "other-zone", environment="PROD")
    assert code == 3 and refused in err and "SiteRecord" in err, err
    restore_role(sess, deployed)
    replace_statement(sess, "Route53ChangeSharedResources", lambda st: {**st, "Condition": {"ForAllValues:StringLike": {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["*.elsewhere.example.org"]}}})
    code, _out, err = launch(account, hc, "other-domain", environment="PROD")
    assert code == 3 and refused in err, err
    restore_role(sess, deployed)
    code, out, err = launch(account, hc, "own-zone", environment="PROD")
    assert code == 0 and out["outputs"]["SiteHostName"].endswith(f".{domain}"), err


def test_a_redeployed_role_follows_the_dns_settings(account, hc):
    """The role reads the settings with SSM-typed parameters: CloudFormation "always retrieves the latest value"
    (*Specify existing resources at runtime with CloudFormation-supplied parameter types*), so a redeploy after
    the baseline's domain changed limits the records to the new domain."""
    sess, built = account["session"], str(account["built"])
    code, _out, err = hc("deploy-baseline", "--region", REGION, "--yes", "--out", built,
                         "-p", "ProdDomain=sites.clinic.example.org")
    assert code == 0, err
    code, _out, err = hc("deploy-launch-role", "--region", REGION, "--yes", "--out", built)
    assert code == 0, err
    (st,) = [st for _name, doc in role_policies(sess) for st in doc["Statement"]
             if st["Sid"] == "Route53ChangeSharedResources"]
    assert st["Condition"]["ForAllValues:StringLike"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"] == \
        ["*.sites.clinic.example.org"]


def test_the_trust_policy_must_let_service_catalog_of_this_account_assume_the_role(account, hc):
    iam = aws.client(account["session"], "iam")
    trust = iam.get_role(RoleName=LAUNCH_ROLE_NAME)["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    other = json.loads(json.dumps(trust).replace("123456789012", "111111111111"))
    iam.update_assume_role_policy(RoleName=LAUNCH_ROLE_NAME, PolicyDocument=json.dumps(other))
    code, _out, err = launch(account, hc, "confused-deputy")
    assert code == 3
    assert f"servicecatalog.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: " \
           f"arn:aws:iam::123456789012:role/{LAUNCH_ROLE_NAME}" in err
    iam.update_assume_role_policy(RoleName=LAUNCH_ROLE_NAME, PolicyDocument=json.dumps(trust))
    code, out, err = launch(account, hc, "trusted")
    assert code == 0, err


def test_enforcement_can_be_switched_off_for_debugging(account, hc):
    endpoint, sess = account["endpoint"], account["session"]
    remove_statement(sess, "Ec2Create")
    code, _out, err = launch(account, hc, "enforced")
    assert code == 3 and f"{SESSION} ec2:" in err
    assert endpoint.set_iam(enforce=False)["enforce"] is False
    code, out, err = launch(account, hc, "not-enforced")
    assert code == 0 and out["status"] == "SUCCEEDED", err
    refused = [r for r in endpoint.iam_requests() if not r["allowed"] and r["record"] == out["record_id"]]
    assert refused and {r["action"] for r in refused} >= {"ec2:RunInstances"}   # still logged, not refused
    endpoint.reset()
    assert endpoint.iam()["enforce"] is True   # a reset restores the start-up setting
