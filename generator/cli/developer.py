"""Developer subcommands: ``products``, ``launch``, ``status``, ``update``, ``release``, ``history``,
``terminate``.

They use Service Catalog's end-user API (``generator.aws.consumer``) and, for the web server's
repository and AMI setting, CodeCommit and SSM reads (``generator.aws.site``), as a developer in the
HealthcareDeveloper group would.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from typing import Iterator

from generator import settings as catalog_settings
from generator.aws import api as aws, site as sites
from generator.aws.consumer import Consumer
from generator.aws.deploy import parse_assignments
from generator.blocks.catalog import REVISION_OUTPUT
from generator.cli import interrupt, output
from generator.errors import ConfigError, UsageError

AWS_NOTE = "AWS settings: AWS_PROFILE, AWS_REGION (default: the catalog's primary region), AWS_ENDPOINT_URL."
WAIT_NOTE = ("While it waits, stderr shows the time waited, the record's status and each new event of the "
             "product's stack (on a terminal, one line updated in place).  --no-wait returns once Service "
             "Catalog has accepted the request, with its record id; `hipaa-catalog status NAME --watch` follows "
             "it.  Ctrl-C stops waiting (the request goes on in AWS; the message says how to follow it); a "
             "second Ctrl-C quits at once.")


def _common(p) -> None:
    p.add_argument("--region", default=None,
                   help="region of the catalog, one of catalog.regions in the settings (default: AWS_REGION, "
                        "else the catalog's primary region; example: --region us-west-2)")
    output.add_json_flag(p)


def _params(p, what: str) -> None:
    p.add_argument("-p", "--parameter", action="append", metavar="KEY=VALUE", dest="parameters",
                   help=f"{what}, repeatable (example: -p Environment=TEST -p PHI=YES)")


def _name(p) -> None:
    p.add_argument("name", metavar="NAME", help="provisioned product name (example: clinic-test)")


def _no_wait(p) -> None:
    p.add_argument("--no-wait", action="store_true",
                   help="return once the request is accepted, with its record id (follow it with "
                        "`hipaa-catalog status NAME --watch`)")


def _parser(sub, name: str, help_: str, description: str, examples: str):
    return sub.add_parser(name, help=help_, description=description + "\n\n" + AWS_NOTE,
                          epilog="examples:\n" + examples, formatter_class=argparse.RawDescriptionHelpFormatter)


def register(sub) -> None:
    p = _parser(sub, "products", "developer: list the products and versions you may launch",
                "List the products of the catalog you may launch: description, owner and support contact, and "
                "their versions (newest first) with each one's change note.  DEPRECATED versions cannot be "
                "launched any more; `default` marks what `launch` uses without --version.",
                "  hipaa-catalog products\n  hipaa-catalog products --parameters     with each parameter's "
                "description, default and allowed values\n  hipaa-catalog products --json")
    p.add_argument("--parameters", action="store_true",
                   help="also list the default version's parameters: description, default, allowed values "
                        "(example: products --parameters)")
    _common(p)
    p.set_defaults(func=run_products)

    p = _parser(sub, "launch", "developer: launch a product and wait for its outputs",
                "Launch PRODUCT as a provisioned product called NAME.  The parameters are checked against the "
                "version's constraints before anything is sent to AWS; a bad value is refused with the "
                "constraint's description.  For the web server, the CodeCommitRepo repository must exist "
                "(checked with your credentials), AmiVersion is pinned to the current version of the "
                "administrator's AMI setting and Revision to the commit of the repository's default branch "
                "(or the commit of -p Revision=BRANCH).  Waits until the launch finishes and prints the "
                "outputs, including CompliantWebsiteURL.  " + WAIT_NOTE,
                "  hipaa-catalog launch healthcare-web-server --name clinic-test \\\n"
                "      -p FriendlyName=clinic-test -p Environment=TEST -p PHI=YES -p WebDirectory=clinic \\\n"
                "      -p CodeCommitRepo=https://git-codecommit.us-east-1.amazonaws.com/v1/repos/clinic \\\n"
                "      -p InstanceOwnerEmail=dev@example.org -p InstanceType=t3.micro\n"
                "  hipaa-catalog launch healthcare-web-server --name clinic-test --version 1.0.0 -p ...\n"
                "  hipaa-catalog launch healthcare-web-server --name clinic-test --no-wait -p ...   then:\n"
                "  hipaa-catalog status clinic-test --watch")
    p.add_argument("product", metavar="PRODUCT", help="product name as `products` lists it "
                   "(example: healthcare-web-server)")
    p.add_argument("--name", required=True, help="name of the provisioned product, unique in the account "
                   "(example: --name clinic-test)")
    p.add_argument("--version", default=None, help="version to launch (default: the newest one not DEPRECATED; "
                   "example: --version 1.0.0)")
    _params(p, "a launch parameter")
    _no_wait(p)
    _common(p)
    p.set_defaults(func=run_launch)

    p = _parser(sub, "status", "developer: show a provisioned product (or list yours)",
                "Show the state of provisioned product NAME, explained (AVAILABLE, UNDER_CHANGE, TAINTED, ERROR, "
                "PLAN_IN_PROGRESS), its product, its version (and whether it is DEPRECATED or hidden) and its "
                "outputs; without NAME, list your provisioned products.  With --watch, first follow NAME's last "
                "request (a launch, update, release or terminate, e.g. one made with --no-wait or left by "
                "Ctrl-C) until it ends, with its progress on stderr.",
                "  hipaa-catalog status clinic-test\n  hipaa-catalog status clinic-test --watch\n"
                "  hipaa-catalog status --json")
    p.add_argument("name", metavar="NAME", nargs="?", help="provisioned product name (example: clinic-test)")
    p.add_argument("--watch", action="store_true",
                   help="wait for NAME's last request to end, showing its progress (example: status clinic-test "
                        "--watch)")
    _common(p)
    p.set_defaults(func=run_status)

    p = _parser(sub, "update", "developer: move a provisioned product to another version or parameters",
                "Update provisioned product NAME to --version (default: its current version).  Parameters not "
                "given keep their previous values; given ones are checked against the version's constraints "
                "first.  An update to a DEPRECATED version is allowed (existing launches may keep it).  " + WAIT_NOTE,
                "  hipaa-catalog update clinic-test --version 1.1.0\n"
                "  hipaa-catalog update clinic-test -p InstanceType=t3.small\n"
                "  hipaa-catalog update clinic-test -p InstanceType=t3.small --no-wait --json")
    _name(p)
    p.add_argument("--version", default=None, help="version to move to (example: --version 1.1.0)")
    _params(p, "a parameter to change")
    _no_wait(p)
    _common(p)
    p.set_defaults(func=run_update)

    p = _parser(sub, "release", "developer: serve another commit of the web server's repository",
                "Update provisioned product NAME (a healthcare-web-server) to serve REVISION of its repository: "
                "a branch, a full commit id, or HEAD (the repository's default branch) is resolved to the commit "
                "it is now, and the product is updated with Revision=<that commit> (its version and other "
                "parameters kept).  cfn-hup on the instance fetches the repository and checks that commit out, "
                "force-pushes included; the SiteRevision output names it, and Service Catalog's record history "
                "(`hipaa-catalog history NAME`) keeps when each release was made.  " + WAIT_NOTE,
                "  hipaa-catalog release clinic-test --revision main\n"
                "  hipaa-catalog release clinic-test --revision main --no-wait\n"
                "  hipaa-catalog release clinic-test --revision 3f1c0e9d0b5c4e0a8f6d2b7a9c1e4f5a6b7c8d9e\n"
                "  hipaa-catalog release clinic-test --json          the default branch's newest commit")
    _name(p)
    p.add_argument("--revision", default=sites.HEAD, help="branch, full commit id, or HEAD (default: HEAD, the "
                   "repository's default branch; example: --revision main)")
    _no_wait(p)
    _common(p)
    p.set_defaults(func=run_release)

    p = _parser(sub, "history", "developer: the requests made on a provisioned product (audit evidence)",
                "List the Service Catalog records of provisioned product NAME, newest first: the launch, every "
                "update and release, with when each was made, its status, the version and, for the web server, "
                "the revision it serves (its SiteRevision output).  A record does not name who made it; "
                "CloudTrail's UpdateProvisionedProduct events do.",
                "  hipaa-catalog history clinic-test\n  hipaa-catalog history clinic-test --json")
    _name(p)
    _common(p)
    p.set_defaults(func=run_history)

    p = _parser(sub, "terminate", "developer: terminate a provisioned product and wait",
                "Terminate provisioned product NAME (its stack and resources are deleted) and wait until done.  "
                "You are asked first (--yes skips the question; without a terminal, --yes is required).  "
                "A PROD web server's load balancer has deletion protection: it is turned off first, by an update "
                "through Service Catalog (LoadBalancerDeletionProtection output true), which is always waited "
                "for; --no-wait applies to the termination.  " + WAIT_NOTE,
                "  hipaa-catalog terminate clinic-test               asks first\n"
                "  hipaa-catalog terminate clinic-test --yes --json\n"
                "  hipaa-catalog terminate clinic-test --yes --no-wait")
    _name(p)
    p.add_argument("--yes", "-y", action="store_true",
                   help="terminate without asking (example: hipaa-catalog terminate clinic-test --yes)")
    _no_wait(p)
    _common(p)
    p.set_defaults(func=run_terminate)


def _progress(args):
    return output.quiet if args.json else output.progress


def _region(args) -> str:
    """The region to use, checked against the catalog's regions before any AWS call."""
    settings = catalog_settings.load(args.settings)
    return settings.require_region(args.region or aws.default_region() or settings.primary_region, args.command)


