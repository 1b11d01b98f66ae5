"""``hipaa-catalog doctor``: what a web server launch will need, checked against the account, before anyone
launches.

Each check reads the account (never writes) and says what it found and, when something is missing, what
to do.  The checks, in order (a check that needs an earlier one's result is skipped when that one failed):

``settings``     every administrator setting the account baseline writes exists in SSM Parameter Store;
``vpc``          the VPC exists;
``subnets``      the private, public and instance subnets exist and are in that VPC;
``placement``    the instance subnet is one of the private subnets, ``instance-availability-zone`` is its zone,
                 and a public subnet is in that zone, with public subnets in at least two zones ("You must
                 select at least two Availability Zone subnets", *Application Load Balancers*,
                 https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html;
                 "If you register targets in an Availability Zone but do not enable the Availability Zone,
                 these registered targets do not receive traffic", *How Elastic Load Balancing works*);
``egress``       the instance subnet's route table (its own, else the VPC's main one: "the subnet is implicitly
                 associated with the main route table", *Route tables for your VPC*,
                 https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html) sends 0.0.0.0/0 to an
                 available NAT gateway, or the VPC has every endpoint the instance uses: interface endpoints
                 for ``ssm``, ``ssmmessages``, ``ec2messages`` (Session Manager and the SSM agent, *Improve the
                 security of EC2 instances by using VPC endpoints for Systems Manager*,
                 https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-create-vpc.html), ``logs``
                 (the CloudWatch agent), ``cloudformation`` (cfn-init, cfn-signal and cfn-hup, *Setting up VPC
                 endpoints for AWS CloudFormation*,
                 https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-vpce-bucketnames.html),
                 ``git-codecommit`` ("CodeCommit requires separate endpoints for Git operations and for
                 CodeCommit API operations", *Using AWS CodeCommit with interface VPC endpoints*), ``ec2``
                 (the instance attaches its PHI volume, *Access Amazon EC2 using an interface VPC endpoint*),
                 and a gateway endpoint for ``s3`` on the subnet's route table, since "To download packages from
                 AL2023 repositories, Amazon EC2 needs access to service owned Amazon S3 buckets"
                 (``al2023-repos-<region>-de612dc2``, *Kernel Live Patching on AL2023*,
                 https://docs.aws.amazon.com/linux/al2023/ug/live-patching.html); interface endpoints with
                 private DNS need the VPC's ``enableDnsHostnames`` and ``enableDnsSupport`` (*DNS attributes
                 for your VPC*, https://docs.aws.amazon.com/vpc/latest/userguide/vpc-dns.html);
``certificate``  the PROD certificate is in this region ("Certificates in ACM are regional resources",
                 *Supported Regions*, AWS Certificate Manager User Guide), ``ISSUED``, and covers
                 ``*.<domain>``: "*.example.com can protect login.example.com ... but it cannot protect
                 test.login.example.com" (*ACM certificate characteristics*,
                 https://docs.aws.amazon.com/acm/latest/userguide/acm-certificate.html);
``hosted-zone``  the hosted zone exists, is public, and the domain is its name or below it;
``ami``          the AMI setting names an available x86_64 image (and whether the public Amazon Linux 2023
                 parameter has a newer one);
``launch-role``  the launch role Service Catalog launches with exists and, where it limits DNS changes
                 (``route53:ChangeResourceRecordSets`` on a hosted zone, for names under a domain), it allows
                 this region's hosted zone and domain: it reads the settings of the region it is deployed in.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Callable

from generator.aws import api as aws
from generator.blocks import admin_settings as admin
from generator.errors import AwsCallError

Progress = Callable[[str], None]
INTERFACE_ENDPOINTS = ("ssm", "ssmmessages", "ec2messages", "logs", "cloudformation", "git-codecommit", "ec2")
AL2023_REPOSITORY_BUCKET = "al2023-repos-{region}-de612dc2"
DEPLOY_BASELINE = "hipaa-catalog deploy-baseline"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    skipped: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


class Doctor:
    """The read-only checks of one region (see the module docstring)."""

    def __init__(self, region: str, *, ssm_prefix: str, progress: Progress | None = None, session=None):
        self.region = region
        self.prefix = ssm_prefix
        self.session = session or aws.session(region)
        self.progress = progress or (lambda _m: None)
        self.settings: dict[str, str] = {}

    def client(self, service: str):
        return aws.client(self.session, service, self.region)

    def setting(self, which: admin.AdminSetting) -> str | None:
        return self.settings.get(which.full_name(self.prefix))

    def run(self) -> list[Check]:
        checks: list[Check] = []
        for name, check in (("settings", self.check_settings), ("vpc", self.check_vpc),
                            ("subnets", self.check_subnets), ("placement", self.check_placement),
                            ("egress", self.check_egress), ("certificate", self.check_certificate),
                            ("hosted-zone", self.check_hosted_zone), ("ami", self.check_ami),
                            ("launch-role", self.check_launch_role)):
            self.progress(f"checking {name}")
            needs = NEEDS.get(name, ())
            missing = [n for n in needs if not any(c.name == n and c.ok for c in checks)]
            if missing:
                checks.append(Check(name, False, f"not checked: {', '.join(missing)} failed", skipped=True))
                continue
            try:
                checks.append(check())
            except AwsCallError as exc:
                checks.append(Check(name, False, f"could not be checked: {exc.message}", exc.hint or ""))
        return checks

    # -- the checks
    def check_settings(self) -> Check:
        names = [s.full_name(self.prefix) for s in admin.ALL]
        found = {}
        for start in range(0, len(names), 10):  # GetParameters takes at most 10 names
            answer = aws.call(self.client("ssm"), "GetParameters", "the administrator settings",
                              Names=names[start:start + 10])
            found.update({p["Name"]: p["Value"] for p in answer.get("Parameters", [])})
        self.settings = found
        missing = [n for n in names if n not in found]
        if missing:
            return Check("settings", False, f"{len(missing)} of {len(names)} settings missing: {', '.join(missing)}",
                         f"{DEPLOY_BASELINE} --region {self.region} (the account baseline writes them)")
        return Check("settings", True, f"all {len(names)} administrator settings under {self.prefix}")

    def check_vpc(self) -> Check:
        vpc = self.setting(admin.VPC_ID)
        ec2 = self.client("ec2")
        try:
            aws.call(ec2, "DescribeVpcs", f"VPC {vpc}", VpcIds=[vpc])
        except AwsCallError as exc:
            if exc.code == "InvalidVpcID.NotFound":
                return Check("vpc", False, f"VPC {vpc} ({admin.VPC_ID.full_name(self.prefix)}) does not exist",
                             f"{DEPLOY_BASELINE} --region {self.region} -p VpcId=<an existing VPC>")
            raise
        return Check("vpc", True, f"VPC {vpc}")

    def _subnets(self) -> dict[str, dict]:
        ids = [*self._list(admin.PRIVATE_SUBNETS), *self._list(admin.PUBLIC_SUBNETS), self.setting(admin.INSTANCE_SUBNET)]
        found = {}
        for subnet in dict.fromkeys(ids):
            try:
                found.update({s["SubnetId"]: s for s in aws.call(self.client("ec2"), "DescribeSubnets",
                                                                  f"subnet {subnet}", SubnetIds=[subnet])["Subnets"]})
            except AwsCallError as exc:
                if exc.code != "InvalidSubnetID.NotFound":
                    raise
        return found

    def _list(self, which: admin.AdminSetting) -> list[str]:
        return [s for s in (self.setting(which) or "").split(",") if s]

    def check_subnets(self) -> Check:
        vpc = self.setting(admin.VPC_ID)
        self.subnets = self._subnets()
        wanted = {"private": self._list(admin.PRIVATE_SUBNETS), "public": self._list(admin.PUBLIC_SUBNETS),
                  "instance": [self.setting(admin.INSTANCE_SUBNET)]}
        problems = [f"{kind} subnet {s} does not exist" for kind, ids in wanted.items() for s in ids
                    if s not in self.subnets]
        problems += [f"{kind} subnet {s} is in {self.subnets[s]['VpcId']}, not {vpc}" for kind, ids in wanted.items()
                     for s in ids if s in self.subnets and self.subnets[s]["VpcId"] != vpc]
        if problems:
            return Check("subnets", False, "; ".join(dict.fromkeys(problems)),
                         f"{DEPLOY_BASELINE} --region {self.region} -p PrivateSubnetIds=… -p PublicSubnetIds=… "
                         "(subnets of the VPC)")
        return Check("subnets", True, f"{len(wanted['private'])} private and {len(wanted['public'])} public subnets "
                                      f"in {vpc}")

    def check_placement(self) -> Check:
        zone = {s: d["AvailabilityZone"] for s, d in self.subnets.items()}
        subnet, az = self.setting(admin.INSTANCE_SUBNET), self.setting(admin.INSTANCE_AZ)
        private, public = self._list(admin.PRIVATE_SUBNETS), self._list(admin.PUBLIC_SUBNETS)
        public_zones = sorted({zone[s] for s in public})
        listing = (f"private {', '.join(f'{s} ({zone[s]})' for s in private)}; public "
                   f"{', '.join(f'{s} ({zone[s]})' for s in public)}; instance subnet {subnet} ({zone[subnet]})")
        problems = []
        if subnet not in private:
            problems.append(f"the instance subnet {subnet} is not one of the private subnets")
        if zone[subnet] != az:
            problems.append(f"{admin.INSTANCE_AZ.full_name(self.prefix)} is {az}, but {subnet} is in {zone[subnet]}")
        if zone[subnet] not in public_zones:
            problems.append(f"no public subnet is in {zone[subnet]}, the instance subnet's zone: the load balancer "
                            "would never send it traffic")
        if len(public_zones) < 2:
            problems.append(f"the public subnets are all in {', '.join(public_zones)}: a load balancer needs two zones")
        if problems:
            return Check("placement", False, "; ".join(problems) + f" ({listing})",
                         f"{DEPLOY_BASELINE} --region {self.region} (it chooses the instance subnet; give subnets "
                         "sharing Availability Zones)")
        alone = [f"{s} ({zone[s]})" for s in private if zone[s] not in public_zones]
        note = f"; private subnets without a public subnet in their zone (unused): {', '.join(alone)}" if alone else ""
        return Check("placement", True, f"instance subnet {subnet} in {az}, where the load balancers have a subnet "
                                        f"(public zones {', '.join(public_zones)}){note}")

    def check_egress(self) -> Check:
        ec2 = self.client("ec2")
        vpc, subnet = self.setting(admin.VPC_ID), self.setting(admin.INSTANCE_SUBNET)
        tables = aws.pages(ec2, "DescribeRouteTables", "RouteTables", f"route tables of {vpc}",
                           Filters=[{"Name": "vpc-id", "Values": [vpc]}])
        table = next((t for t in tables if any(a.get("SubnetId") == subnet for a in t.get("Associations", []))), None) \
            or next((t for t in tables if any(a.get("Main") for a in t.get("Associations", []))), None)
        if table is None:
            return Check("egress", False, f"no route table applies to {subnet}",
                         f"associate {subnet} with a route table with a NAT gateway route")
        default = next((r for r in table.get("Routes", []) if r.get("DestinationCidrBlock") == "0.0.0.0/0"), None)
        if default and default.get("GatewayId", "").startswith("igw-"):
            return Check("egress", False, f"{subnet} routes 0.0.0.0/0 to the internet gateway {default['GatewayId']} "
                                          f"(route table {table['RouteTableId']}): it is a public subnet, and a "
                                          "web server has no public IP to use it",
                         f"{DEPLOY_BASELINE} with private subnets (a NAT gateway route or VPC endpoints)")
        if default and default.get("NatGatewayId"):
            nat = default["NatGatewayId"]
            state = aws.call(ec2, "DescribeNatGateways", f"NAT gateway {nat}", NatGatewayIds=[nat])["NatGateways"]
            if state and state[0].get("State") == "available":
                return Check("egress", True, f"{subnet} reaches AWS and the package repositories through NAT gateway "
                                             f"{nat} (route table {table['RouteTableId']})")
        return self._endpoints(ec2, vpc, table, subnet)

    def _endpoints(self, ec2, vpc: str, table: dict, subnet: str) -> Check:
        endpoints = [e for e in aws.pages(ec2, "DescribeVpcEndpoints", "VpcEndpoints", f"VPC endpoints of {vpc}",
                                          Filters=[{"Name": "vpc-id", "Values": [vpc]}])
                     if e.get("State", "available").lower() == "available"]
        prefix = f"com.amazonaws.{self.region}."
        interface = {e["ServiceName"][len(prefix):]: e for e in endpoints
                     if e.get("VpcEndpointType") == "Interface" and e["ServiceName"].startswith(prefix)}
        problems = [f"interface endpoint {prefix}{name}" for name in INTERFACE_ENDPOINTS if name not in interface]
        problems += [f"private DNS on the endpoint {prefix}{name}" for name, e in interface.items()
                     if name in INTERFACE_ENDPOINTS and not e.get("PrivateDnsEnabled")]
        s3 = [e for e in endpoints if e.get("VpcEndpointType") == "Gateway" and e["ServiceName"] == f"{prefix}s3"
              and table["RouteTableId"] in e.get("RouteTableIds", [])]
        if not s3:
            problems.append(f"gateway endpoint {prefix}s3 on route table {table['RouteTableId']}")
        elif not _allows_bucket(s3[0].get("PolicyDocument"), AL2023_REPOSITORY_BUCKET.format(region=self.region)):
            problems.append(f"an S3 endpoint policy allowing s3:GetObject on "
                            f"{AL2023_REPOSITORY_BUCKET.format(region=self.region)} (the Amazon Linux 2023 repositories)")
        attributes = {name: aws.call(ec2, "DescribeVpcAttribute", f"VPC {vpc}", VpcId=vpc, Attribute=name)
                      for name in ("enableDnsSupport", "enableDnsHostnames")}
        off = [name for name, answer in attributes.items()
               if not answer.get(name[0].upper() + name[1:], {}).get("Value")]
        problems += [f"{name} on {vpc}" for name in off]
        if problems:
            return Check("egress", False, f"{subnet} has no NAT gateway route and the VPC lacks: {'; '.join(problems)}",
                         "add a 0.0.0.0/0 route to a NAT gateway to the subnet's route table, or create the "
                         "missing VPC endpoints")
        return Check("egress", True, f"{subnet} reaches AWS through VPC endpoints ({', '.join(INTERFACE_ENDPOINTS)}, "
                                     "s3)")

    def check_certificate(self) -> Check:
        arn, domain = self.setting(admin.CERTIFICATE_ARN), self.setting(admin.DOMAIN)
        where = arn.split(":")[3] if arn.count(":") >= 5 else ""
        if where != self.region:
            return Check("certificate", False, f"the PROD certificate {arn} is in {where or '?'}, not {self.region}: "
                                               "a load balancer uses certificates of its own region",
                         f"request one in {self.region} and {DEPLOY_BASELINE} --region {self.region} "
                         "-p ProdCertificateArn=…")
        try:
            cert = aws.call(self.client("acm"), "DescribeCertificate", f"certificate {arn}",
                            CertificateArn=arn)["Certificate"]
        except AwsCallError as exc:
            if exc.code == "ResourceNotFoundException":
                return Check("certificate", False, f"the PROD certificate {arn} does not exist",
                             f"request a certificate of *.{domain} and {DEPLOY_BASELINE} -p ProdCertificateArn=…")
            raise
        names = {n.lower() for n in [cert.get("DomainName", ""), *cert.get("SubjectAlternativeNames", [])]}
        problems = []
        if f"*.{domain}" not in names:
            problems.append(f"it does not cover *.{domain} (PROD sites are <id>.{domain}); it covers "
                            f"{', '.join(sorted(names)) or 'nothing'}")
        if cert.get("Status") != "ISSUED":
            problems.append(f"its status is {cert.get('Status')}, not ISSUED"
                            + (" (add its DNS validation records to the zone)" if cert.get("Status") ==
                               "PENDING_VALIDATION" else ""))
        if problems:
            return Check("certificate", False, f"the PROD certificate {arn}: " + "; ".join(problems),
                         f"request (and validate) a certificate of *.{domain}, then {DEPLOY_BASELINE} "
                         "-p ProdCertificateArn=…")
        return Check("certificate", True, f"{arn} is ISSUED and covers *.{domain}")

    def check_hosted_zone(self) -> Check:
        zone_id, domain = self.setting(admin.HOSTED_ZONE_ID), self.setting(admin.DOMAIN)
        try:
            zone = aws.call(self.client("route53"), "GetHostedZone", f"hosted zone {zone_id}", Id=zone_id)["HostedZone"]
        except AwsCallError as exc:
            if exc.code == "NoSuchHostedZone":
                return Check("hosted-zone", False, f"hosted zone {zone_id} does not exist",
                             f"create a public hosted zone of {domain} (or a parent) and {DEPLOY_BASELINE} "
                             "-p ProdHostedZoneId=…")
            raise
        name = zone["Name"].rstrip(".").lower()
        problems = []
        if zone.get("Config", {}).get("PrivateZone"):
            problems.append("it is a private zone: internet users could not resolve PROD sites")
        if domain != name and not domain.endswith("." + name):
            problems.append(f"{domain} is not {name} nor below it")
        if problems:
            return Check("hosted-zone", False, f"hosted zone {zone_id} ({name}): " + "; ".join(problems),
                         f"give a public zone of {domain}: {DEPLOY_BASELINE} -p ProdHostedZoneId=…")
        return Check("hosted-zone", True, f"public hosted zone {name} ({zone_id}) holds {domain}")

    def check_ami(self) -> Check:
        image_id = self.setting(admin.WEB_SERVER_AMI)
        try:
            images = aws.call(self.client("ec2"), "DescribeImages", f"image {image_id}", ImageIds=[image_id])["Images"]
        except AwsCallError as exc:
            if exc.code not in ("InvalidAMIID.NotFound", "InvalidAMIID.Malformed"):
                raise
            images = []
        fix = f"{DEPLOY_BASELINE} --region {self.region} -p {admin.AMI_PARAMETER}=ami-… (an Amazon Linux 2023 x86_64 AMI)"
        if not images:
            return Check("ami", False, f"the AMI setting names {image_id}, which does not exist in {self.region}", fix)
        image = images[0]
        if image.get("Architecture") != "x86_64" or image.get("State") != "available":
            return Check("ami", False, f"{image_id} is {image.get('Architecture')}, {image.get('State')}: web servers "
                                       "need an available x86_64 image", fix)
        newest = ""
        try:
            latest = aws.call(self.client("ssm"), "GetParameter", admin.PUBLIC_AL2023_AMI,
                              Name=admin.PUBLIC_AL2023_AMI)["Parameter"]["Value"]
            if latest != image_id:
                newest = f"; a newer Amazon Linux 2023 AMI exists: {latest} (web servers move to it only when you say so)"
        except AwsCallError:
            newest = ""
        return Check("ami", True, f"{image_id} ({image.get('Name', '')}){newest}")

    def check_launch_role(self) -> Check:
        iam = self.client("iam")
        try:
            aws.call(iam, "GetRole", f"role {admin.LAUNCH_ROLE_NAME}", RoleName=admin.LAUNCH_ROLE_NAME)
        except AwsCallError as exc:
            if exc.code == "NoSuchEntity":
                return Check("launch-role", False, f"the launch role {admin.LAUNCH_ROLE_NAME} does not exist",
                             "hipaa-catalog deploy-launch-role")
            raise
        zone, domain = self.setting(admin.HOSTED_ZONE_ID), self.setting(admin.DOMAIN)
        dns = [st for st in self._role_statements(iam) if st.get("Effect") == "Allow"
               and "route53:ChangeResourceRecordSets" in _listed(st.get("Action"))]
        if not (zone and domain and dns):
            return Check("launch-role", True, f"{admin.LAUNCH_ROLE_NAME}")
        names = {n for st in dns for n in _listed(st.get("Condition", {}).get("ForAllValues:StringLike", {}).get(
            "route53:ChangeResourceRecordSetsNormalizedRecordNames"))}
        zones = {r for st in dns for r in _listed(st.get("Resource"))}
        if any(r.endswith(f":hostedzone/{zone}") for r in zones) and (not names or f"*.{domain}" in names):
            return Check("launch-role", True, f"{admin.LAUNCH_ROLE_NAME} (DNS records *.{domain} in {zone})")
        return Check("launch-role", False,
                     f"the launch role may change DNS records only in {', '.join(sorted(zones))}"
                     + (f" named {', '.join(sorted(names))}" if names else "")
                     + f", but this region's settings name hosted zone {zone} and domain {domain}: PROD launches "
                       "here would be refused",
                     "give every region's baseline the same ProdHostedZoneId and ProdDomain, then run "
                     "hipaa-catalog deploy-launch-role (it reads the primary region's settings)")

    def _role_statements(self, iam) -> list[dict]:
        """The statements of the launch role's attached managed policies (default versions)."""
        out: list[dict] = []
        for attached in aws.pages(iam, "ListAttachedRolePolicies", "AttachedPolicies",
                                  f"role {admin.LAUNCH_ROLE_NAME}", RoleName=admin.LAUNCH_ROLE_NAME):
            arn = attached["PolicyArn"]
            policy = aws.call(iam, "GetPolicy", f"policy {arn}", PolicyArn=arn)["Policy"]
            document = aws.call(iam, "GetPolicyVersion", f"policy {arn}", PolicyArn=arn,
                                VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"]
            document = json.loads(document) if isinstance(document, str) else document
            out.extend(_listed(document.get("Statement")))
        return out


# A check needs these checks to have passed (it reads what they read).
NEEDS = {"vpc": ("settings",), "subnets": ("settings", "vpc"), "placement": ("subnets",),
         "egress": ("subnets",), "certificate": ("settings",), "hosted-zone": ("settings",), "ami": ("settings",)}


def _listed(value) -> list:
    """A policy element that may be one value or a list, as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _allows_bucket(policy: str | dict | None, bucket: str) -> bool:
    """Whether an endpoint policy lets s3:GetObject reach ``bucket`` (no policy is full access)."""
    if not policy:
        return True
    document = json.loads(policy) if isinstance(policy, str) else policy
    statements = document.get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        if st.get("Effect") != "Allow":
            continue
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = st.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if any(a in ("*", "s3:*", "s3:GetObject", "s3:Get*") for a in actions) and any(
                r == "*" or r.startswith(f"arn:aws:s3:::{bucket}") or r in ("arn:aws:s3:::*", "arn:aws:s3:::*/*")
                for r in resources):
            return True
    return False
