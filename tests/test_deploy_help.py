"""The administrator commands' help names only parameters the templates declare (no AWS involved)."""

from __future__ import annotations

import re

import pytest

from generator.aws import deploy
from generator.cli import main as cli


def _help(command: str) -> str:
    sub = cli.parser([command])._subparsers._group_actions[0].choices[command]
    return sub.format_help()


@pytest.mark.parametrize("command, product", [("deploy-baseline", deploy.BASELINE),
                                              ("deploy-launch-role", deploy.LAUNCH_ROLE)])
def test_help_examples_name_real_parameters(rendered, command, product):
    text = _help(command)
    specs = rendered[product].template.get("Parameters", {})
    declared = set(specs)
    named = set(re.findall(r"-p\s+([A-Z][a-z][A-Za-z0-9]*)=", text))  # CamelCase names, not the KEY metavar
    assert named <= declared, f"{command} --help names parameters the template lacks: {sorted(named - declared)}"
    # a parameter locked to its default (an administrator setting's SSM name) is nothing to give
    settable = {k for k, spec in specs.items() if spec.get("AllowedValues") != [spec.get("Default")]}
    if settable:
        assert named, f"{command} --help shows no -p example"
    elif declared:
        assert "nothing to give" in " ".join(text.split()), f"{command} --help must say its parameters are fixed"


def test_baseline_help_names_every_parameter_it_decides(rendered):
    text = " ".join(_help("deploy-baseline").split())
    declared = set(rendered[deploy.BASELINE].template["Parameters"])
    for name in ("GlobalResources", "ConfigRecording", "LogReplicaBucketArn", "LogReplicaKeyArn"):
        assert name in declared and name in text