def _consumer(args) -> Consumer:
    return Consumer(_region(args), progress=_progress(args))


def _site(args, consumer: Consumer) -> sites.Site:
    return sites.Site(_region(args), ssm_prefix=catalog_settings.load(args.settings).ssm_prefix,
                      progress=consumer.progress, check_stop=consumer.check_stop)


@contextmanager
def _waiting(args, what: str) -> Iterator[Consumer]:
    """The consumer of a command that makes requests and waits: progress on stderr (``output.Waiting``), and
    Ctrl-C handled (``interrupt.first_stops``; the consumer says what was done and what to do next)."""
    waiting = output.Waiting(quiet=args.json)
    consumer: Consumer | None = None

    def last_words() -> str:
        return consumer.last_words() if consumer else "nothing was sent; run the same command again"

    with interrupt.first_stops(what, grace=interrupt.GRACE, last_words=last_words) as stop:
        consumer = Consumer(_region(args), progress=waiting.line, status=waiting.status, stop=stop)
        try:
            yield consumer
        finally:
            waiting.end()


def _print_outputs(outputs: dict) -> None:
    if outputs:
        print(output.table(["output", "value"], sorted(outputs.items())))
    url = outputs.get("CompliantWebsiteURL")
    if url:
        print(f"\nCompliantWebsiteURL: {url}")


