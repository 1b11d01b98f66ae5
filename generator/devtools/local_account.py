"""A ready local account: what an administrator's AWS account already holds before the baseline is deployed.

In each catalog region: a VPC with two public and two private subnets in two Availability Zones, the way out a
private web server needs (NAT gateways, or VPC endpoints), a DNS-validated ``*.<domain>`` certificate; one public
hosted zone for PROD names; a CodeCommit repository with a first page on ``main``.  ``make local-aws READY=1``
prepares it on the endpoint it starts (``server.py --ready-account`` runs ``python -m
generator.devtools.local_account`` against itself), the demo and the tests build theirs with the same functions.
``write`` puts the values into ``build/local-account/``: ``account.json`` and one ``<region>.env`` per region to
``source`` (the endpoint's variables and the values the README's walkthrough passes to ``deploy-baseline`` and
``launch``).

AWS facts relied on:

- "A public subnet is a subnet that's associated with a route table that has a route to an internet gateway";
  the private subnets' route table sends ``0.0.0.0/0`` to a NAT gateway (*VPC with public and private subnets
  (NAT)*, https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Scenario2.html).
- "You create a public NAT gateway in a public subnet and must associate an elastic IP address with the NAT
  gateway at creation"; "To create an Availability Zone-independent architecture, create a NAT gateway in each
  Availability Zone and configure your routing to ensure that resources use the NAT gateway in the same
  Availability Zone" (*NAT gateways*, https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html).
- Without a NAT gateway the instance needs interface endpoints for every service it calls, with private DNS,
  and a gateway endpoint for S3: the list is ``generator.aws.doctor.INTERFACE_ENDPOINTS``, with its sources
  there (*Improve the security of EC2 instances by using VPC endpoints for Systems Manager*,
  https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-create-vpc.html; "CodeCommit requires
  separate endpoints for Git operations and for CodeCommit API operations", *Using AWS CodeCommit with
  interface VPC endpoints*, https://docs.aws.amazon.com/codecommit/latest/userguide/vpc-endpoints.html).
  "The security group attached to the VPC endpoint must allow incoming connections on port 443 from the
  private subnet of the managed instance" (same Systems Manager page).  Private DNS needs the VPC attributes:
  "To use a private hosted zone, you must set the following VPC attributes to true: enableDnsHostnames and
  enableDnsSupport" (*AWS::EC2::VPCEndpoint*, ``PrivateDnsEnabled``, CloudFormation User Guide).  A gateway
  endpoint created without a policy gets "a default policy that allows full access to the service"
  (*CreateVpcEndpoint*, ``PolicyDocument``, Amazon EC2 API Reference), so the Amazon Linux repositories'
  buckets are reachable.
- "When you choose DNS validation, ACM provides you one or more CNAME records to insert into your DNS
  database" (*Use DNS to validate domain ownership*,
  https://docs.aws.amazon.com/acm/latest/userguide/gs-acm-validate-dns.html); the local ACM issues the
  certificate once they are in a local hosted zone (``local_aws/acm.py``).
- PutFile: "If this is an empty repository, this branch is created", and the parent commit "If this is not an
  empty repository, a commit ID is required" (*PutFile*, AWS CodeCommit API Reference); GetBranch answers
  ``BranchDoesNotExistException``, "The specified branch does not exist" (*GetBranch*, same reference and
  botocore's codecommit model), before the first commit.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path

from generator import settings as catalog_settings
from generator.aws import api as aws
from generator.aws.doctor import INTERFACE_ENDPOINTS
from generator.errors import CatalogError, ConfigError

# The administrator's network and a developer's site, as the demo, the tests and the walkthrough use them.
VPC_CIDR = "10.20.0.0/16"
ADMIN_CIDR = "10.20.0.0/24"
ADMIN_EMAIL = "security-admin@example.org"
DEVELOPER_EMAIL = "developer@example.org"
REPOSITORY = "clinic-website"
BRANCH = "main"
SITE_DOMAIN = "clinic.example.org"  # PROD sites are <id>.clinic.example.org
FIRST_PAGE = "<h1>Clinic</h1>"
EGRESS = ("nat", "endpoints")
ACCOUNT_DIR = Path("build") / "local-account"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Network:
    """One region's network, zone and certificate, named as the account baseline's parameters name them."""

    region: str
    vpc_id: str
    private_subnet_ids: tuple[str, ...]
    public_subnet_ids: tuple[str, ...]
    zones: tuple[str, ...]
    certificate_arn: str
    hosted_zone_id: str
    egress: str = ""            # "nat", "endpoints" or "" (no routes at all)
    egress_ids: tuple[str, ...] = ()

    def baseline_parameters(self) -> dict[str, str]:
        return {"VpcId": self.vpc_id, "PrivateSubnetIds": ",".join(self.private_subnet_ids),
                "PublicSubnetIds": ",".join(self.public_subnet_ids), "ProdCertificateArn": self.certificate_arn,
                "ProdHostedZoneId": self.hosted_zone_id, "ProdDomain": SITE_DOMAIN, "AdminCidr": ADMIN_CIDR,
                "AdministratorEmail": ADMIN_EMAIL}

    def describe(self) -> str:
        way_out = {"nat": "NAT gateways", "endpoints": "VPC endpoints", "": "no routes"}[self.egress]
        return (f"{self.region}: VPC {self.vpc_id}, private subnets {', '.join(self.private_subnet_ids)} ({way_out}"
                + (f": {', '.join(self.egress_ids)}" if self.egress == "nat" else "")
                + f"), public subnets {', '.join(self.public_subnet_ids)} (zones {', '.join(self.zones)}), hosted zone "
                f"{SITE_DOMAIN} ({self.hosted_zone_id}), certificate *.{SITE_DOMAIN} "
                f"{self.certificate_arn.rsplit('/', 1)[-1]}")


@dataclass(frozen=True)
class Site:
    """A CodeCommit repository with a first commit on ``BRANCH``."""

    region: str
    repository: str
    clone_url: str
    branch: str
    commit: str


@dataclass
class Account:
    endpoint_url: str
    primary_region: str
    networks: dict[str, Network] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"endpoint_url": self.endpoint_url, "primary_region": self.primary_region, "domain": SITE_DOMAIN,
                "developer_email": DEVELOPER_EMAIL,
                "regions": {r: {"baseline_parameters": n.baseline_parameters(), "values": self.values(r),
                                "network": asdict(n), "site": asdict(self.sites[r])} for r, n in self.networks.items()}}

    def values(self, region: str) -> dict[str, str]:
        """The walkthrough's variables for ``region``: the baseline's parameters, the site and the developer."""
        return {**{_env_name(k): v for k, v in self.networks[region].baseline_parameters().items()},
                "SITE_REPOSITORY_URL": self.sites[region].clone_url, "DEVELOPER_EMAIL": DEVELOPER_EMAIL}

    def env_text(self, region: str) -> str:
        """A file to ``source``: the endpoint's variables for ``region`` and the values of the walkthrough."""
        endpoint = {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
                    "AWS_EC2_METADATA_DISABLED": "true"}
        lines = [f"# the local AWS endpoint and the ready account's values in {region} (make local-aws READY=1)",
                 "unset AWS_PROFILE AWS_SESSION_TOKEN"]
        lines += [f"export {k}={shlex.quote(v)}" for k, v in {**endpoint, **self.values(region)}.items()]
        return "\n".join(lines) + "\n"

    def describe(self) -> str:
        """What was made, and in each region the exact values its ``<region>.env`` sets."""
        lines = []
        for region, network in self.networks.items():
            site = self.sites[region]
            lines += [network.describe(), f"  repository {site.repository}: {site.branch} at {site.commit}"]
            lines += [f"  {k}={v}" for k, v in self.values(region).items()]
        return "\n".join(lines)


