"""``hipaa-catalog doctor``: administrators check that an account is ready for web server launches."""

from __future__ import annotations

import argparse

from generator import settings as catalog_settings
from generator.aws import api as aws
from generator.aws.doctor import Doctor
from generator.cli import output


def register(sub) -> None:
    p = sub.add_parser(
        "doctor", help="administrator: check that the account has what a web server launch needs",
        description="Check, against the account and without changing anything, what a healthcare-web-server launch "
                    "needs in one catalog region: the administrator settings the account baseline writes; the VPC "
                    "and subnets; placement (the instance subnet private, in an Availability Zone of the load "
                    "balancers' subnets, which span two zones); egress of the instance subnet (a NAT gateway "
                    "route, or the VPC endpoints for SSM, CloudWatch Logs, CloudFormation, CodeCommit's Git, EC2 "
                    "and S3 for the Amazon Linux repositories); the PROD certificate (this region, ISSUED, covers "
                    "*.<domain>); the hosted zone (public, holds the domain); the AMI; the launch role.  Each "
                    "missing prerequisite is named with what to do.  Exit 1 when one is missing.\n\n"
                    "AWS settings: AWS_PROFILE, AWS_REGION (default: the catalog's primary region), AWS_ENDPOINT_URL.",
        epilog="examples:\n  hipaa-catalog doctor\n  hipaa-catalog doctor --region us-west-2 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--region", default=None, help="region to check (default: AWS_REGION, else the catalog's primary "
                   "region; example: --region us-west-2)")
    output.add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    settings = catalog_settings.load(args.settings)
    region = settings.require_region(args.region or aws.default_region() or settings.primary_region, "doctor")
    checks = Doctor(region, ssm_prefix=settings.ssm_prefix,
                    progress=output.quiet if args.json else output.progress).run()
    ready = all(c.ok for c in checks)
    if args.json:
        output.emit_json({"region": region, "ready": ready, "checks": [c.as_dict() for c in checks]})
    else:
        print(output.table(["check", "result", "detail"], [
            (c.name, "ok" if c.ok else ("skipped" if c.skipped else "MISSING"), c.detail) for c in checks]))
        fixes = [c for c in checks if not c.ok and c.fix]
        for c in fixes:
            print(f"fix {c.name}: {c.fix}")
        print(f"\n{region}: " + ("ready for web server launches" if ready else
                                  f"not ready: {sum(not c.ok for c in checks)} check(s) failed"))
    return 0 if ready else 1
