"""How the command reports errors: one line for people, a JSON object with --json, --debug anywhere."""

from __future__ import annotations

import json
import subprocess

from generator.cli.main import main

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_with_json_an_error_is_a_json_object_on_stdout_with_the_same_exit_code(capsys, tmp_path):
    missing = tmp_path / "missing.yaml"
    assert main(["lint", str(missing), "--json"]) == 2
    out, err = capsys.readouterr()
    assert err == ""
    error = json.loads(out)["error"]
    assert error["code"] == "ConfigError" and str(missing) in error["message"] and error["hint"]


def test_a_usage_error_is_json_too_and_one_line_for_people(capsys):
    assert main(["launch", "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "UsageError" and "--name" in error["message"]
    assert main(["launch"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("usage: hipaa-catalog launch")
    assert err.strip().splitlines()[-1].startswith("hipaa-catalog: error: the following arguments are required")


def test_debug_works_after_the_subcommand(capsys, tmp_path):
    assert main(["lint", str(tmp_path / "missing.yaml"), "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.rstrip().splitlines()[-1].startswith("hipaa-catalog: error:")


def test_make_help_writes_no_colour_codes_into_a_pipe():
    done = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True)
    assert "\033[" not in done.stdout and "  build " in done.stdout
