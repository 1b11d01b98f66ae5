"""The healthcare web server (``healthcare-web-server``): Apache serving a CodeCommit repository over HTTPS.

PROD puts an internet-facing Application Load Balancer (443 with TLS 1.2+, port 80 only redirecting) in
front of a private instance, under its own name in the administrator's hosted zone; TEST has no load
balancer and is reachable only from the administrator's CIDR.  PHI=YES adds a data volume encrypted with
its own customer-managed key, in a daily backup plan.

Design choices (see also the README section "The healthcare web server product"):

- **Administrator settings.**  Scalar settings (VPC, instance subnet and its Availability Zone,
  administrator CIDR, PROD certificate, hosted zone and domain, access-log bucket, the AMI) are read with
  ``{{resolve:ssm:<prefix>/...}}`` dynamic references: they never appear on the launch form, and a developer
  cannot point them elsewhere.  The public subnet list cannot work that way (``Fn::Select``/``Fn::Split``
  over a dynamic reference see the unresolved text, not the list), so it is an SSM-typed parameter
  (``AWS::SSM::Parameter::Value<List<AWS::EC2::Subnet::Id>>``) whose default is the administrator's
  parameter name, locked with ``AllowedValues`` to exactly that name (CloudFormation validates the parameter
  *name*, then resolves it), in a last form group "Administrator settings (do not change)".
- **A trusted PROD URL.**  ``SiteRecord`` aliases ``<id>.<domain>`` to the load balancer, where ``<id>`` is
  the UUID at the end of the stack id (``arn:aws:cloudformation:us-west-2:123456789012:stack/teststack/
  51af3dc0-da77-11e4-872e-1234567db123``, *Pseudo parameters reference*, AWS::StackId,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html): one per
  stack, so two launches never get the same name, and the certificate's ``*.<domain>`` covers it.
- **The AMI is pinned per launch.**  ``ImageId`` is version ``AmiVersion`` of the administrator's AMI setting
  (``{{resolve:ssm:NAME:VERSION}}``; "If you don't specify the exact version, CloudFormation uses the latest
  version of the parameter whenever you create or update the stack", *SSM parameters*, dynamic references,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html), so an update that
  keeps ``AmiVersion`` keeps the AMI and never replaces the instance for it ("ImageId ... Update requires:
  Replacement", *AWS::EC2::Instance*).  ``hipaa-catalog launch`` fills in the setting's current version.  The
  reference is built with ``Fn::Sub``, as AWS's own examples build dynamic references (*AWS::SecretsManager::
  SecretTargetAttachment*, ``Fn::Sub: "{{resolve:secretsmanager:${MyRedshiftSecret}::username}}"``).
- **Keys.**  PHI=NO creates no KMS key at all: the root volume is encrypted with the AWS-managed EBS
  key (``alias/aws/ebs``).  PHI=YES creates ``PhiKey`` (rotating yearly, retained when the stack is
  deleted, like the vault and the volume's final snapshot it protects), which encrypts the root volume,
  the PHI volume and its backup vault.  The log groups (a log group can only use a customer-managed key)
  always use the account baseline's logs key, read like the other administrator settings
  (``logging/kms-key-arn``); its key policy lets CloudWatch Logs use it for any log group in the account.
- **The PHI volume** is created in the instance subnet's Availability Zone (a setting, so the volume does
  not depend on the instance) and attached by the instance itself (``generator.blocks.bootstrap``): the
  instance depends on it, so a stack deletion terminates the instance (which unmounts it) before the volume
  is deleted with its final snapshot, and nothing ever detaches it while mounted.
- **Bootstrap.**  ``AWS::CloudFormation::Init`` (``generator.blocks.bootstrap``); UserData only runs cfn-init
  and cfn-signal to the instance's own CreationPolicy.  The target group checks the bootstrap's own health
  path, so the site path may be empty.
- **Releases.**  ``Revision`` (a commit id, a branch, or ``HEAD``: the default branch) is part of the
  instance's Init metadata, so changing it is a metadata change cfn-hup acts on; ``SiteRevision`` names it.
- **Deletion protection** of the PROD load balancer is the ``DeletionProtection`` parameter (default
  ``true``); ``hipaa-catalog terminate`` first updates the product with ``false`` through Service Catalog
  (so the launch role turns it off), then terminates.
- **Instance types.**  Derived in ``make_config`` (build time, from cfn-lint's per-region data), so
  ``build`` stays pure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from troposphere import (And, Condition, Equals, GetAtt, If, Not, NoValue, Output, Parameter, Ref, Select, Split, Sub,
                         Tags, Template)

from generator.blocks import admin_settings as admin, backup, bootstrap, compute, instance_types, kms, network, tags
from generator.blocks.catalog import (AMI_VERSION_PARAMETER, DELETION_PROTECTION_OUTPUT, DELETION_PROTECTION_PARAMETER,
                                      REPOSITORY_OUTPUT, REPOSITORY_PARAMETER, REVISION_OUTPUT, REVISION_PARAMETER,
                                      guard_suppressed, retained)
from generator.blocks.iam import aws_managed
from generator.blocks.logs import RETENTION_VALUES, log_group
from generator.product import ProductConfig, ProductSpec, config_error, options_for

NAME = "healthcare-web-server"
DEFAULT_FAMILIES = ("t3", "t3a", "m5", "m6i", "m7i", "c5", "c6i", "c7i", "r5", "r6i", "r7i")
PHI_DEVICE = "/dev/sdf"
AWS_MANAGED_EBS_KEY = "alias/aws/ebs"  # the root volume's key when PHI=NO (no customer key then)
PHI_VOLUME_TAG = "hipaa-catalog:phi-volume"  # on the instance: its PHI volume's id, or "none"

# CloudFormation AllowedPatterns are matched against the whole value (Java regex); tests use re.fullmatch.
REPO_URL_PATTERN = r"https://git-codecommit\.[a-z]{2}(-[a-z]+)+-[0-9]\.amazonaws\.com/v1/repos/[A-Za-z0-9._-]{1,100}"
EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
WEB_DIRECTORY_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}"
FRIENDLY_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}"
KEY_NAME_PATTERN = r"[ -~]{0,255}"
# A commit id, a branch name or HEAD; never starting with "-" (no git option) nor holding shell quotes or "$".
REVISION_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}"
DEFAULT_REVISION = "HEAD"
AMI_VERSION_PATTERN = r"[1-9][0-9]{0,9}"

# The Guard HIPAA rule wants a literal "true"; the attribute is the DeletionProtection parameter instead.
DELETION_PROTECTION_IS_A_PARAMETER = ("ELB_DELETION_PROTECTION_ENABLED", (
    "deletion protection is on: deletion_protection.enabled is the DeletionProtection parameter, default true; "
    "it is a parameter because a protected load balancer cannot be deleted, so `hipaa-catalog terminate` (and an "
    "update leaving PROD) first updates the product with DeletionProtection=false through Service Catalog (the "
    "launch role turns it off); the rule accepts only a literal true"))


@dataclass(frozen=True)
class WebServerConfig(ProductConfig):
    """Build-time options, from ``[products.healthcare-web-server.options]`` in the catalog settings."""

    instance_families: tuple[str, ...] = DEFAULT_FAMILIES  # offered on the launch form, in this order
    max_instance_size: str = "4xlarge"                     # largest size offered
    default_instance_type: str = "t3.small"
    allowed_instance_types: tuple[str, ...] = ()           # derived by make_config; not an option
    root_volume_gib: int = 20
    phi_volume_gib: int = 50
    phi_mount_point: str = "/srv/phi"
    log_retention_days: int = 365
    backup_schedule: str = "cron(0 5 ? * * *)"             # daily, 05:00 UTC
    backup_retention_days: int = 35
    bootstrap_timeout_minutes: int = 30
    phi_volume_deletion_policy: str = "Snapshot"           # Snapshot: a final snapshot; Retain: the volume stays

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("instance_families", "allowed_instance_types"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        self._check_instance_types()
        self._check_sizes()
        if not (self.phi_mount_point.startswith("/") and self.phi_mount_point.strip("/")
                and all(c.isalnum() or c in "/_-" for c in self.phi_mount_point)):
            self._fail("phi_mount_point", self.phi_mount_point, "an absolute path of letters, digits, / _ -")
        if not (self.backup_schedule.startswith("cron(") and self.backup_schedule.endswith(")")):
            self._fail("backup_schedule", self.backup_schedule, "an AWS cron expression, e.g. cron(0 5 ? * * *)")
        if self.phi_volume_deletion_policy not in compute.VOLUME_DELETION_POLICIES:
            self._fail("phi_volume_deletion_policy", self.phi_volume_deletion_policy,
                       "Snapshot (a final snapshot when the product is terminated or the volume replaced) or "
                       "Retain (the volume itself stays)")

    def _fail(self, field: str, found, allowed: str):
        raise config_error(self.product, field, found, allowed)

    def _check_instance_types(self) -> None:
        families = self.instance_families
        if not families or not all(isinstance(f, str) for f in families):
            self._fail("instance_families", families, "a non-empty list of instance families, e.g. ['t3', 'm6i']")
        for f in families:
            if not instance_types.ebs_encryption_eligible(f):
                self._fail("instance_families", f, "current-generation families (EBS encryption); not "
                           + ", ".join(sorted(instance_types.PREVIOUS_GENERATION)))
            if not instance_types.ebs_optimized_by_default(f):
                self._fail("instance_families", f, "families EBS-optimized by default (the instance sets "
                           "EbsOptimized); not " + ", ".join(sorted(instance_types.NOT_EBS_OPTIMIZED)))
            if not instance_types.is_x86_64(f):
                self._fail("instance_families", f, "x86_64 families (the AMI is Amazon Linux 2023 x86_64)")
        if instance_types.size_rank(self.max_instance_size) is None:
            self._fail("max_instance_size", self.max_instance_size, "a size such as large, xlarge, 4xlarge")
        if self.allowed_instance_types and self.default_instance_type not in self.allowed_instance_types:
            self._fail("default_instance_type", self.default_instance_type,
                       "one of the derived instance types: " + ", ".join(self.allowed_instance_types))

    def _check_sizes(self) -> None:
        limits = {"root_volume_gib": (8, 16384), "phi_volume_gib": (1, 16384), "backup_retention_days": (1, 36500),
                  "bootstrap_timeout_minutes": (5, 720)}
        for name, (lo, hi) in limits.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                self._fail(name, value, f"a whole number from {lo} to {hi}")
        if self.log_retention_days not in RETENTION_VALUES:
            self._fail("log_retention_days", self.log_retention_days,
                       f"a CloudWatch Logs retention of at least a year: {RETENTION_VALUES}")


def make_config(settings, product, built) -> WebServerConfig:
    """The product's config; derives the InstanceType list from cfn-lint's data for the catalog's regions."""
    options = options_for(WebServerConfig, product.name, product.options)
    if "allowed_instance_types" in options:
        raise config_error(product.name, "options.allowed_instance_types", options["allowed_instance_types"],
                           "nothing: it is derived at build time; set instance_families / max_instance_size")
    fields = {f.name: f.default for f in dataclasses.fields(WebServerConfig)
              if f.default is not dataclasses.MISSING}
    families = tuple(options.get("instance_families", fields["instance_families"]))
    max_size = options.get("max_instance_size", fields["max_instance_size"])
    base = dict(product=product.name, version=product.version, ssm_prefix=settings.ssm_prefix,
                regions=tuple(settings.regions))
    WebServerConfig(**base, **options)  # validate the options before deriving anything from them
    allowed = instance_types.allowed_instance_types(settings.regions, families, max_size)
    if not allowed:
        raise config_error(product.name, "instance_families", list(families),
                           f"families with at least one type in every catalog region ({', '.join(settings.regions)})")
    return WebServerConfig(**base, **options, allowed_instance_types=allowed)