def run_products(args) -> int:
    catalog = _consumer(args).catalog(with_parameters=args.parameters)
    if args.json:
        output.emit_json({"products": catalog})
        return 0
    if not catalog:
        print("no products are shared with you (ask the administrators to add you to HealthcareDeveloper)")
        return 0
    for n, p in enumerate(catalog):
        print(("\n" if n else "") + output.wrap(p["description"] or "(no description)", "    ", f"{p['name']}: "))
        print(f"  owner: {p['owner'] or '-'}" + (f"; distributor: {p['distributor']}" if p["distributor"] else ""))
        support = [v for v in (p["support"]["email"], p["support"]["url"], p["support"]["description"]) if v]
        for i, item in enumerate(support):
            print(output.wrap(item, " " * 11, " " * 11 if i else "  support: "))
        print("  versions (newest first):")
        for v in p["versions"]:
            mark = "DEPRECATED" if v["deprecated"] else ("default" if v["default"] else "")
            print(output.wrap(v["change_note"] or "(no change note)", " " * 24, f"    {v['version']:<8} {mark:<10} "))
        if p.get("parameters"):
            print(f"  parameters of version {p['parameters_version']} (the default one):")
            for spec in p["parameters"]:
                print(_parameter_text(spec))
    return 0


def _parameter_text(spec: dict) -> str:
    """One parameter for people: name, required or default, description, what is allowed."""
    lines = [f"    {spec['key']}  " + ("required" if spec["required"] else f"default: {spec['default'] or '(empty)'}")]
    if spec["description"]:
        lines.append(output.wrap(spec["description"], " " * 8))
    allowed = _allowed(spec)
    if allowed:
        lines.append(output.wrap(allowed, " " * 17, " " * 8 + "allowed: "))
    return "\n".join(lines)


def _allowed(spec: dict) -> str:
    """What a parameter accepts, in words: its AllowedValues, else its ConstraintDescription (the words
    the template gives for its AllowedPattern; the pattern itself is in --json), else the pattern; then
    its lengths and number range (CloudFormation's parameter constraints)."""
    parts = []
    if spec["allowed_values"]:
        parts.append(", ".join(spec["allowed_values"]))
    elif spec["constraint_description"]:
        parts.append(spec["constraint_description"])
    elif spec["allowed_pattern"]:
        parts.append(f"matching {spec['allowed_pattern']}")
    low, high = spec["min_length"], spec["max_length"]
    if high is not None:
        parts.append(f"{low} to {high} characters" if low else f"at most {high} characters")
    elif low:
        parts.append(f"at least {low} characters")
    if spec["min_value"] is not None or spec["max_value"] is not None:
        parts.append(f"numbers from {_num(spec['min_value'])} to {_num(spec['max_value'])}")
    return "; ".join(parts)


def _num(value) -> str:
    if value is None:
        return "any"
    return str(int(value)) if float(value).is_integer() else str(value)


def run_launch(args) -> int:
    with _waiting(args, f"the launch of {args.name}") as c:
        result = c.provision(args.product, args.name, parse_assignments(args.parameters), args.version,
                             prepare=_site(args, c).prepare, wait=not args.no_wait)
    return _result(args, result, f"launched {result['product']} {result['version']} as {args.name}")


