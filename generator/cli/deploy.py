"""``hipaa-catalog deploy-baseline`` and ``deploy-launch-role``: the security administrator's stacks."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from pathlib import Path

from generator import settings as catalog_settings
from generator.aws import api as aws, deploy, organization as org_tree, stacksets
from generator.cli import interrupt, output
from generator.errors import ConfigError, Interrupted
from generator.pipeline import manifest as manifests

COMMON_HELP = """\
Every -p value is checked against the template's constraints (allowed values, pattern, lengths, numbers,
unknown and missing names) before any change set is created, and the region must be a catalog region.
The stack is created or updated through a CloudFormation change set: the changes (Add / Modify /
Remove, and whether a resource is replaced) are printed first, and you are asked before anything is
executed (--yes skips the question; without a terminal, --yes is required).  Progress goes to stderr
(each new stack event; the stack's status and the time waited, on a terminal one line updated in place),
the stack outputs to stdout.  Ctrl-C before the change set is executed deletes it (nothing changes); after,
it stops waiting (the stack operation goes on in CloudFormation; the message says how to follow it); a
second Ctrl-C quits at once.  AWS settings: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL.
"""
BASELINE_HELP = """\
Some parameters are decided by looking at the account, and the decisions are printed with the changes:
GlobalResources (YES in the catalog's primary region only: the trail, CIS alarms and developer group
exist once per account); ConfigRecording (EXISTING when the region already has an AWS Config recorder
and delivery channel, which are then adopted: the stack creates neither; CREATE otherwise); and
LogReplicaBucketArn / LogReplicaKeyArn (the replica bucket of the log bucket, from the baseline stack of
the replica region; empty, replication pending, until that stack exists: deploy it, then run this again);
InstanceSubnetId / InstanceAvailabilityZone (the private subnet web servers launch into: one in an
Availability Zone of the public subnets, kept while valid; subnets outside the VPC, public subnets in one
zone only, or no private subnet sharing a zone with a public one are refused, the subnets named); and
WebServerImageId (the web servers' AMI: kept from the stack, else the newest Amazon Linux 2023 x86_64 one).
`hipaa-catalog doctor` then checks the rest of what a launch needs (routes or VPC endpoints, DNS zone,
certificate).
"""
# One example parameter per product for the -p help (tests check each name against the template); the
# launch role's parameters are administrator settings locked to their SSM parameter names.
P_EXAMPLES = {deploy.BASELINE: "-p AdministratorEmail=security@example.org",
              deploy.LAUNCH_ROLE: None}
NO_EXAMPLE = {deploy.LAUNCH_ROLE: "(its parameters read the baseline's settings, each locked to its SSM parameter "
                                  "name: nothing to give); "}


def _add_common(p, product: str) -> None:
    example = P_EXAMPLES[product]
    p.add_argument("-p", "--parameter", action="append", metavar="KEY=VALUE", dest="parameters",
                   help="a template parameter, repeatable "
                        + (f"(example: {example}); " if example else NO_EXAMPLE[product])
                        + "parameters left out keep their previous value on an update, or their default")
    p.add_argument("--stack-name", default=deploy.DEFAULT_STACK_NAMES[product],
                   help=f"CloudFormation stack name (default: {deploy.DEFAULT_STACK_NAMES[product]}; "
                        f"example: --stack-name {deploy.DEFAULT_STACK_NAMES[product]}-test)")
    p.add_argument("--region", default=None,
                   help="region to deploy to (default: AWS_REGION, else the catalog's primary region; "
                        "example: --region us-west-2)")
    p.add_argument("--yes", "-y", action="store_true",
                   help="execute the change set without asking (example: hipaa-catalog "
                        f"{p.prog.split()[-1]} --yes)")
    p.add_argument("--out", type=Path, default=manifests.BUILD_DIR,
                   help="where `make build` wrote the templates (default: build/; example: --out out/)")
    p.add_argument("--template-bucket", default=None, metavar="BUCKET",
                   help="S3 bucket to upload the template to when it is over CloudFormation's 51,200-byte "
                        "inline limit (example: --template-bucket my-admin-bucket)")
    p.add_argument("--organization", action="store_true",
                   help="deploy to every account of the settings' [organization] targets and regions as a "
                        "service-managed StackSet (from the management account or a delegated administrator, in "
                        "the primary region; accounts joining a target later get it automatically; example: "
                        f"hipaa-catalog {p.prog.split()[-1]} --organization --yes)")
    output.add_json_flag(p)
    p.set_defaults(func=lambda args: (run_organization if args.organization else run)(args, product))


def register(sub) -> None:
    p = sub.add_parser(
        "deploy-baseline", help="administrator: create or update the account baseline stack",
        description="Deploy the account baseline (CloudTrail, Config, alarms, log and template buckets, the "
                    "HealthcareDeveloper group, the administrator settings in SSM) in one catalog region; run it "
                    "in each.\n\n" + COMMON_HELP + "\n" + BASELINE_HELP,
        epilog="examples:\n"
               "  hipaa-catalog deploy-baseline -p AdministratorEmail=security@example.org -p VpcId=vpc-0abc \\\n"
               "      -p PrivateSubnetIds=subnet-1,subnet-2 -p PublicSubnetIds=subnet-3,subnet-4 \\\n"
               "      -p AdminCidr=10.20.0.0/16 -p ProdCertificateArn=arn:aws:acm:... \\\n"
               "      -p ProdHostedZoneId=Z0123456789ABC -p ProdDomain=apps.example.org\n"
               "  hipaa-catalog deploy-baseline --region us-west-2 -p AdminCidr=10.20.0.0/24   an update keeps "
               "the rest\n"
               "  hipaa-catalog deploy-baseline --yes --json     no question; machine-readable result",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common(p, deploy.BASELINE)
    p = sub.add_parser(
        "deploy-launch-role", help="administrator: create or update the Service Catalog launch role stack",
        description="Deploy the least-privilege IAM role that Service Catalog assumes to launch products, once "
                    "per account, in the catalog's primary region (IAM names are account-wide; another region is "
                    "refused). Parameters not given are taken from the baseline stack's outputs of the same "
                    "name.\n\n" + COMMON_HELP,
        epilog="examples:\n"
               "  hipaa-catalog deploy-launch-role                       asks before executing\n"
               "  hipaa-catalog deploy-launch-role --yes --json          no question; machine-readable result",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline-stack", default=deploy.DEFAULT_STACK_NAMES[deploy.BASELINE],
                   help="stack whose outputs fill parameters not given with -p "
                        f"(default: {deploy.DEFAULT_STACK_NAMES[deploy.BASELINE]}; example: --baseline-stack b2)")
    _add_common(p, deploy.LAUNCH_ROLE)


def print_changes(p: deploy.Plan, decisions=(), file=None) -> None:
    """The change table, then the parameters deploy-baseline decided and why (what is adopted, what waits)."""
    file = file or sys.stdout
    if not p.has_changes:
        print(f"stack {p.stack_name}: no changes", file=file)
    else:
        print(f"stack {p.stack_name}: {p.change_set_type} with {len(p.changes)} change(s)", file=file)
        rows = [(c["action"], c["logical_id"], c["resource_type"],
                 {"True": "REPLACED", "Conditional": "maybe replaced", "False": "no"}.get(c["replacement"], ""),
                 ", ".join(c.get("properties", [])))
                for c in p.changes]
        if rows:
            print(output.table(["action", "logical id", "type", "replacement", "changed properties"], rows), file=file)
    if decisions:
        print("decided by looking at the account:", file=file)
        for d in decisions:
            print(f"  {d.parameter} = {d.value or '(empty)'}: {d.why}", file=file)


def run(args, product: str) -> int:
    settings = catalog_settings.load(args.settings)
    region = args.region or aws.default_region() or settings.primary_region
    waiting = output.Waiting()
    last_words = (f"stack {args.stack_name} may be changing: see `aws cloudformation describe-stacks --stack-name "
                  f"{args.stack_name} --region {region}`, then run the same command again")
    try:
        with interrupt.first_stops(f"the deploy of stack {args.stack_name}", grace=interrupt.GRACE,
                                   last_words=lambda: last_words) as stop:
            planned = _plan(args, product, settings, region, waiting.line, stop)
        cf, plan, result, followups = planned
        if not plan.has_changes:
            return _finish(args, result)
        if not args.yes and not _asked(args, cf, plan):
            result["status"] = "DECLINED"
            return _finish(args, result, code=1)
        with interrupt.first_stops(f"the wait for stack {args.stack_name}", grace=interrupt.GRACE,
                                   last_words=lambda: last_words) as stop:
            done = deploy.execute(cf, plan, progress=waiting.line, status=waiting.status, stop=stop)
    finally:
        waiting.end()
    result.update(executed=True, **done)
    result["next_steps"] += followups()
    return _finish(args, result)


def _asked(args, cf, plan: deploy.Plan) -> bool:
    """The administrator's answer; without a terminal there is no one to ask: refused, naming --yes.  A
    declined change set is deleted."""
    if not output.is_terminal():
        deploy.discard(cf, plan)
        raise ConfigError(f"stack {args.stack_name}: not executing the change set: standard input is not a "
                          "terminal, so there is no one to ask", hint="review the changes above and re-run "
                          "with --yes to execute them")
    if output.ask(f"execute these {len(plan.changes)} change(s) on stack {args.stack_name}? [y/N] "):
        return True
    deploy.discard(cf, plan)
    print(f"stack {args.stack_name}: change set discarded, nothing changed", file=sys.stderr)
    return False


def _plan(args, product: str, settings, region: str, progress, stop):
    """The local checks, the account's decisions and the change set: ``(cf, plan, result, followups)`` (with
    nothing to change, ``result`` is complete).  Ctrl-C (``stop``) before the change set is executed
    changes nothing (``deploy.plan``; a change set created meanwhile is deleted)."""
    entry, template = deploy.load_template(product, args.out)
    given = deploy.parse_assignments(args.parameters)
    # local checks first: nothing is asked of AWS for a wrong region or a value the template refuses
    deploy.check_region(region, settings, product)
    deploy.check_given(template, given, product)
    decisions = [d for d in [deploy.decide_global_resources(template, given, region, settings.primary_region)] if d]
    sess = aws.session(region)
    clients = lambda service, where: aws.client(sess, service, where, progress=progress)  # noqa: E731
    cf = clients("cloudformation", region)
    if getattr(args, "baseline_stack", None):
        base = deploy.outputs(deploy.describe_stack(cf, args.baseline_stack))
        for key in template.get("Parameters", {}):
            if key not in given and key in base:
                given[key] = base[key]
                progress(f"parameter {key} = {base[key]} (from stack {args.baseline_stack})")
    stack = deploy.describe_stack(cf, args.stack_name)
    deploy.refuse_unusable(cf, args.stack_name, stack)
    config = deploy.decide_config_recording(template, given, region, clients("config", region), cf, args.stack_name,
                                            stack)
    decisions += ([config] if config else []) + deploy.decide_replication(template, given, region, args.stack_name,
                                                                          clients)
    decisions += deploy.decide_placement(template, given, region, clients("ec2", region), stack)
    ami = deploy.decide_ami(template, given, region, clients("ssm", region), stack)
    decisions += [ami] if ami else []
    for d in decisions:
        given[d.parameter] = d.value
        progress(f"parameter {d.parameter} = {d.value or '(empty)'}: {d.why}")
    upload = None
    if args.template_bucket:
        s3 = clients("s3", region)
        upload = lambda body: deploy.upload_template(s3, args.template_bucket, entry, body)  # noqa: E731
    progress(f"{product} {entry.version} -> stack {args.stack_name} in {region}")
    plan = deploy.plan(cf, args.stack_name, template, given, product=product, upload=upload, progress=progress,
                       tags={"hipaa-catalog:product": product, "hipaa-catalog:version": entry.version}, stop=stop)
    if stop.is_set() and plan.change_set_id:
        deploy.discard(cf, plan)
        raise Interrupted(deploy.NOTHING_CHANGED.format(name=args.stack_name) + " (change set deleted)",
                          hint="run the same command again")
    result = {"product": product, "version": entry.version, "region": region, **plan.as_dict(),
              "decisions": [dataclasses.asdict(d) for d in decisions], "executed": False, "status": None, "outputs": {},
              "next_steps": [d.next_step for d in decisions if d.next_step]}
    if not args.json:
        print_changes(plan, decisions)
    elif plan.has_changes and not args.yes:
        print_changes(plan, decisions, file=sys.stderr)   # stdout is the JSON; whoever is asked must see the changes
    followups = lambda: deploy.replication_followups(template, region, settings.regions,  # noqa: E731
                                                      args.stack_name, clients)
    if not plan.has_changes:
        stack = deploy.describe_stack(cf, args.stack_name)
        result.update(status=stack["StackStatus"] if stack else None, outputs=deploy.outputs(stack))
        result["next_steps"] += followups()
    return cf, plan, result, followups


ORG_COLUMNS = ["stack set", "account", "name", "environment", "region", "action", "status", "drift"]


def print_org_plan(plans: list[stacksets.StackSetPlan], file=None) -> None:
    """Per stack set: what changes and why, the template's resource changes, then every account and region."""
    file = file or sys.stdout
    for p in plans:
        what = {"create": "to be created", "update": "to be updated",
                "none": "its stack instances change" if p.has_changes else "no changes"}[p.set_action]
        print(f"stack set {p.spec.name} ({p.spec.product} {p.spec.version}, {', '.join(p.spec.regions)}): {what}"
              + (f" ({'; '.join(p.reasons)})" if p.reasons else ""), file=file)
        if p.set_action == "create":
            print(f"  {len(p.diff.get('add', []))} resources per stack instance (a new stack set)", file=file)
        else:
            for key in ("add", "modify", "remove"):
                if p.diff.get(key):
                    print(f"  resources to {key}: {', '.join(p.diff[key])}", file=file)
        for region, targets in sorted(p.create_targets.items()):
            print(f"  new stack instances in {region} for {', '.join(targets)}", file=file)
        for ou, d in sorted(p.delete_targets.items()):
            kept = f"; {len(d['keep'])} account(s) of it stay, under another target" if d["keep"] else ""
            print(f"  {ou} is no longer a target: {len(p.departing(ou))} stack instance(s) leave the stack set (delete), their "
                  f"stacks kept in the accounts (RetainStacks), and accounts joining it later get none{kept}", file=file)
        if p.delete_regions:
            gone = p.delete_regions["regions"]
            print(f"  {', '.join(gone)} no longer an organisation region: {len(p.departing_regions())} stack "
                  "instance(s) leave the stack set (delete), their stacks kept in the accounts (RetainStacks), and "
                  "accounts joining later get none there", file=file)
    rows = [(i.stack_set, i.account, i.account_name, i.environment or "-", i.region, i.action,
             i.detailed_status or i.status or "-", i.drift or "-") for p in plans for i in p.instances]
    if rows:
        print(output.table(ORG_COLUMNS, rows), file=file)


def run_organization(args, product: str) -> int:
    """The --organization deploy: preview every stack set per account and region, ask, execute, report."""
    settings = catalog_settings.load(args.settings)
    org = settings.organization
    if org is None:
        raise ConfigError(f"--organization needs an [organization] table in {settings.path}",
                          hint="add [organization] with its targets (README: Setting up an organisation)")
    region = settings.primary_region
    if args.region and args.region != region:
        raise ConfigError(f"{product}: the organisation's stack sets are administered from the primary region "
                          f"{region}, not {args.region}; their stack instances go to {', '.join(org.regions)}",
                          hint=f"drop --region (or pass --region {region})")
    entry, template = deploy.load_template(product, args.out)
    given = deploy.parse_assignments(args.parameters)
    deploy.check_given(template, given, product)
    specs, entries = [], {product: entry}
    for first in stacksets.DEPLOYED_FIRST.get(product, ()):
        first_entry, first_template = deploy.load_template(first, args.out)
        entries[first] = first_entry
        specs += stacksets.specs(first, first_entry.version, first_template, {}, org, region, settings.ssm_prefix)
    specs += stacksets.specs(product, entry.version, template, given, org, region, settings.ssm_prefix)
    sess = aws.session(region)
    cf = aws.client(sess, "cloudformation", region)
    account = aws.call(aws.client(sess, "sts", region), "GetCallerIdentity", "the current AWS identity")["Account"]
    stacksets.check_trusted_access(cf, org.call_as, account)
    orgs = aws.client(sess, "organizations", region)
    tree = org_tree.describe(orgs)
    accounts = org_tree.target_accounts(orgs, org, tree.management_account)
    output.progress(f"{product} {entry.version}: {len(accounts)} account(s) under {', '.join(org.target_ids)}, "
                    f"regions {', '.join(org.regions)}")
    leaving = functools.lru_cache(maxsize=None)(
        lambda ou: org_tree.accounts_under(orgs, ou, tree.management_account))
    earlier = lambda i: tuple(s.name for s in specs[:i])  # noqa: E731  (deployed before, in this run)
    plans = [stacksets.plan(cf, stacksets.resolve_dependencies(cf, spec, org.call_as, earlier(i)), org, accounts,
                            leaving) for i, spec in enumerate(specs)]
    plans = [p for p in plans if p.spec.regions or p.current.exists]   # a stack set with no region and none yet
    result = {"product": product, "version": entry.version, "region": region, "organization": tree.id,
              "accounts": len(accounts), "stack_sets": [p.to_json() for p in plans], "executed": False,
              "operations": []}
    changes = [p for p in plans if p.has_changes]
    if not args.json:
        print_org_plan(plans)
    elif changes and not args.yes:
        print_org_plan(plans, file=sys.stderr)
    if not changes:
        if not args.json:
            print(f"{product}: every stack set and stack instance is as built: nothing to do")
        return _finish_org(args, result)
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError(f"{product}: not deploying to the organisation: standard input is not a terminal, so "
                              "there is no one to ask", hint="review the changes above and re-run with --yes")
        if not _confirm(f"apply these changes to {len(changes)} stack set(s)? [y/N] "):
            print(f"{product}: nothing changed", file=sys.stderr)
            return _finish_org(args, result, code=1)
    s3 = aws.client(sess, "s3", region) if args.template_bucket else None
    for p in changes:
        upload = None
        if s3 is not None:   # each stack set's template under its own product
            upload = functools.partial(deploy.upload_template, s3, args.template_bucket, entries[p.spec.product])
        result["operations"] += stacksets.execute(cf, p, org, upload=upload, progress=output.progress)
    result["executed"] = True
    return _finish_org(args, result)


def _finish_org(args, result: dict, code: int = 0) -> int:
    if args.json:
        output.emit_json(result)
    elif result["executed"]:
        done = [r for o in result["operations"] for r in o["results"]]
        print(f"{result['product']}: {len(result['operations'])} operation(s), {len(done)} stack instance "
              f"result(s), all SUCCEEDED; `hipaa-catalog accounts` shows every account")
    return code


def _finish(args, result: dict, code: int = 0) -> int:
    if args.json:
        output.emit_json(result)
        return code
    for step in result["next_steps"]:
        print(f"next: {step}")
    if result["outputs"]:
        print(f"\noutputs of stack {result['stack_name']} ({result['status']}):")
        print(output.table(["output", "value"], sorted(result["outputs"].items())))
    elif result["status"]:
        print(f"stack {result['stack_name']}: {result['status']}")
    return code