# --- parameters --------------------------------------------------------------------------------

def _developer_parameters(t: Template, cfg: WebServerConfig) -> dict[str, Parameter]:
    p = {}
    p["FriendlyName"] = t.add_parameter(Parameter(
        "FriendlyName", Type="String", MinLength=1, MaxLength=64, AllowedPattern=FRIENDLY_NAME_PATTERN,
        Description="Name of the server (its Name tag), e.g. Patient Portal",
        ConstraintDescription="1-64 letters, digits, spaces, dots, underscores or hyphens, starting with a letter or digit"))
    p["InstanceOwnerEmail"] = t.add_parameter(Parameter(
        "InstanceOwnerEmail", Type="String", MinLength=6, MaxLength=254, AllowedPattern=EMAIL_PATTERN,
        Description="E-mail address of the person responsible for this server (its Owner tag; alerts and reports)",
        ConstraintDescription="an e-mail address such as jane.doe@example.org"))
    p["Environment"] = t.add_parameter(Parameter(
        "Environment", Type="String", AllowedValues=["PROD", "TEST"], Default="TEST",
        Description="PROD: public over HTTPS through a load balancer. TEST: reachable only from the administrators' network",
        ConstraintDescription="PROD or TEST"))
    p["PHI"] = t.add_parameter(Parameter(
        "PHI", Type="String", AllowedValues=["YES", "NO"], Default="NO",
        Description="Will protected health information be stored on this server? YES adds an encrypted, backed-up data volume",
        ConstraintDescription="YES or NO"))
    p[REPOSITORY_PARAMETER] = t.add_parameter(Parameter(
        REPOSITORY_PARAMETER, Type="String", MaxLength=200, AllowedPattern=REPO_URL_PATTERN,
        Description="HTTPS clone URL of the site's CodeCommit repository (cloneUrlHttp)",
        ConstraintDescription="https://git-codecommit.<region>.amazonaws.com/v1/repos/<repository name>"))
    p["WebDirectory"] = t.add_parameter(Parameter(
        "WebDirectory", Type="String", MinLength=1, MaxLength=63, AllowedPattern=WEB_DIRECTORY_PATTERN,
        Description="Path of the site: it is served at https://<host>/<WebDirectory>/",
        ConstraintDescription="1-63 letters, digits, underscores or hyphens, starting with a letter or digit (no slashes or dots)"))
    p["InstanceType"] = t.add_parameter(Parameter(
        "InstanceType", Type="String", AllowedValues=list(cfg.allowed_instance_types),
        Default=cfg.default_instance_type,
        Description="EC2 instance type (only types with EBS encryption, available in every catalog region)",
        ConstraintDescription="one of the listed instance types"))
    p["KeyName"] = t.add_parameter(Parameter(
        "KeyName", Type="String", Default="", MaxLength=255, AllowedPattern=KEY_NAME_PATTERN,
        Description="Optional EC2 key pair for SSH in TEST (ignored in PROD). Leave empty: use SSM Session Manager",
        ConstraintDescription="empty, or the name of an existing EC2 key pair (printable ASCII)"))
    p[REVISION_PARAMETER] = t.add_parameter(Parameter(
        REVISION_PARAMETER, Type="String", Default=DEFAULT_REVISION, MaxLength=255, AllowedPattern=REVISION_PATTERN,
        Description="What the server serves: a commit id, a branch, or HEAD (the repository's default branch). "
                    "`hipaa-catalog release` sets a commit id",
        ConstraintDescription="a commit id, a branch name or HEAD (letters, digits, . _ / -; not starting with - . /)"))
    p[AMI_VERSION_PARAMETER] = t.add_parameter(Parameter(
        AMI_VERSION_PARAMETER, Type="String", MaxLength=10, AllowedPattern=AMI_VERSION_PATTERN,
        Description=f"Version of the administrator's AMI setting {admin.WEB_SERVER_AMI.full_name(cfg.ssm_prefix)} "
                    "this server runs (`hipaa-catalog launch` fills in the current one; a new version replaces "
                    "the instance)",
        ConstraintDescription="a positive whole number: a version of the AMI setting (aws ssm get-parameter "
                              f"--name {admin.WEB_SERVER_AMI.full_name(cfg.ssm_prefix)} shows the current one)"))
    p[DELETION_PROTECTION_PARAMETER] = t.add_parameter(Parameter(
        DELETION_PROTECTION_PARAMETER, Type="String", AllowedValues=["true", "false"], Default="true",
        Description="PROD: deletion protection of the load balancer. `hipaa-catalog terminate` turns it off first",
        ConstraintDescription="true or false"))
    return p


