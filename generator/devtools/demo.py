"""``make demo``: the whole workflow of the catalog against the local AWS endpoint, narrated.

Each step says which role acts and why, shows the exact ``hipaa-catalog`` command, and runs it (in this
process, through ``generator.cli.main.main``, so what you see is what the command prints).  Nothing here
needs an AWS account: a local endpoint (moto's server plus our Service Catalog) is started on a free
port (or ``LOCAL_AWS_PORT``), and stopped at the end.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from generator import settings as catalog_settings
from generator.aws import api as aws
from generator.errors import CatalogError, DemoError
from generator.pipeline import manifest as manifests

# What the demo uses as the administrator's network and a developer's site.
VPC_CIDR = "10.20.0.0/16"
ADMIN_CIDR = "10.20.0.0/24"
ADMIN_EMAIL = "security-admin@example.org"
DEVELOPER_EMAIL = "developer@example.org"
REPOSITORY = "clinic-website"
SITE_DOMAIN = "clinic.example.org"  # PROD sites are <id>.clinic.example.org
LAUNCHES = [("clinic-test", "TEST", "YES"), ("clinic-prod", "PROD", "NO")]
PRODUCT = "healthcare-web-server"


class Demo:
    def __init__(self, out_dir: Path, write: Callable[[str], None] = print, build: bool = True):
        self.out_dir = Path(out_dir)
        self.build = build
        self.write = write
        self.settings = catalog_settings.load()
        self.step_no = 0
        self.started = time.monotonic()

    # -- narration
    def step(self, role: str, title: str, why: str) -> None:
        self.step_no += 1
        self.write(f"\n=== {self.step_no}. [{role}] {title}")
        self.write(f"    why: {why}")

    def run(self, *argv: str, capture_json: bool = False):
        """Run one ``hipaa-catalog`` command as a user would type it; fail the demo if it fails."""
        from generator.cli import main as cli

        self.write("    $ hipaa-catalog " + " ".join(shlex.quote(a) for a in argv))
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf) if capture_json else contextlib.nullcontext():
            code = cli.main(list(argv))
        if code != 0:
            said = buf.getvalue().strip()
            try:
                said = json.loads(said)["error"]["message"] if said else ""
            except (ValueError, KeyError, TypeError):
                pass
            raise DemoError(f"step {self.step_no}: `hipaa-catalog {' '.join(argv)}` exited {code}"
                            + (f": {said}" if said else ""))
        if capture_json:
            return json.loads(buf.getvalue())
        return None

    def deploy(self, *argv: str) -> dict:
        """A deploy command with --json, summarised (the full change table is long for a demo)."""
        result = self.run(*argv, "--json", capture_json=True)
        counts = Counter(c["action"] for c in result["changes"])
        replaced = sum(c["replacement"] == "True" for c in result["changes"])
        self.write(f"    change set {result['change_set_type']}: "
                   + (", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "no changes")
                   + (f" ({replaced} replaced)" if replaced else "")
                   + f"; stack {result['stack_name']} {result['status']}")
        for d in result.get("decisions", []):
            self.write(f"      decided: {d['parameter']} = {d['value'] or '(empty)'}: {d['why']}")
        for key, value in sorted(result["outputs"].items()):
            self.write(f"      {key} = {value}")
        return result

    # -- the administrator's pre-existing network (created in the local EC2, Route 53 and ACM)
    def network(self, region: str, *, routes: bool = True, nat: bool = True) -> dict[str, str]:
        """A VPC as an administrator has one: two public subnets (internet gateway route) and two private ones
        (default route to a NAT gateway, ``nat``) in two Availability Zones, a public hosted zone for PROD
        sites and a DNS-validated wildcard certificate of that domain.  The baseline parameters naming them.
        ``routes=False`` leaves out the gateways and route tables (what deploying and launching do not look at)."""
        sess = aws.session(region)
        ec2 = aws.client(sess, "ec2", region)
        with aws.translated("CreateVpc", f"demo network in {region}"):
            vpc = ec2.create_vpc(CidrBlock=VPC_CIDR)["Vpc"]["VpcId"]
            for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
                ec2.modify_vpc_attribute(VpcId=vpc, **{attribute: {"Value": True}})
            zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
            subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i + 1}.0/24",
                                         AvailabilityZone=zones[i % 2])["Subnet"]["SubnetId"] for i in range(4)]
            private, public = subnets[:2], subnets[2:]
        if routes:
            self.routes(ec2, vpc, private, public, nat=nat)
        zone_id, cert = self.site_domain(sess, region)
        self.write(f"    {region}: VPC {vpc}, private subnets {private[0]}, {private[1]}"
                   f"{' (NAT gateway)' if routes and nat else ''}, public subnets {public[0]}, {public[1]}, "
                   f"hosted zone {SITE_DOMAIN} ({zone_id}), certificate *.{SITE_DOMAIN} {cert.rsplit('/', 1)[-1]}")
        return {"VpcId": vpc, "PrivateSubnetIds": ",".join(private), "PublicSubnetIds": ",".join(public),
                "ProdCertificateArn": cert, "ProdHostedZoneId": zone_id, "ProdDomain": SITE_DOMAIN,
                "AdminCidr": ADMIN_CIDR, "AdministratorEmail": ADMIN_EMAIL}

    @staticmethod
    def routes(ec2, vpc: str, private: list[str], public: list[str], *, nat: bool) -> None:
        """The public subnets route to an internet gateway; the private ones to a NAT gateway (``nat``) or nowhere."""
        with aws.translated("CreateRouteTable", f"routes of {vpc}"):
            igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
            public_routes = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
            ec2.create_route(RouteTableId=public_routes, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
            for subnet in public:
                ec2.associate_route_table(RouteTableId=public_routes, SubnetId=subnet)
            private_routes = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
            for subnet in private:
                ec2.associate_route_table(RouteTableId=private_routes, SubnetId=subnet)
            if nat:
                eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
                gateway = ec2.create_nat_gateway(SubnetId=public[0], AllocationId=eip)["NatGateway"]["NatGatewayId"]
                ec2.create_route(RouteTableId=private_routes, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=gateway)

    def site_domain(self, sess, region: str) -> tuple[str, str]:
        """The public hosted zone of ``SITE_DOMAIN`` (created once) and a certificate of ``*.SITE_DOMAIN`` in
        ``region``, validated by DNS: its validation CNAMEs are written to the zone, as an administrator does."""
        r53, acm = aws.client(sess, "route53", region), aws.client(sess, "acm", region)
        with aws.translated("CreateHostedZone", f"hosted zone {SITE_DOMAIN}"):
            found = [z for z in r53.list_hosted_zones_by_name(DNSName=SITE_DOMAIN)["HostedZones"]
                     if z["Name"].rstrip(".") == SITE_DOMAIN]
            zone = found[0] if found else r53.create_hosted_zone(Name=SITE_DOMAIN, CallerReference=SITE_DOMAIN)[
                "HostedZone"]
            zone_id = zone["Id"].rsplit("/", 1)[-1]
            cert = acm.request_certificate(DomainName=f"*.{SITE_DOMAIN}", SubjectAlternativeNames=[SITE_DOMAIN],
                                           ValidationMethod="DNS")["CertificateArn"]
            options = acm.describe_certificate(CertificateArn=cert)["Certificate"]["DomainValidationOptions"]
            changes = [{"Action": "UPSERT", "ResourceRecordSet": {
                "Name": o["ResourceRecord"]["Name"], "Type": "CNAME", "TTL": 300,
                "ResourceRecords": [{"Value": o["ResourceRecord"]["Value"]}]}}
                for o in {o["ResourceRecord"]["Name"]: o for o in options}.values()]
            r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
        return zone_id, cert

    # -- the story
    def main(self) -> dict:
        s = self.settings
        primary = s.primary_region
        out = str(self.out_dir)
        summary: dict = {"launches": {}}

        self.step("release engineer", "build and validate every template",
                  "templates are rendered from reviewed Python, linted with cfn-lint and the HIPAA rules in "
                  "every catalog region, and get a compliance report; nothing unvalidated can be published")
        if self.build:
            self.run("build", "--out", out)
        else:
            self.write(f"    (--no-build: using the existing build in {out})")

        pending = []
        for region in s.regions:
            self.step("security administrator", f"the existing network in {region}",
                      "products launch into the administrator's VPC and subnets, never ones a developer picks; "
                      "the demo creates them in the local EC2 (a real account already has them)")
            params = self.network(region)
            self.step("security administrator", f"deploy the account baseline in {region}",
                      "CloudTrail, AWS Config rules, CIS alarms, encrypted log and template buckets, and the "
                      "settings products read (VPC, subnets, CIDR, certificate) must exist before any launch")
            result = self.deploy("deploy-baseline", "--region", region, "--yes", "--out", out,
                                 *[a for k, v in params.items() for a in ("-p", f"{k}={v}")])
            if any(d["next_step"] for d in result["decisions"]):
                pending.append(region)
        for region in pending:
            self.step("security administrator", f"turn on the log bucket's replication in {region}",
                      "S3 replicates only into a bucket that exists; the replica bucket of the next region's "
                      "baseline exists now, so the command deploy-baseline printed as the next step turns it on")
            self.deploy("deploy-baseline", "--region", region, "--yes", "--out", out)

        self.step("security administrator", "deploy the launch role",
                  "Service Catalog launches products with this least-privilege role, so developers never need "
                  "permissions on EC2, KMS or IAM themselves")
        self.deploy("deploy-launch-role", "--region", primary, "--yes", "--out", out)

        self.step("security administrator", f"check that {primary} is ready for web server launches",
                  "doctor reads the account: settings, subnets and their zones, the instance subnet's route to a "
                  "NAT gateway (or VPC endpoints), the certificate, the hosted zone, the AMI, the launch role")
        report = self.run("doctor", "--region", primary, "--json", capture_json=True)
        for check in report["checks"]:
            self.write(f"    {check['name']:<12} {'ok' if check['ok'] else 'MISSING'}  {check['detail'][:110]}")
        if not report["ready"]:
            raise DemoError(f"step {self.step_no}: the local account is not ready for launches")

        self.step("developer", "create a CodeCommit repository for the site and commit its first page",
                  "the web server serves a CodeCommit repository; developers may create and push to "
                  "repositories (AWSCodeCommitPowerUser) but not delete them; a launch serves the commit the "
                  "default branch is at")
        cc = aws.client(aws.session(primary), "codecommit", primary)
        with aws.translated("CreateRepository", REPOSITORY):
            repo = cc.create_repository(repositoryName=REPOSITORY, repositoryDescription="the clinic's website")[
                "repositoryMetadata"]
        clone_url = repo["cloneUrlHttp"]
        first = self.commit(cc, "<h1>Clinic</h1>")
        self.write(f"    repository {REPOSITORY}: {clone_url}, main at {first}")

        self.step("release engineer", "publish the catalog to Service Catalog",
                  "templates are uploaded content-addressed to the template bucket and become product versions "
                  "in the portfolio shared with the HealthcareDeveloper group; re-running changes nothing")
        self.run("publish", "--out", out)

        self.step("developer", "see what can be launched",
                  "developers see only the products shared with their group, with the versions they may use")
        self.run("products", "--region", primary)

        for name, env, phi in LAUNCHES:
            self.step("developer", f"launch the web server: {name} (Environment={env}, PHI={phi})",
                      "TEST is reachable only from the administrator's network; PROD only over HTTPS through a "
                      "load balancer; PHI=YES adds a KMS-encrypted, backed-up data volume. Parameters are "
                      "checked against the product's constraints before anything is sent to AWS")
            result = self.run("launch", PRODUCT, "--name", name, "--region", primary,
                              "-p", f"FriendlyName={name}", "-p", f"Environment={env}", "-p", f"PHI={phi}",
                              "-p", f"CodeCommitRepo={clone_url}", "-p", f"InstanceOwnerEmail={DEVELOPER_EMAIL}",
                              *self.extra_launch_parameters(), "--json", capture_json=True)
            url = result["outputs"].get("CompliantWebsiteURL", "(no CompliantWebsiteURL output)")
            self.write(f"    {name}: {result['status']}, CompliantWebsiteURL = {url}")
            summary["launches"][name] = url

        self.step("developer", "check a launched product", "status shows the state, version and outputs")
        self.run("status", LAUNCHES[0][0], "--region", primary)

        name, bigger = LAUNCHES[0][0], self.bigger_instance_type()
        self.step("developer", f"update {name}: InstanceType={bigger}",
                  "a developer changes a parameter of a running launch; CloudFormation resizes the instance in "
                  "place (same instance id), the other parameters keep their values, the URL stays the same")
        before = self.run("status", name, "--region", primary, "--json", capture_json=True)
        result = self.run("update", name, "--region", primary, "-p", f"InstanceType={bigger}", "--json",
                          capture_json=True)
        after = self.run("status", name, "--region", primary, "--json", capture_json=True)
        same = before["outputs"].get("InstanceId") == after["outputs"].get("InstanceId")
        self.write(f"    {name}: update {result['status']}, status {after['status']}, instance "
                   f"{after['outputs'].get('InstanceId', '?')} ({'same instance' if same else 'replaced'}), "
                   f"CompliantWebsiteURL = {after['outputs'].get('CompliantWebsiteURL', '?')}")
        summary["update"] = {"name": name, "instance_type": bigger, "status": result["status"], "same_instance": same}

        self.step("developer", f"release a new commit to {name}",
                  "a new commit reaches the server only by a release: the product is updated with the commit id "
                  "(Revision), cfn-hup on the instance checks exactly that commit out, and Service Catalog keeps "
                  "the record; the instance stays")
        second = self.commit(cc, "<h1>Clinic</h1><p>Opening hours</p>")
        self.write(f"    main is at {second} now")
        released = self.run("release", name, "--region", primary, "--revision", "main", "--json", capture_json=True)
        self.write(f"    {name}: release {released['status']}, SiteRevision = "
                   f"{released['outputs'].get('SiteRevision', '?')} (was {released['previous_revision']})")
        self.run("history", name, "--region", primary)
        summary["release"] = {"name": name, "revision": released["revision"], "status": released["status"]}

        reports = [str(p) for p in (self.out_dir / "index.html", self.out_dir / "compliance.md") if p.exists()] + \
            sorted(str(p) for p in self.out_dir.glob("*/*/compliance.*"))
        self.step("security administrator", "read the compliance reports",
                  "the catalog page: every HIPAA citation, the products and rules that cover it, the gaps; for "
                  "every product version: the verdict by scenario, each rule's evidence with its values, the "
                  "fix of any failure, and every waiver and suppression with its reason")
        for path in reports or [f"{out}/<product>/<version>/compliance.md (not written by this build)"]:
            self.write(f"    {path}")
        summary["reports"] = reports

        for name, env, _phi in LAUNCHES:
            self.step("developer", f"terminate {name}", "a provisioned product is deleted with its stack"
                      + ("; its load balancer's deletion protection is turned off first" if env == "PROD" else ""))
            self.run("terminate", name, "--yes", "--region", primary)
        summary["seconds"] = round(time.monotonic() - self.started, 1)
        return summary

    def commit(self, cc, page: str) -> str:
        """A commit of index.html on main (the developer's ``git push``; the first creates main)."""
        with aws.translated("PutFile", f"{REPOSITORY}/index.html"):
            branch = cc.get_repository(repositoryName=REPOSITORY)["repositoryMetadata"].get("defaultBranch")
            parent = cc.get_branch(repositoryName=REPOSITORY, branchName=branch)["branch"]["commitId"] if branch else None
            return cc.put_file(repositoryName=REPOSITORY, branchName="main", filePath="index.html",
                               fileContent=page.encode(), commitMessage="site", **(
                                   {"parentCommitId": parent} if parent else {}))["commitId"]

    def web_server_parameters(self) -> dict:
        """The Parameters section of the built web server."""
        built = manifests.load(self.out_dir)
        return json.loads(built.read_template(built.entry(PRODUCT))).get("Parameters", {})

    def bigger_instance_type(self) -> str:
        """The next allowed InstanceType after the one the demo launched with."""
        spec = self.web_server_parameters().get("InstanceType", {})
        allowed, current = spec.get("AllowedValues") or ["t3.small", "t3.medium"], spec.get("Default")
        return allowed[(allowed.index(current) + 1) % len(allowed)] if current in allowed else allowed[-1]

    def extra_launch_parameters(self) -> list[str]:
        """Parameters of the web server that have no default, other than the ones the demo sets."""
        params = self.web_server_parameters()
        chosen = {"WebDirectory": "clinic"}
        if "InstanceType" in params:
            allowed = params["InstanceType"].get("AllowedValues", [])
            chosen["InstanceType"] = params["InstanceType"].get("Default") or (allowed[0] if allowed else "t3.micro")
        return [a for k, v in chosen.items() if k in params for a in ("-p", f"{k}={v}")]


def run(out_dir: Path, port: int | None = None, write: Callable[[str], None] = print, build: bool = True) -> dict:
    """Start the local endpoint, run the story, stop the endpoint; returns a summary."""
    from generator.devtools.local_aws import LocalAws

    if port is None:
        port = int(os.environ.get("LOCAL_AWS_PORT") or 0)
    write("hipaa-catalog demo: the whole workflow, three roles, no AWS account\n"
          "  security administrator: sets the account up (baseline, launch role)\n"
          "  release engineer:       builds, validates and publishes the catalog\n"
          "  developer:              launches products with end-user permissions only")
    endpoint = LocalAws.start(port=port)
    write(f"\nlocal AWS endpoint (moto + Service Catalog) at {endpoint.url}; IAM enforced: launches, updates and "
          "terminations run as the launch role")
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID",
                                             "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN")}
    try:
        settings = catalog_settings.load()
        os.environ.update(AWS_ENDPOINT_URL=endpoint.url, AWS_REGION=settings.primary_region,
                          AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_SESSION_TOKEN", None)
        summary = Demo(out_dir, write, build).main()
        summary["iam"] = endpoint.iam()
        write(f"\nIAM: {summary['iam']['requests']} requests of the launch role evaluated, "
              f"{summary['iam']['denied']} refused")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        endpoint.stop()
        write("\nlocal AWS endpoint stopped")
    write(f"\ndone in {summary['seconds']}s:")
    for name, url in summary["launches"].items():
        write(f"  {name}: {url}")
    return summary


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="example: make demo   (or: .venv/bin/python scripts/demo.py --out build)")
    p.add_argument("--out", type=Path, default=manifests.BUILD_DIR,
                   help="build folder (default: build/; example: --out /tmp/demo-build)")
    p.add_argument("--port", type=int, default=None,
                   help="port of the local endpoint (default: LOCAL_AWS_PORT, else a free one; example: --port 4566)")
    p.add_argument("--no-build", action="store_true",
                   help="use the existing build instead of building first (example: --no-build)")
    args = p.parse_args(argv)
    try:
        run(args.out, args.port, build=not args.no_build)
    except CatalogError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return exc.exit_code or 1
    return 0
