"""``make demo``: the whole workflow of the catalog against the local AWS endpoint, narrated.

Each step says which role acts and why, shows the exact ``hipaa-catalog`` command, and runs that command as
shown (in this process, through ``generator.cli.main.main``), so what you see is what it prints; lines of the
demo's own (facts it reads with the same end-user API, the network and the repository it makes with
``generator.devtools.local_account``) are indented and never start with ``$``.  Nothing here
needs an AWS account: a local endpoint (moto's server plus our Service Catalog) is started on a free
port (or ``LOCAL_AWS_PORT``), and stopped at the end.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Callable

from generator import settings as catalog_settings
from generator.aws.consumer import Consumer
from generator.devtools import local_account as account
from generator.errors import CatalogError, DemoError
from generator.pipeline import manifest as manifests

LAUNCHES = [("clinic-test", "TEST", "YES"), ("clinic-prod", "PROD", "NO")]
PRODUCT = "healthcare-web-server"
# The follow-up deploy-baseline prints once a region's replica bucket exists (generator/aws/deploy.py).
REPLICATION_NEXT = re.compile(r"^next: hipaa-catalog deploy-baseline --region (\S+): turns on the replication", re.M)


class _Tee(io.TextIOBase):
    """Writes through to ``out`` and keeps a copy, so the demo sees what a command printed as the user does."""

    def __init__(self, out):
        self.out, self.copy = out, io.StringIO()

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return self.out.isatty()   # a command formats its output as it would for the demo's own stdout


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

    def run(self, *argv: str) -> str:
        """Run one ``hipaa-catalog`` command exactly as shown (in this process, through the CLI's ``main``),
        let it print what it prints, and return that; fail the demo if it fails."""
        from generator.cli import main as cli

        self.write("    $ hipaa-catalog " + " ".join(shlex.quote(a) for a in argv))
        sys.stdout.flush()
        tee = _Tee(sys.stdout)
        with contextlib.redirect_stdout(tee):
            code = cli.main(list(argv))
        if code != 0:
            raise DemoError(f"step {self.step_no}: `hipaa-catalog {' '.join(argv)}` exited {code} (its error is "
                            "printed above)")
        return tee.copy.getvalue()

    def status(self, name: str) -> dict:
        """What Service Catalog says of a launch now (for the narration; the commands shown print it too)."""
        return Consumer(self.settings.primary_region).status(name)

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

        deployed: list[str] = []
        pending: list[str] = []
        for region in s.regions:
            self.step("security administrator", f"the existing network in {region}",
                      "products launch into the administrator's VPC and subnets, never ones a developer picks; "
                      "the demo creates them in the local EC2 (a real account already has them)")
            network = account.network(region)
            self.write(f"    {network.describe()}")
            self.step("security administrator", f"deploy the account baseline in {region}",
                      "CloudTrail, AWS Config rules, CIS alarms, encrypted log and template buckets, and the "
                      "settings products read (VPC, subnets, CIDR, certificate) must exist before any launch")
            printed = self.run("deploy-baseline", "--region", region, "--yes", "--out", out,
                               *[a for k, v in network.baseline_parameters().items() for a in ("-p", f"{k}={v}")])
            deployed.append(region)
            pending += [r for r in REPLICATION_NEXT.findall(printed) if r in deployed and r not in pending]
        for region in pending:
            self.step("security administrator", f"turn on the log bucket's replication in {region}",
                      "S3 replicates only into a bucket that exists; the replica bucket of the next region's "
                      "baseline exists now, so the next step deploy-baseline printed turns it on")
            self.run("deploy-baseline", "--region", region, "--yes", "--out", out)

        self.step("security administrator", "deploy the launch role",
                  "Service Catalog launches products with this least-privilege role, so developers never need "
                  "permissions on EC2, KMS or IAM themselves")
        self.run("deploy-launch-role", "--region", primary, "--yes", "--out", out)

        self.step("security administrator", f"check that {primary} is ready for web server launches",
                  "doctor reads the account: settings, subnets and their zones, the instance subnet's route to a "
                  "NAT gateway (or VPC endpoints), the certificate, the hosted zone, the AMI, the launch role; "
                  "it exits 1 when something is missing")
        self.run("doctor", "--region", primary)

        self.step("developer", "create a CodeCommit repository for the site and commit its first page",
                  "the web server serves a CodeCommit repository; developers may create and push to "
                  "repositories (AWSCodeCommitPowerUser) but not delete them; a launch serves the commit the "
                  "default branch is at")
        site = account.site(primary)
        self.write(f"    repository {site.repository}: {site.clone_url}, {site.branch} at {site.commit}")

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
            self.run("launch", PRODUCT, "--name", name, "--region", primary,
                     "-p", f"FriendlyName={name}", "-p", f"Environment={env}", "-p", f"PHI={phi}",
                     "-p", f"CodeCommitRepo={site.clone_url}", "-p", f"InstanceOwnerEmail={account.DEVELOPER_EMAIL}",
                     *self.extra_launch_parameters())
            url = self.status(name)["outputs"].get("CompliantWebsiteURL", "(no CompliantWebsiteURL output)")
            self.write(f"    {name}: SUCCEEDED, CompliantWebsiteURL = {url}")
            summary["launches"][name] = url

        self.step("developer", "check a launched product", "status shows the state, version and outputs")
        self.run("status", LAUNCHES[0][0], "--region", primary)

        name, bigger = LAUNCHES[0][0], self.bigger_instance_type()
        self.step("developer", f"update {name}: InstanceType={bigger}",
                  "a developer changes a parameter of a running launch; CloudFormation resizes the instance in "
                  "place (same instance id), the other parameters keep their values, the URL stays the same")
        before = self.status(name)["outputs"]
        self.run("update", name, "--region", primary, "-p", f"InstanceType={bigger}")
        after = self.status(name)
        same = before.get("InstanceId") == after["outputs"].get("InstanceId")
        self.write(f"    {name}: update SUCCEEDED, status {after['status']}, instance "
                   f"{after['outputs'].get('InstanceId', '?')} ({'same instance' if same else 'replaced'}), "
                   f"CompliantWebsiteURL = {after['outputs'].get('CompliantWebsiteURL', '?')}")
        summary["update"] = {"name": name, "instance_type": bigger, "status": after["status"], "same_instance": same}

        self.step("developer", f"release a new commit to {name}",
                  "a new commit reaches the server only by a release: the product is updated with the commit id "
                  "(Revision), cfn-hup on the instance checks exactly that commit out, and Service Catalog keeps "
                  "the record; the instance stays")
        second = account.commit_page(account.codecommit(primary), site.repository,
                                     "<h1>Clinic</h1><p>Opening hours</p>")
        self.write(f"    {site.branch} is at {second} now")
        was = after["outputs"].get("SiteRevision", "?")
        self.run("release", name, "--region", primary, "--revision", site.branch)
        now = self.status(name)["outputs"].get("SiteRevision", "?")
        self.write(f"    {name}: release SUCCEEDED, SiteRevision = {now} (was {was})")
        self.run("history", name, "--region", primary)
        summary["release"] = {"name": name, "revision": now, "status": "SUCCEEDED"}

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
