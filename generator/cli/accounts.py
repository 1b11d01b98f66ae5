"""``hipaa-catalog accounts``: the organisation's target accounts with their stacks, portfolio and products."""

from __future__ import annotations

import argparse

from generator import settings as catalog_settings
from generator.aws import accounts
from generator.cli import output

EPILOG = """\
examples:
  hipaa-catalog accounts                  every target account: baseline, log-replica and launch-role stack instances
                                          (status, drift), whether the portfolio is visible, which product versions run
  hipaa-catalog accounts --no-products    hub-side data only: no role assumed in the member accounts
  hipaa-catalog accounts --detect-drift   run drift detection on every stack set first (progress per stack
                                          instance on stderr), wait for it, then list
  hipaa-catalog accounts --json           the same as JSON (snake_case keys)

Run it with the hub's credentials (the management account, or a delegated administrator); the settings'
[organization] names the targets.  Provisioned products are read in each account as organization.member_role
(default OrganizationAccountAccessRole).  Drift is what the last drift detection found (NOT_CHECKED before
the first); --detect-drift runs a new one on every stack set (DetectStackSetDrift) and waits for it.
"""


def register(sub) -> None:
    p = sub.add_parser("accounts", help="administrator: every account of the organisation's targets",
                       description="List every account under the settings' [organization] targets with its "
                                   "baseline, log-replica and launch-role stack-instance status and drift, whether "
                                   "the portfolio is visible there, and which versions its provisioned products run.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--no-products", action="store_true",
                   help="do not assume a role in the member accounts to list their provisioned products")
    p.add_argument("--detect-drift", action="store_true",
                   help="run drift detection on every stack set (DetectStackSetDrift) and wait for it before listing")
    output.add_json_flag(p)
    p.set_defaults(func=run)


def _instance(i: dict | None) -> str:
    if not i:
        return "none"
    drift = i["drift_status"] if i["drift_status"] not in ("", "NOT_CHECKED") else ""
    return "/".join(x for x in (i["status"], i["detailed_status"] if i["detailed_status"] != "SUCCEEDED" else "",
                                drift) if x)


def rows(data: dict) -> list[tuple]:
    out = []
    for a in data["accounts"]:
        products = ("-" if a["provisioned_products"] is None and not a["products_error"] else
                    a["products_error"] or ", ".join(f"{p['name']} {p['product']} {p['version']} ({p['region']})"
                                                     for p in a["provisioned_products"]) or "none")
        out.append((a["account_id"], a["name"], a["environment"], a["target"],
                    " ".join(f"{r}:{_instance(i)}" for r, i in a["baseline"].items()),
                    " ".join(f"{r}:{_instance(i)}" for r, i in a["log_replica"].items()),
                    " ".join(f"{r}:{_instance(i)}" for r, i in a["launch_role"].items()),
                    " ".join(f"{r}:{'yes' if v else 'no'}" for r, v in a["portfolio_visible"].items()), products))
    return out


def run(args) -> int:
    settings = catalog_settings.load(args.settings)
    data = accounts.status(settings, products=not args.no_products, detect_drift=args.detect_drift,
                           progress=output.progress)
    if args.json:
        output.emit_json(data)
        return 0
    print(f"organisation {data['organization']} (management account {data['management_account']}), hub "
          f"{data['hub_account']}, Service Catalog's Organizations access: {data['service_catalog_access']}")
    for d in data["drift_detection"]:
        drifted = sorted(f"{r['account']} {r['region']}" for r in d["results"] if r["status"] != "SUCCEEDED")
        print(f"drift detection of {d['stack_set']}: {d['status']}"
              + (f" (not checked: {', '.join(drifted)})" if drifted else ""))
    print(output.table(["account", "name", "environment", "target", "baseline", "log replica", "launch role",
                        "portfolio visible", "provisioned products"], rows(data)))
    return 0
