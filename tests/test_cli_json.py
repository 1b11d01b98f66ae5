"""The one JSON style of ``hipaa-catalog --json``, command by command, against the local AWS endpoint over HTTP.

Every command prints one JSON object on stdout whose keys are snake_case; the only other keys are names
that are data (an output's, a parameter's, a region's, a file's or a citation's name), under the fields
listed in ``NAMED``.  README.md ("JSON output") documents each command's top-level keys: ``SHAPES`` here
is that list, and the test reads it back out of the README, so the two cannot drift apart.  An error is
``{"error": {"code", "message", "hint"}}`` on stdout with the exit code the command has without --json.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import uuid
from pathlib import Path

import pytest

from generator.aws import api as aws
from generator.aws.publish import template_url
from generator.cli import main as cli
from generator.pipeline import manifest as manifests
from tests.test_cli_e2e import GOOD, PROBE, add_probe_product

pytestmark = [pytest.mark.aws, pytest.mark.slow]
REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[1]
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# Fields whose keys are names (data), with how many levels of such keys they hold.
NAMED = {"outputs": 1, "parameters": 1, "given": 1, "citations": 2, "not_applicable": 1, "files": 1,
         "regions": 1, "tools": 1, "by_operation": 1, "targets": 1, "baseline": 1, "log_replica": 1, "launch_role": 1,
         "portfolio_visible": 1, "create_instances": 1, "delete_instances": 1}
# Each command's top-level keys (README.md, "JSON output", lists the same).
SHAPES = {
    "build": {"catalog", "regions", "linted_regions", "ssm_prefix", "cfn_lint_version", "sources_sha256", "products"},
    "lint": {"regions", "files", "blocking"},
    "report": {"reports", "catalog", "pdf"},
    "publish": {"catalog", "account", "launch_role_arn", "principals", "dry_run", "seconds", "calls", "interrupted",
                "ok", "regions", "actions"},
    "deploy-baseline": {"product", "version", "region", "stack_name", "change_set_type", "change_set_id", "changes",
                        "parameters", "decisions", "executed", "status", "outputs", "next_steps"},
    "doctor": {"region", "ready", "checks"},
    "products": {"products"},
    "launch": {"name", "product", "version", "record_id", "record_type", "status", "provisioned_product_id",
               "outputs"},
    "status": {"name", "id", "type", "status", "status_meaning", "status_message", "product", "product_id",
               "version", "version_id", "created", "last_record_id", "deprecated", "hidden", "newest_version",
               "outputs"},
    "status (list)": {"provisioned_products"},
    "history": {"name", "records"},
    "deploy-baseline --organization": {"product", "version", "region", "organization", "accounts", "stack_sets",
                                       "executed", "operations"},
    "accounts": {"organization", "management_account", "hub_account", "regions", "targets",
                 "service_catalog_access", "drift_detection", "accounts"},
    "error": {"error"},
}
SHAPES["deploy-launch-role"] = SHAPES["deploy-baseline"]
SHAPES["deploy-launch-role --organization"] = SHAPES["deploy-baseline --organization"]
SHAPES["update"] = SHAPES["launch"]
SHAPES["release"] = SHAPES["launch"] | {"revision", "named", "branch", "previous_revision"}
SHAPES["terminate"] = SHAPES["launch"] | {"deletion_protection_turned_off"}


def bad_keys(data, path: str = "$", named: int = 0) -> list[str]:
    """Every key of ``data`` that is not snake_case, outside the named fields (``NAMED``)."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            if not named and not SNAKE.match(str(key)):
                found.append(f"{path}.{key}")
            levels = max(named - 1, 0) if named else NAMED.get(key, 0)
            found += bad_keys(value, f"{path}.{key}", levels)
    elif isinstance(data, list):
        for n, item in enumerate(data):
            found += bad_keys(item, f"{path}[{n}]", named)
    return found


def check(command: str, data) -> dict:
    """``data`` has the documented top-level keys of ``command`` and snake_case keys throughout."""
    assert isinstance(data, dict), (command, data)
    assert set(data) == SHAPES[command], (command, sorted(set(data) ^ SHAPES[command]))
    assert bad_keys(data) == [], (command, bad_keys(data))
    return data


