"""``make demo`` runs the whole workflow against a local AWS endpoint and exits 0."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_make_demo_exits_0_and_narrates_every_role(tmp_path, seed_lint):
    seed_lint(tmp_path / "build")   # the demo's build then lints nothing: the build tests do that
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "LOCAL_AWS_PORT"}
    proc = subprocess.run(["make", "--no-print-directory", "demo", f"DEMO_ARGS=--out {tmp_path / 'build'}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    for role in ("[security administrator]", "[release engineer]", "[developer]"):
        assert role in out
    for command in ("deploy-baseline", "deploy-launch-role", "publish", "launch", "update", "terminate"):
        assert f"$ hipaa-catalog {command}" in out
    urls = re.findall(r"(clinic-test|clinic-prod): SUCCEEDED, CompliantWebsiteURL = (https://\S+)", out)
    assert {name for name, _url in urls} == {"clinic-test", "clinic-prod"}
    # what it shows is what it runs: no command is shown with --json while its human output is printed
    shown = re.findall(r"^    \$ hipaa-catalog (.*)$", out, re.M)
    assert shown and not [c for c in shown if "--json" in c.split()], shown
    # the administrator's stacks print their outputs (the commands' own tables); the baseline itself created the
    # developer group
    assert re.search(r"^DeveloperGroupName +HealthcareDeveloper$", out, re.M)
    assert re.search(r"^LaunchRoleArn +arn:aws:iam::\d{12}:role/", out, re.M)
    assert "us-east-1: ready for web server launches" in out
    assert "creates the HealthcareDeveloper group" not in out  # no workaround left
    assert re.search(r"clinic-test: update SUCCEEDED, status AVAILABLE, instance i-\w+ \(same instance\)", out)
    assert "compliance.md" in out
    assert "IAM enforced: launches, updates and terminations run as the launch role" in out
    assert re.search(r"IAM: [1-9]\d* requests of the launch role evaluated, 0 refused", out)
    assert "local AWS endpoint stopped" in out