def _env_name(parameter: str) -> str:
    """``ProdHostedZoneId`` -> ``PROD_HOSTED_ZONE_ID``."""
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(parameter)).upper()


# -- the pieces ----------------------------------------------------------------------------------

def network(region: str, *, egress: str = "nat") -> Network:
    """A VPC with two private subnets (the first two) and two public ones in two Availability Zones, DNS
    support and host names on, the hosted zone of ``SITE_DOMAIN`` and a certificate of ``*.SITE_DOMAIN``.
    ``egress``: "nat" (a NAT gateway per zone), "endpoints" (VPC endpoints) or "" (no gateway, no route
    table: what deploying and launching do not look at)."""
    if egress not in EGRESS + ("",):
        raise ConfigError(f"egress {egress!r}: allowed: {', '.join(EGRESS)}")
    sess = aws.session(region)
    ec2 = aws.client(sess, "ec2", region)
    with aws.translated("CreateVpc", f"network in {region}"):
        vpc = ec2.create_vpc(CidrBlock=VPC_CIDR)["Vpc"]["VpcId"]
        for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
            ec2.modify_vpc_attribute(VpcId=vpc, **{attribute: {"Value": True}})
        zones = tuple(z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"][:2])
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i + 1}.0/24",
                                     AvailabilityZone=zones[i % 2])["Subnet"]["SubnetId"] for i in range(4)]
    private, public = tuple(subnets[:2]), tuple(subnets[2:])
    ids: tuple[str, ...] = ()
    if egress:
        private_tables = _routes(ec2, vpc, private, public)
        ids = _nat_gateways(ec2, private_tables, public) if egress == "nat" else \
            _endpoints(ec2, region, vpc, private, list(private_tables.values()))
    zone_id, cert = site_domain(region)
    return Network(region, vpc, private, public, zones, cert, zone_id, egress, ids)


