"""``hipaa-catalog publish``: publish the built templates to S3 and AWS Service Catalog."""

from __future__ import annotations

from pathlib import Path

from generator import settings as catalog_settings
from generator.aws import publish as publisher
from generator.aws.publish_plan import Kind
from generator.cli import interrupt, output
from generator.errors import Interrupted, PublishError
from generator.pipeline import manifest as manifests

EPILOG = """\
examples:
  hipaa-catalog publish --dry-run            show what would change, change nothing
  hipaa-catalog publish                      publish build/ to every catalog region
  hipaa-catalog publish --region us-east-1   only this region (repeatable)
  hipaa-catalog publish --json               print build/publish-report.json's content
  AWS_PROFILE=release AWS_REGION=us-east-1 hipaa-catalog publish

Run `make build` first (`make publish` does).  The template bucket comes from the SSM parameter
<ssm_prefix>/catalog/template-bucket; the launch role HipaaCatalogLaunchRole and the developer group
HealthcareDeveloper are checked in IAM before a launch constraint or association is created; the
account baseline creates all three; --bucket and --launch-role-arn override them.  A re-run completes a publish
that failed or was interrupted; publishing twice changes nothing.

With an [organization] in the settings, the portfolio is also shared with every target OU (or the whole
organisation) in organization.regions, principals (the HealthcareDeveloper group by name) and TagOptions
included, and the launch constraint names the role by LocalRoleName; Service Catalog's AWS Organizations
access must be enabled once in the management account (aws servicecatalog enable-aws-organizations-access).
"""


def register(sub) -> None:
    p = sub.add_parser("publish", help="publish the built products to S3 and Service Catalog",
                       description="Publish every product of build/manifest.json to the template bucket and "
                                   "AWS Service Catalog in every catalog region: versioned, idempotent, "
                                   "never deleting.", epilog=EPILOG,
                       formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=manifests.BUILD_DIR, help="build folder (default: build/)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and make no change (read calls only)")
    p.add_argument("--region", action="append", metavar="REGION",
                   help="publish to this catalog region only (repeatable; default: every catalog region)")
    p.add_argument("--bucket", metavar="NAME", help="template bucket (default: from the baseline's SSM parameter)")
    p.add_argument("--launch-role-arn", metavar="ARN",
                   help="launch constraint role (default: the baseline's HipaaCatalogLaunchRole)")
    output.add_json_flag(p)
    p.set_defaults(func=run)


def rows(report: publisher.PublishReport) -> list[tuple]:
    out = [(name, "-", "", "prepare region", publisher.Status.FAILED, "", "", r.error)
           for name, r in report.regions.items() if r.error and not r.actions]
    out += [(a.region, a.target, a.version, a.action, a.status, a.artifact_id, a.sha256[:12],
             a.message if a.status is not publisher.Status.DONE else "") for a in report.actions]
    return out


def run(args) -> int:
    settings = catalog_settings.load(args.settings)
    with interrupt.first_stops("publish") as stop:
        report = publisher.publish(settings, out_dir=args.out, regions=args.region, dry_run=args.dry_run,
                                   bucket=args.bucket, launch_role_arn=args.launch_role_arn,
                                   progress=output.progress, stop=stop)
    failed = report.interrupted or not report.ok
    if args.json:
        if not failed:
            output.emit_json(report.to_json())
    else:
        print(output.table(["region", "product", "version", "action", "status", "artifact", "sha256", "note"],
                           rows(report)))
        for region, r in report.regions.items():
            for w in r.warnings:
                print(f"warning: {region}: {w}")
        calls = report.calls
        print(f"\n{'plan only (dry run): ' if report.dry_run else ''}{calls['write']} write call(s), "
              f"{calls['read']} read call(s) in {report.seconds} s; report: "
              f"{Path(args.out) / publisher.REPORT}")
    if failed:
        error = _failure(report, settings, args.out)
        error.result = report.to_json()   # with --json: the report and the error, one document
        raise error
    return 0


def _failure(report: publisher.PublishReport, settings, out: Path) -> Interrupted | PublishError:
    if report.interrupted:
        not_done = sum(a.status is publisher.Status.NOT_DONE for a in report.actions)
        return Interrupted(f"publish interrupted: {not_done} action(s) not done (see the table and "
                           f"{Path(out) / publisher.REPORT})",
                           hint="run the same command again: it completes what is missing")
    refused = sorted({a.product for a in report.actions if a.action is Kind.REFUSED})
    hint = (f"bump the version of {', '.join(refused)} in {settings.path} (version, and a line under its "
            f"changes) and run `make publish` again" if refused else
            "fix the cause and run `make publish` again; it completes what is missing")
    return PublishError("publish incomplete: " + publisher.failure_summary(report), hint=hint)