def _admin_list_parameter(t: Template, cfg: WebServerConfig, logical_id: str, setting: admin.AdminSetting) -> Parameter:
    name = setting.full_name(cfg.ssm_prefix)
    return t.add_parameter(Parameter(
        logical_id, Type=setting.cfn_type, Default=name, AllowedValues=[name],
        Description=f"Administrator setting, do not change: SSM parameter with the {setting.description}",
        ConstraintDescription=f"must be {name} (set by the security administrator)"))


def _interface(t: Template) -> None:
    groups = [
        ("Server", ["FriendlyName", "InstanceOwnerEmail", "Environment", "PHI"]),
        ("Website", ["CodeCommitRepo", "WebDirectory"]),
        ("Instance", ["InstanceType", "KeyName"]),
        ("Lifecycle", ["Revision", "AmiVersion", "DeletionProtection"]),
        ("Administrator settings (do not change)", ["PublicSubnetIds"]),
    ]
    labels = {
        "FriendlyName": "Server name", "InstanceOwnerEmail": "Owner e-mail", "Environment": "Environment",
        "PHI": "Stores PHI?", "CodeCommitRepo": "CodeCommit repository URL", "WebDirectory": "Web directory",
        "InstanceType": "Instance type", "KeyName": "SSH key pair (TEST only, optional)",
        "Revision": "Revision to serve", "AmiVersion": "AMI setting version",
        "DeletionProtection": "Load balancer deletion protection (PROD)",
        "PublicSubnetIds": "Public subnets (administrator)",
    }
    t.set_metadata({"AWS::CloudFormation::Interface": {
        "ParameterGroups": [{"Label": {"default": label}, "Parameters": names} for label, names in groups],
        "ParameterLabels": {name: {"default": text} for name, text in labels.items()},
    }})