def run_update(args) -> int:
    with _waiting(args, f"the update of {args.name}") as c:
        result = sites.update(c, _site(args, c), args.name, args.version, parse_assignments(args.parameters),
                              wait=not args.no_wait)
    return _result(args, result, f"updated {args.name} to {result['product']} {result['version']}")


def run_release(args) -> int:
    with _waiting(args, f"the release to {args.name}") as c:
        result = sites.release(c, _site(args, c), args.name, args.revision, wait=not args.no_wait)
    source = f" ({result['branch']})" if result["branch"] else ""
    return _result(args, result, f"released {result['revision']}{source} to {args.name} "
                                 f"(it served {result['previous_revision']})")


def run_history(args) -> int:
    records = _consumer(args).record_history(args.name)
    if args.json:
        output.emit_json({"name": args.name, "records": records})
        return 0
    print(output.table(["created", "request", "status", "version", "revision"], [
        (r["created"], r["record_type"], r["status"], r["version"], r["outputs"].get(REVISION_OUTPUT, ""))
        for r in records]) if records else f"{args.name}: no records")
    return 0


def run_terminate(args) -> int:
    if not args.yes and not _confirm_terminate(args):
        return 1
    with _waiting(args, f"the termination of {args.name}") as c:
        result = sites.terminate(c, args.name, progress=c.progress, wait=not args.no_wait)
    return _result(args, result, f"terminated {args.name}")


def _confirm_terminate(args) -> bool:
    """Ask before terminating; without a terminal there is no one to ask: refused, naming --yes."""
    pp = _consumer(args).describe_provisioned_product(args.name)   # a clear "not found" before the question
    if not output.is_terminal():
        raise ConfigError(f"terminate {args.name}: not confirmed: standard input is not a terminal, so there is "
                          "no one to ask", hint=f"add --yes to terminate it without being asked: hipaa-catalog "
                                                f"terminate {args.name} --yes")
    if output.ask(f"terminate {args.name} ({pp.get('Status', '')}): its stack and resources are deleted. "
                  "Continue? [y/N] "):
        return True
    print(f"{args.name}: not terminated; nothing changed", file=sys.stderr)
    return False


def _result(args, result: dict, headline: str) -> int:
    if args.no_wait:
        follow = f"hipaa-catalog status {args.name} --watch"
        if args.json:
            output.emit_json({**result, "next_step": follow})
            return 0
        print(f"{args.name}: {result['record_type']} requested: record {result['record_id']} {result['status']}")
        print(f"next: follow it with `{follow}`")
        return 0
    if args.json:
        output.emit_json(result)
        return 0
    print(f"{headline}: {result['status']}")
    _print_outputs(result["outputs"])
    return 0


def run_status(args) -> int:
    if args.watch:
        _watch(args)
    c = _consumer(args)
    if args.name is None:
        items = c.provisioned_products()
        if args.json:
            output.emit_json({"provisioned_products": items})
            return 0
        print(output.table(["name", "status", "product", "version", "created"],
                           [(i["name"], i["status"], i["product"], i["version"], i["created"]) for i in items])
              if items else "no provisioned products")
        meanings = {i["status"]: i["status_meaning"] for i in items
                    if i["status"] != "AVAILABLE" and i["status_meaning"]}
        for status, meaning in sorted(meanings.items()):
            print(output.wrap(meaning, "    ", f"  {status}: "))
        return 0
    st = c.status(args.name)
    if args.json:
        output.emit_json(st)
        return 0
    print(output.wrap(st["status_meaning"] or "(no explanation known)", "    ", f"{st['name']}: {st['status']}: "))
    if st["status_message"]:
        print(output.wrap(st["status_message"], "    ", "  message: "))
    print(f"  product: {st['product']}")
    print(output.wrap(_version_text(st), "    ", "  version: "))
    print(f"  created: {st['created']}")
    _print_outputs(st["outputs"])
    return 0


def _version_text(st: dict) -> str:
    """The version and, when it is deprecated or hidden, what that means and where to go."""
    if not st["deprecated"]:
        return st["version"]
    what = ("hidden by the catalog administrators (no longer listed; it cannot be launched)" if st["hidden"] else
            "DEPRECATED (no new launches; this one may keep it)")
    newer = (f"; move to {st['newest_version']} with `hipaa-catalog update {st['name']} --version "
             f"{st['newest_version']}`" if st["newest_version"] and st["newest_version"] != st["version"] else "")
    return f"{st['version']}, {what}{newer}"


def _watch(args) -> None:
    """Follow NAME's last request until it ends (``status --watch``)."""
    if args.name is None:
        raise UsageError("status --watch needs NAME: the provisioned product to follow",
                         hint="example: hipaa-catalog status clinic-test --watch")
    with _waiting(args, f"watching {args.name}") as c:
        c.follow(args.name)