def _routes(ec2, vpc: str, private: tuple[str, ...], public: tuple[str, ...]) -> dict[str, str]:
    """The public subnets' route table with a default route to an internet gateway; a route table of its own for
    each private subnet (nothing in it yet).  Returns the private subnets' tables by subnet."""
    with aws.translated("CreateRouteTable", f"routes of {vpc}"):
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        public_routes = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=public_routes, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        for subnet in public:
            ec2.associate_route_table(RouteTableId=public_routes, SubnetId=subnet)
        tables = {}
        for subnet in private:
            tables[subnet] = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
            ec2.associate_route_table(RouteTableId=tables[subnet], SubnetId=subnet)
    return tables


def _nat_gateways(ec2, private_tables: dict[str, str], public: tuple[str, ...]) -> tuple[str, ...]:
    """A NAT gateway (with an Elastic IP) in each public subnet; each private subnet's default route goes to the
    one in its own zone (the subnets alternate zones, so private[i] and public[i] share one)."""
    gateways = []
    with aws.translated("CreateNatGateway", "NAT gateways"):
        for (subnet, table), public_subnet in zip(private_tables.items(), public):
            eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
            gateway = ec2.create_nat_gateway(SubnetId=public_subnet, AllocationId=eip)["NatGateway"]["NatGatewayId"]
            ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=gateway)
            gateways.append(gateway)
    return tuple(gateways)


def _endpoints(ec2, region: str, vpc: str, private: tuple[str, ...], tables: list[str]) -> tuple[str, ...]:
    """Interface endpoints (private DNS on, in the private subnets, behind a security group open to the VPC on
    443) for every service the web server calls, and a gateway endpoint for S3 on the private route tables."""
    with aws.translated("CreateVpcEndpoint", f"VPC endpoints of {vpc}"):
        group = ec2.create_security_group(GroupName="vpc-endpoints", VpcId=vpc,
                                          Description="HTTPS from the VPC to its interface endpoints")["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
            "IpRanges": [{"CidrIp": VPC_CIDR, "Description": "instances of the VPC"}]}])
        ids = [ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{region}.{service}",
                                       VpcEndpointType="Interface", SubnetIds=list(private),
                                       SecurityGroupIds=[group], PrivateDnsEnabled=True)["VpcEndpoint"]["VpcEndpointId"]
               for service in INTERFACE_ENDPOINTS]
        ids.append(ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{region}.s3",
                                           VpcEndpointType="Gateway", RouteTableIds=tables)["VpcEndpoint"][
            "VpcEndpointId"])
    return tuple(ids)


def site_domain(region: str) -> tuple[str, str]:
    """The public hosted zone of ``SITE_DOMAIN`` (the first region's call creates it, the next ones find it by name:
    one zone for every region's PROD names) and a certificate of ``*.SITE_DOMAIN`` in ``region``, validated by DNS:
    its CNAMEs are written to the zone."""
    sess = aws.session(region)
    r53, acm = aws.client(sess, "route53", region), aws.client(sess, "acm", region)
    with aws.translated("CreateHostedZone", f"hosted zone {SITE_DOMAIN}"):
        found = [z for z in r53.list_hosted_zones_by_name(DNSName=SITE_DOMAIN)["HostedZones"]
                 if z["Name"].rstrip(".") == SITE_DOMAIN and not z.get("Config", {}).get("PrivateZone")]
        zone = found[0] if found else r53.create_hosted_zone(Name=SITE_DOMAIN, CallerReference=SITE_DOMAIN)[
            "HostedZone"]
        zone_id = zone["Id"].rsplit("/", 1)[-1]
    with aws.translated("RequestCertificate", f"certificate *.{SITE_DOMAIN} in {region}"):
        cert = acm.request_certificate(DomainName=f"*.{SITE_DOMAIN}", SubjectAlternativeNames=[SITE_DOMAIN],
                                       ValidationMethod="DNS")["CertificateArn"]
        options = acm.describe_certificate(CertificateArn=cert)["Certificate"]["DomainValidationOptions"]
    changes = [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": o["ResourceRecord"]["Name"], "Type": "CNAME", "TTL": 300,
        "ResourceRecords": [{"Value": o["ResourceRecord"]["Value"]}]}}
        for o in {o["ResourceRecord"]["Name"]: o for o in options}.values()]
    with aws.translated("ChangeResourceRecordSets", f"validation records of {cert}"):
        r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return zone_id, cert