# --- the template ------------------------------------------------------------------------------

def build(cfg: WebServerConfig) -> Template:
    t = Template(Description=f"{cfg.product} {cfg.version}: Apache serving a CodeCommit repository over HTTPS "
                             "only; PROD behind an internet-facing ALB under its own DNS name, TEST private; PHI "
                             "on a KMS-encrypted, backed-up volume.")
    t.set_version("2010-09-09")

    # Parameters
    p = _developer_parameters(t, cfg)
    public_subnets = _admin_list_parameter(t, cfg, "PublicSubnetIds", admin.PUBLIC_SUBNETS)
    _interface(t)

    def ssm(setting: admin.AdminSetting) -> str:
        return "{{resolve:ssm:%s}}" % setting.full_name(cfg.ssm_prefix)

    vpc_id, admin_cidr = ssm(admin.VPC_ID), ssm(admin.ADMIN_CIDR)

    # Conditions
    t.add_condition("IsProd", Equals(Ref(p["Environment"]), "PROD"))
    t.add_condition("IsTest", Not(Equals(Ref(p["Environment"]), "PROD")))
    t.add_condition("HasPhi", Equals(Ref(p["PHI"]), "YES"))
    t.add_condition("HasKeyName", And(Condition("IsTest"), Not(Equals(Ref(p["KeyName"]), ""))))

    def tagged(role: str | None = None, **extra) -> Tags:
        name = Ref(p["FriendlyName"]) if role is None else Sub("${FriendlyName} " + role)
        return tags.standard(name=name, owner=Ref(p["InstanceOwnerEmail"]), environment=Ref(p["Environment"]),
                             phi=Ref(p["PHI"]), product=cfg.product, version=cfg.version, **extra)

    # Resources: keys and log groups.  PHI=NO creates no key: the root volume uses the AWS-managed EBS key
    # and the log groups (always) the account baseline's logs key, read from its SSM setting.
    phi_key = t.add_resource(retained(kms.customer_key(
        "PhiKey", "Web server: root volume, PHI data volume and its backups", condition="HasPhi",
        tags=tagged("PHI key"))))
    t.add_resource(kms.alias("PhiKeyAlias", Sub("alias/hipaa-catalog/${AWS::StackName}/phi"), phi_key,
                             condition="HasPhi"))
    phi_key_arn = GetAtt(phi_key, "Arn")
    root_key = If("HasPhi", phi_key_arn, AWS_MANAGED_EBS_KEY)
    groups = {}
    for lid, what in (("AccessLogGroup", "access log"), ("ErrorLogGroup", "error log"),
                      ("BootstrapLogGroup", "bootstrap log")):
        groups[lid] = t.add_resource(retained(log_group(lid, ssm(admin.LOGS_KMS_KEY_ARN),
                                                        retention_days=cfg.log_retention_days, tags=tagged(what))))

    # Resources: network.  SSH exists only in TEST and only with a key pair to log in with.
    instance_sg = t.add_resource(network.security_group(
        "InstanceSecurityGroup", "Web server instance: HTTPS from the load balancer (PROD) or the admin network (TEST)",
        vpc_id, egress=[network.rule(443, "HTTPS to AWS APIs, CodeCommit and package repositories",
                                     cidr=network.ANYWHERE_V4)], tags=tagged("instance security group")))
    alb_sg = t.add_resource(network.security_group(
        "LoadBalancerSecurityGroup", "Web server load balancer: HTTPS (and the HTTP redirect) from the internet",
        vpc_id, ingress=network.internet_web_ingress(),
        egress=[network.rule(443, "HTTPS to the web server instance", destination_group=GetAtt(instance_sg, "GroupId"))],
        tags=tagged("load balancer security group"), condition="IsProd"))
    t.add_resource(network.ingress("InstanceHttpsFromLoadBalancer", instance_sg, 443,
                                   "HTTPS from the load balancer only", source_group=GetAtt(alb_sg, "GroupId"),
                                   condition="IsProd"))
    t.add_resource(network.ingress("InstanceHttpsFromAdmin", instance_sg, 443, "HTTPS from the administrators' network",
                                   cidr=admin_cidr, condition="IsTest"))
    t.add_resource(network.ingress("InstanceSshFromAdmin", instance_sg, 22, "SSH from the administrators' network",
                                   cidr=admin_cidr, condition="HasKeyName"))

    # Resources: the PHI volume (PHI=YES), in the instance subnet's AZ; the instance attaches it itself
    volume = t.add_resource(compute.encrypted_volume(
        "PhiVolume", availability_zone=ssm(admin.INSTANCE_AZ), size_gib=cfg.phi_volume_gib,
        kms_key_arn=phi_key_arn, deletion_policy=cfg.phi_volume_deletion_policy, tags=tagged("PHI volume"),
        condition="HasPhi"))

    # Resources: instance role and instance
    repo_arn = compute.codecommit_repo_arn(Ref(p[REPOSITORY_PARAMETER]))
    git_pull = t.add_resource(compute.git_pull_policy("GitPullPolicy", repo_arn, path=admin.PRODUCT_IAM_PATH))
    attach = t.add_resource(compute.volume_attach_policy("PhiVolumeAttachPolicy", volume, path=admin.PRODUCT_IAM_PATH,
                                                         condition="HasPhi"))
    role = t.add_resource(compute.instance_role(
        "InstanceRole", path=admin.PRODUCT_IAM_PATH, tags=tagged("instance role"),
        managed_policy_arns=[Ref(git_pull), If("HasPhi", Ref(attach), NoValue),
                             aws_managed("AmazonSSMManagedInstanceCore"), aws_managed("CloudWatchAgentServerPolicy")]))
    profile = t.add_resource(compute.instance_profile("InstanceProfile", role, path=admin.PRODUCT_IAM_PATH))
    ami_setting = admin.WEB_SERVER_AMI.full_name(cfg.ssm_prefix)
    instance = t.add_resource(compute.instance(
        "Instance",
        image_id=Sub("{{resolve:ssm:%s:${%s}}}" % (ami_setting, AMI_VERSION_PARAMETER)),
        instance_type=Ref(p["InstanceType"]),
        interface=compute.private_interface(ssm(admin.INSTANCE_SUBNET), [GetAtt(instance_sg, "GroupId")]),
        root=compute.encrypted_root(root_key, cfg.root_volume_gib),
        profile=profile,
        user_data_script=compute.user_data("Instance", bootstrap.CONFIG_SET),
        bootstrap_timeout_minutes=cfg.bootstrap_timeout_minutes,
        key_name=Ref(p["KeyName"]), key_condition="HasKeyName",
        metadata=bootstrap.init_metadata(
            instance_id="Instance", phi_condition="HasPhi", phi_volume=volume, phi_device=PHI_DEVICE,
            phi_mount_point=cfg.phi_mount_point, access_group=groups["AccessLogGroup"],
            error_group=groups["ErrorLogGroup"], bootstrap_group=groups["BootstrapLogGroup"]),
        # the tag makes the instance depend on the volume: deleted first, so it unmounts the volume
        tags=tagged(**{PHI_VOLUME_TAG: If("HasPhi", Ref(volume), "none")})))

    # Resources: backups of the PHI volume and the instance (PHI=YES)
    vault = t.add_resource(backup.vault("PhiBackupVault", name=Sub("${AWS::StackName}-phi"), kms_key_arn=phi_key_arn,
                                        tags=tagged("PHI backup vault"), condition="HasPhi"))
    plan = t.add_resource(backup.daily_plan("PhiBackupPlan", name=Sub("${AWS::StackName}-phi"), vault_=vault,
                                            schedule=cfg.backup_schedule, retention_days=cfg.backup_retention_days,
                                            tags=tagged("PHI backup plan"), condition="HasPhi"))
    backup_role = t.add_resource(backup.backup_role("PhiBackupRole", path=admin.PRODUCT_IAM_PATH,
                                                    tags=tagged("backup role"), condition="HasPhi"))
    # The PHI volume, and the instance (its root volume may hold PHI too: logs, temporary files).
    t.add_resource(backup.selection("PhiBackupSelection", plan=plan, role=backup_role, name="PhiServer",
                                    resource_arns=[backup.volume_arn(volume), backup.instance_arn(instance)],
                                    condition="HasPhi"))

    # Resources: load balancer and its DNS name (PROD)
    lb = t.add_resource(guard_suppressed(network.load_balancer(
        "LoadBalancer", Ref(public_subnets), [GetAtt(alb_sg, "GroupId")],
        access_log_bucket=ssm(admin.ACCESS_LOG_BUCKET), log_prefix=Sub("alb/${AWS::StackName}"),
        deletion_protection=Ref(p[DELETION_PROTECTION_PARAMETER]), tags=tagged("load balancer"), condition="IsProd"),
        DELETION_PROTECTION_IS_A_PARAMETER))
    target_group = t.add_resource(network.https_target_group(
        "TargetGroup", vpc_id, instance, health_path=bootstrap.HEALTH_PATH, tags=tagged("target group"),
        condition="IsProd"))
    t.add_resource(guard_suppressed(
        network.https_listener("HttpsListener", lb, ssm(admin.CERTIFICATE_ARN), target_group,
                               tags=tagged("HTTPS listener"), condition="IsProd"),
        ("ELBV2_ACM_CERTIFICATE_REQUIRED", (
            f"the certificate is an ACM certificate: its ARN is the administrator's setting "
            f"{admin.CERTIFICATE_ARN.full_name(cfg.ssm_prefix)}, read with an SSM dynamic reference, which the "
            "account baseline accepts only as an ACM certificate ARN (ProdCertificateArn's AllowedPattern); the "
            "rule accepts only a literal ACM ARN or a Ref to a certificate of the same template"))))
    t.add_resource(network.redirect_listener("HttpRedirectListener", lb, tags=tagged("HTTP redirect listener"),
                                             condition="IsProd"))
    site_id = Select(2, Split("/", Ref("AWS::StackId")))
    record = t.add_resource(network.alias_record(
        "SiteRecord", ssm(admin.HOSTED_ZONE_ID), Sub("${SiteId}.%s" % ssm(admin.DOMAIN), SiteId=site_id), lb,
        condition="IsProd"))

    # Outputs
    t.add_output(Output("CompliantWebsiteURL", Description="The site's URL (HTTPS only)", Value=If(
        "IsProd", Sub("https://${SiteRecord}/${WebDirectory}/"),
        Sub("https://${Instance.PrivateDnsName}/${WebDirectory}/"))))
    t.add_output(Output("SiteHostName", Description="DNS name of the site (PROD): an alias of its load balancer "
                        "in the administrator's hosted zone", Value=Ref(record), Condition="IsProd"))
    t.add_output(Output(REVISION_OUTPUT, Description="The revision the server deploys (a commit id after "
                        "`hipaa-catalog release`); its health path names the commit it serves",
                        Value=Ref(p[REVISION_PARAMETER])))
    t.add_output(Output(REPOSITORY_OUTPUT, Description="CodeCommit repository the site comes from",
                        Value=Ref(p[REPOSITORY_PARAMETER])))
    t.add_output(Output("AmiSetting", Description="The AMI: this version of the administrator's AMI setting",
                        Value=Sub(f"{ami_setting}:${{{AMI_VERSION_PARAMETER}}}")))
    t.add_output(Output("InstanceId", Description="EC2 instance (connect with SSM Session Manager)",
                        Value=Ref(instance)))
    t.add_output(Output("InstanceSecurityGroupId", Description="Security group of the instance",
                        Value=GetAtt(instance_sg, "GroupId")))
    t.add_output(Output("LoadBalancerSecurityGroupId", Description="Security group of the load balancer (PROD)",
                        Value=GetAtt(alb_sg, "GroupId"), Condition="IsProd"))
    t.add_output(Output(DELETION_PROTECTION_OUTPUT, Description="Whether the load balancer is protected "
                        "from deletion (PROD); `hipaa-catalog terminate` turns it off first",
                        Value=Ref(p[DELETION_PROTECTION_PARAMETER]), Condition="IsProd"))
    for lid, log in groups.items():
        t.add_output(Output(f"{lid}Name", Description=f"CloudWatch Logs group: {lid[:-len('LogGroup')].lower()} logs",
                            Value=Ref(log)))
    t.add_output(Output("PhiVolumeId", Description=f"Encrypted PHI volume, mounted at {cfg.phi_mount_point}; "
                        f"{'a final snapshot is kept' if cfg.phi_volume_deletion_policy == 'Snapshot' else 'kept'} "
                        "when the product is terminated", Value=Ref(volume), Condition="HasPhi"))
    return t


SPEC = ProductSpec(name=NAME, title="Healthcare web server", kind="product", build=build, make_config=make_config)