def run_json(*argv: str, capsys) -> tuple[int, dict, str]:
    capsys.readouterr()
    code = cli.main([*argv, "--json"])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def test_the_readme_documents_every_commands_shape():
    """README.md's "JSON output" section names each command and its top-level keys as SHAPES has them, and
    SHAPES has every subcommand."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## JSON output", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for line in section.splitlines():
        m = re.match(r"^\| `([a-z -]+(?: \(list\))?)` \| (.+?) \|", line)
        if m and m.group(1) in SHAPES:
            top = re.sub(r"\([^()]*(\([^()]*\)[^()]*)*\)", "", m.group(2))   # what a key holds is in parentheses
            documented[m.group(1)] = set(re.findall(r"`([a-z0-9_]+)`", top))
    assert documented == SHAPES
    (subcommands,) = [a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(subcommands.choices) == {c.split(" ")[0] for c in SHAPES} - {"error"}


def test_the_checker_finds_pascal_case_keys():
    assert bad_keys({"provisioned_products": [{"Name": "x", "outputs": {"CompliantWebsiteURL": "u"}}]}) == [
        "$.provisioned_products[0].Name"]
    assert bad_keys({"citations": {"164.312(a)(1)": {"PROD, PHI=YES": "PASS"}}, "ok": True}) == []


def test_build_lint_report_json(tmp_path, built, capsys):
    out = tmp_path / "build"
    cache = manifests.BUILD_DIR / ".cache" / "lint"
    if cache.is_dir():   # current lint results save the linting (stale ones are not used)
        shutil.copytree(cache, out / ".cache" / "lint")
    code, data, err = run_json("build", "--only", "launch-role", "--out", str(out), capsys=capsys)
    assert code == 0, err
    check("build", data)
    assert [p["name"] for p in data["products"]] == ["launch-role"]

    template = built / "launch-role" / json.loads((built / "manifest.json").read_text())["products"][-1]["version"] \
        / "template.json"
    code, data, err = run_json("lint", str(template), capsys=capsys)
    assert code == 0, err
    assert check("lint", data)["blocking"] == 0

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}))
    code, data, _err = run_json("lint", str(bad), capsys=capsys)
    assert code == 1 and check("lint", data)["blocking"] > 0
    assert set(data["files"][str(bad)][0]) == {"rule", "severity", "message", "path", "logical_id", "line", "file",
                                               "scenarios"}

    code, data, err = run_json("report", "--only", "launch-role", "--out", str(out), capsys=capsys)
    assert code == 0, err
    assert [r["product"] for r in check("report", data)["reports"]] == ["launch-role"]


def release_probe(account) -> dict:
    """A product a developer can `release`: it has the web server's CodeCommitRepo and Revision parameters and
    SiteRepository and SiteRevision outputs (on a resource the local CloudFormation models), and a repository
    with a commit on main."""
    sess = account["session"]
    cc, s3, sc = aws.client(sess, "codecommit"), aws.client(sess, "s3"), aws.client(sess, "servicecatalog")
    url = cc.create_repository(repositoryName="release-probe-site")["repositoryMetadata"]["cloneUrlHttp"]
    commit = cc.put_file(repositoryName="release-probe-site", branchName="main", filePath="index.html",
                         fileContent=base64.b64encode(b"hello"), commitMessage="first")["commitId"]
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"CodeCommitRepo": {"Type": "String"}, "Revision": {"Type": "String", "Default": "HEAD"}},
        "Resources": {"Site": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": "/release-probe/revision", "Type": "String", "Value": {"Ref": "Revision"}}}},
        "Outputs": {"SiteRepository": {"Value": {"Ref": "CodeCommitRepo"}},
                    "SiteRevision": {"Value": {"Ref": "Revision"}}},
    }
    bucket = aws.client(sess, "ssm").get_parameter(Name="/hipaa-catalog/catalog/template-bucket")["Parameter"]["Value"]
    key = f"release-probe/1.0.0/{uuid.uuid4().hex}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(template).encode(),
                  Tagging="servicecatalog:provisioning=true")
    product = sc.create_product(Name="release-probe", Owner="tests", ProductType="CLOUD_FORMATION_TEMPLATE",
                                ProvisioningArtifactParameters={
                                    "Name": "1.0.0", "Type": "CLOUD_FORMATION_TEMPLATE",
                                    "Info": {"LoadTemplateFromURL": template_url(bucket, REGION, key)}})
    pid = product["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    sc.associate_product_with_portfolio(ProductId=pid, PortfolioId=sc.list_portfolios()["PortfolioDetails"][0]["Id"])
    return {"url": url, "commit": commit}


def test_every_aws_command_json(account, hc, capsys):
    """deploy-*, publish, doctor and every developer command, each run with --json on the local endpoint."""
    built = account["built"]
    check("deploy-baseline", account["baseline"])
    check("deploy-launch-role", account["launch_role"])
    code, data, err = hc("publish", "--out", str(built), "--region", REGION, "--dry-run")
    assert code == 0, err
    assert check("publish", data)["dry_run"] is True
    code, data, _err = hc("doctor", "--region", REGION)   # the test network has no routes: not ready, exit 1
    assert code == 1 and check("doctor", data)["ready"] is False

    add_probe_product(account)
    repo = release_probe(account)
    code, data, err = hc("products", "--region", REGION, "--parameters")
    assert code == 0, err
    check("products", data)
    code, data, err = hc("launch", PROBE, "--name", "clinic", "--region", REGION, *GOOD)
    assert code == 0, err
    check("launch", data)
    code, data, err = hc("update", "clinic", "--region", REGION, "-p", "Environment=PROD")
    assert code == 0, err
    check("update", data)
    code, data, err = hc("status", "clinic", "--region", REGION)
    assert code == 0, err
    assert check("status", data)["status"] == "AVAILABLE"
    code, data, err = hc("history", "clinic", "--region", REGION)
    assert code == 0, err
    assert [r["record_type"] for r in check("history", data)["records"]] == [
        "UPDATE_PROVISIONED_PRODUCT", "PROVISION_PRODUCT"]

    code, data, err = hc("launch", "release-probe", "--name", "site", "--region", REGION,
                         "-p", f"CodeCommitRepo={repo['url']}")
    assert code == 0 and data["outputs"]["SiteRevision"] == repo["commit"], err
    code, data, err = hc("release", "site", "--region", REGION, "--revision", "main")
    assert code == 0, err
    assert check("release", data)["revision"] == repo["commit"]

    code, data, err = hc("status", "--region", REGION)
    assert code == 0, err
    listed = check("status (list)", data)["provisioned_products"]
    assert [(p["name"], p["product"], p["version"]) for p in listed] == [("clinic", PROBE, "1.1.0"),
                                                                         ("site", "release-probe", "1.0.0")]
    for name in ("clinic", "site"):
        code, data, err = hc("terminate", name, "--region", REGION, "--yes")
        assert code == 0, err
        check("terminate", data)


# One failing run per command: (argv, exit code); each is refused before AWS is asked, or by AWS over HTTP.
ERRORS = [
    (["build", "--only", "no-such-product"], 2),
    (["lint", "no-such-template.yaml"], 2),
    (["report", "--only", "no-such-product"], 2),
    (["publish", "--region", "eu-west-1"], 2),
    (["deploy-baseline", "--region", "eu-west-1", "--yes"], 2),
    (["deploy-launch-role", "--region", "us-west-2", "--yes"], 2),
    (["doctor", "--region", "mars-1"], 2),
    (["products", "--region", "eu-west-1"], 2),
    (["launch", PROBE, "--name", "x", "--region", "mars-1"], 2),
    (["update", "x", "--region", "eu-west-1"], 2),
    (["release", "x", "--region", "eu-west-1"], 2),
    (["history", "x", "--region", "eu-west-1"], 2),
    (["terminate", "x", "--region", "eu-west-1"], 2),
    (["status", "--region", "mars-1"], 2),
    (["status", "no-such-name", "--region", REGION], 3),
    (["launch", "--name", "x"], 2),   # a usage error: PRODUCT missing
    (["accounts"], 2),                 # the catalog settings name no [organization]
    (["deploy-baseline", "--organization", "--yes"], 2),
]


@pytest.mark.parametrize("argv,code", ERRORS, ids=[" ".join(a[:2]) for a, _ in ERRORS])
def test_every_command_reports_an_error_as_json_with_the_same_exit_code(aws_env, built, capsys, argv, code):
    args = argv + (["--out", str(built)] if argv[0] in ("deploy-baseline", "deploy-launch-role", "publish") else [])
    capsys.readouterr()
    assert cli.main(args) == code
    human = capsys.readouterr()
    assert human.out == "" and human.err.rstrip().splitlines()[-1].startswith("hipaa-catalog: error: ")
    got, data, err = run_json(*args, capsys=capsys)
    assert got == code and err == ""
    check("error", data)
    assert set(data["error"]) == {"code", "message", "hint"} and data["error"]["message"] and data["error"]["code"]
    assert data["error"]["message"] in human.err


def test_products_for_people_show_the_details_the_change_notes_and_each_parameters_values(account, settings, capsys):
    capsys.readouterr()
    assert cli.main(["products", "--region", REGION, "--parameters"]) == 0
    text = capsys.readouterr().out
    flat = " ".join(text.split())
    web = settings.products["healthcare-web-server"]
    for said in (web.description, web.owner, web.distributor, web.support_email, web.support_url,
                 web.support_description, web.change_note):
        assert said in flat, said
    assert "sha256" not in text and "unconfirmed" not in text
    instance_type = flat.split(" InstanceType ", 1)[1].split(" WebDirectory ", 1)[0]
    assert instance_type.startswith("default: t3.small")
    assert "t3.micro" in instance_type and "m5.4xlarge" in instance_type and "r7i.large" in instance_type
    assert "allowed: PROD, TEST" in flat.split(" Environment ", 1)[1]
    assert max(len(line) for line in text.splitlines()) <= 100


def test_status_explains_the_state_and_names_a_hidden_deprecated_version(account, hc, capsys):
    ids = add_probe_product(account)
    code, _launched, err = hc("launch", PROBE, "--name", "clinic", "--version", "1.0.0", "--region", REGION, *GOOD)
    assert code == 0, err
    # the administrators deprecate and hide 1.0.0: DescribeProduct no longer lists it for the developer
    sc = aws.client(account["session"], "servicecatalog")
    sc.update_provisioning_artifact(ProductId=ids["product_id"], ProvisioningArtifactId=ids["1.0.0"],
                                    Guidance="DEPRECATED", Active=False)
    code, st, err = hc("status", "clinic", "--region", REGION)
    assert code == 0, err
    assert (st["product"], st["version"], st["version_id"], st["deprecated"], st["hidden"], st["newest_version"]) == (
        PROBE, "1.0.0", ids["1.0.0"], True, True, "1.1.0")
    capsys.readouterr()
    assert cli.main(["status", "clinic", "--region", REGION]) == 0
    flat = " ".join(capsys.readouterr().out.split())
    assert "clinic: AVAILABLE: stable and ready for any operation" in flat
    assert "version: 1.0.0, hidden by the catalog administrators" in flat
    assert "hipaa-catalog update clinic --version 1.1.0" in flat

    # an update that fails and rolls back leaves it TAINTED, explained; the record's errors in snake_case
    account["endpoint"].set_resource_failures([{"type": "AWS::SSM::Parameter", "action": "UPDATE", "reason": "no"}])
    code, _out, err = hc("update", "clinic", "--version", "1.1.0", "--region", REGION,
                         "-p", "InstanceOwnerEmail=other@example.org")
    assert code == 3 and "UPDATE_FAILED: no" in err
    code, st, err = hc("status", "clinic", "--region", REGION)
    assert st["status"] == "TAINTED" and "rolled back" in st["status_meaning"]
    code, history, err = hc("history", "clinic", "--region", REGION)
    assert history["records"][0]["status"] == "FAILED"
    assert set(history["records"][0]["errors"][0]) == {"code", "description"}
    capsys.readouterr()
    assert cli.main(["status", "--region", REGION]) == 0
    flat = " ".join(capsys.readouterr().out.split())
    assert "clinic TAINTED probe-site 1.0.0" in flat and "TAINTED: stable and ready for any operation, but not" in flat

    # the administrators take the product out of the portfolio: status still names it, its version hidden
    portfolio = sc.list_portfolios()["PortfolioDetails"][0]["Id"]
    sc.disassociate_product_from_portfolio(ProductId=ids["product_id"], PortfolioId=portfolio)
    code, st, err = hc("status", "clinic", "--region", REGION)
    assert code == 0, err
    assert (st["product"], st["version"], st["hidden"], st["newest_version"]) == (PROBE, "1.0.0", True, "")


def test_every_provisioned_product_state_is_explained():
    """STATUS_MEANINGS covers every value of ProvisionedProductStatus in botocore's Service Catalog model."""
    import botocore.session

    from generator.aws.consumer import STATUS_MEANINGS

    model = botocore.session.get_session().get_service_model("servicecatalog")
    assert set(STATUS_MEANINGS) == set(model.shape_for("ProvisionedProductStatus").enum)


def test_an_html_answer_is_named_not_printed(aws_env, monkeypatch, capsys):
    """A web page instead of an AWS answer (a proxy, a wrong AWS_ENDPOINT_URL): botocore puts the whole page in
    the error message; the command says what answered instead, in one line."""
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = (b"<!DOCTYPE html><html><head><title>404 Not Found</title></head>"
                    b"<body><h1>Not Found</h1></body></html>")
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_port}")
    try:
        code, data, _err = run_json("products", "--region", REGION, capsys=capsys)
    finally:
        server.shutdown()
        server.server_close()
    assert code == 3
    assert data["error"]["message"] == ("SearchProducts on products: the endpoint answered HTTP 404 with a web page "
                                        "(404 Not Found), not an AWS answer")
    assert "AWS_ENDPOINT_URL" in data["error"]["hint"]