def codecommit(region: str):
    return aws.client(aws.session(region), "codecommit", region)


def site(region: str, repository: str = REPOSITORY) -> Site:
    """A new repository with ``FIRST_PAGE`` committed as index.html on ``BRANCH`` (the developer's first push)."""
    cc = codecommit(region)
    with aws.translated("CreateRepository", repository):
        clone_url = cc.create_repository(repositoryName=repository, repositoryDescription="the clinic's website")[
            "repositoryMetadata"]["cloneUrlHttp"]
    return Site(region, repository, clone_url, BRANCH, commit_page(cc, repository, FIRST_PAGE))


def commit_page(cc, repository: str, page: str) -> str:
    """A commit of index.html on ``BRANCH`` on top of the branch's head (the first one creates the branch)."""
    with aws.translated("PutFile", f"{repository}/index.html"):
        try:
            parent = {"parentCommitId": cc.get_branch(repositoryName=repository, branchName=BRANCH)["branch"][
                "commitId"]}
        except cc.exceptions.BranchDoesNotExistException:
            parent = {}
        return cc.put_file(repositoryName=repository, branchName=BRANCH, filePath="index.html",
                           fileContent=page.encode(), commitMessage="site", **parent)["commitId"]


# -- the whole account ------------------------------------------------------------------------------

def prepare(regions: list[str], primary_region: str, *, egress: str = "nat") -> Account:
    """The network and the site in every region, against the local endpoint ``AWS_ENDPOINT_URL`` names."""
    url = local_endpoint()
    account = Account(url, primary_region)
    for region in regions:
        account.networks[region] = network(region, egress=egress)
        account.sites[region] = site(region)
    return account


def local_endpoint() -> str:
    """``AWS_ENDPOINT_URL`` when it is a local endpoint; this module creates VPCs and NAT gateways and never
    runs against AWS itself."""
    url = aws.endpoint_url() or ""
    if urllib.parse.urlsplit(url).hostname not in LOCAL_HOSTS:
        raise ConfigError(f"AWS_ENDPOINT_URL={url or '(unset)'}: a ready account is prepared only on a local "
                          f"endpoint ({', '.join(LOCAL_HOSTS)})",
                          hint="run `make local-aws READY=1`, which starts one and prepares it")
    return url


def write(account: Account, out_dir: Path) -> list[Path]:
    """``account.json`` and ``<region>.env`` for every region into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "account.json"]
    paths[0].write_text(json.dumps(account.as_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for region in account.networks:
        path = out_dir / f"{region}.env"
        path.write_text(account.env_text(region), encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="local-account", description="Prepare a ready account on the local AWS endpoint AWS_ENDPOINT_URL "
        "names (make local-aws READY=1 does this on the endpoint it starts) and write its values.",
        epilog="example: AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=testing "
               "AWS_SECRET_ACCESS_KEY=testing python -m generator.devtools.local_account --egress endpoints")
    p.add_argument("--out", type=Path, default=ACCOUNT_DIR,
                   help=f"folder of account.json and <region>.env (default: {ACCOUNT_DIR}; example: --out /tmp/acct)")
    p.add_argument("--egress", choices=EGRESS, default="nat",
                   help="how the private subnets reach AWS: a NAT gateway per zone (default) or VPC endpoints")
    args = p.parse_args(argv)
    try:
        settings = catalog_settings.load()
        account = prepare(list(settings.regions), settings.primary_region, egress=args.egress)
        paths = write(account, args.out)
    except CatalogError as exc:
        print(f"local-account: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"local-account: error: cannot write the values into {args.out}: {exc.strerror or exc} "
              "(give --out a folder you may write to)", file=sys.stderr)
        return 1
    print(account.describe())
    print(f"values: {', '.join(str(p) for p in paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
