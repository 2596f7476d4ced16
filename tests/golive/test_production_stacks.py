"""A production stack is recognised by what it is, through `golive check` and the real pack over gRPC,
and every report says which signal made it production."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from golive import cli
from golive.analysis import policyconfig
from golive.analysis.analyzer import AnalyzerSession
from golive.analysis.findings import build_result
from golive.packfolder import PACK_DIR
from golive.preview.program import run_program

ROOT = Path(__file__).resolve().parents[2]
PLAIN = ROOT / "tests" / "fixtures" / "programs" / "cio_plain"


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    """A copy of this repository's example whose production stack is called prd, live and main."""
    project = tmp_path_factory.mktemp("example")
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).write_bytes((ROOT / name).read_bytes())
    for name in ("components", "policies", ".venv"):
        os.symlink(ROOT / name, project / name)
    for stack in ("prd", "live", "main"):
        (project / f"Pulumi.{stack}.yaml").write_bytes((ROOT / "Pulumi.production.yaml").read_bytes())
    return project


KEYS_ADVICE = ("customerio-production-keys-distinct", "advisory")


def check(capsys, program: Path, stack: str, *argv: str) -> tuple[int, dict]:
    """The report, without the advice every production stack here gets that no staging fingerprints were
    given to compare its keys with (tests/policies/test_credentials.py covers it)."""
    code = cli.main(["check", str(program), "--stack", stack, "--format", "json", *argv])
    report = json.loads(capsys.readouterr().out)
    report["policyEvents"] = [e for e in report["policyEvents"]
                              if (e["policyName"], e["enforcementLevel"]) != KEYS_ADVICE]
    return code, report


@pytest.mark.parametrize(("stack", "signal"), [
    ("prd", "its name prd matches 'prd'"),
    ("live", "its name live matches 'live'"),
    ("main", "its config golive:environment is 'production'"),
])
def test_the_example_blocks_a_120_day_rotation_whatever_its_production_stack_is_called(example, stack, signal,
                                                                                        capsys):
    code, report = check(capsys, example, stack, "--config", "golive:rotationDays=120")
    assert code == 1
    events = report["policyEvents"]
    assert {(e["policyName"], e["enforcementLevel"]) for e in events} == {("customerio-secret-rotation", "mandatory")}
    for e in events:
        assert e["production"] == {"production": True, "signal": signal}
        assert e["message"].splitlines()[1] == f"[production: {signal}]"  # under the policy's description


@pytest.mark.parametrize(("fmt", "expected"), [
    ("text", "[production: its config golive:environment is 'production']"),
    ("markdown", "**Production**: its config golive:environment is 'production'<br>"),
    ("sarif", "[production: its config golive:environment is 'production']"),
])
def test_every_report_says_which_signal_made_the_stack_production(example, fmt, expected, capsys):
    code = cli.main(["check", str(example), "--stack", "main", "--config", "golive:rotationDays=120",
                     "--format", fmt])
    assert code == 1
    assert expected in capsys.readouterr().out


@pytest.mark.parametrize(("overrides", "signal"), [
    (["cio-plain:secretName=customerio/production/{kind}"],
     "its credential secret customerio/production/app-api-key is named for environment 'production'"),
    (['cio-plain:secretTags={"Environment": "prod"}'], "its credential secret prod/customerio/app-api-key is tagged "
                                                       "Environment=prod"),
    ([], None),
    (["cio-plain:secretName=customerio/staging/{kind}", 'cio-plain:secretTags={"environment": "staging"}'], None),
])
def test_credential_secrets_say_which_environment_a_stack_is(overrides, signal, capsys):
    argv = ["--config", "cio-plain:break=flag-25"] + [a for o in overrides for a in ("--config", o)]
    code, report = check(capsys, PLAIN, "main", *argv)
    [event] = report["policyEvents"]
    assert event["policyName"] == "rollout-flag-stage"
    if signal is None:
        assert (code, event["enforcementLevel"], "production" in event) == (0, "advisory", False)
    else:
        assert (code, event["enforcementLevel"]) == (1, "mandatory")
        assert event["production"] == {"production": True, "signal": signal}


def _levels(graph, tags: dict[str, str]) -> set[tuple[str, str, str]]:
    with AnalyzerSession.start(PACK_DIR, graph, tags=tags) as session:
        config = policyconfig.reconcile(session.info, None)
        result = build_result(graph, session.info, session.run(config))
    return {(f.policy_name, f.enforcement_level, f.production.signal if f.production else "") for f in result.findings
            if (f.policy_name, f.enforcement_level) != KEYS_ADVICE}


def test_a_stack_tag_makes_a_stack_production():
    graph = run_program(PLAIN, "main", config_overrides=["cio-plain:break=flag-25"])
    assert _levels(graph, {"environment": "production"}) == {
        ("rollout-flag-stage", "mandatory", "its stack tag environment is 'production'")}
    assert _levels(graph, {"golive:environment": "Production"}) == {
        ("rollout-flag-stage", "mandatory", "its stack tag golive:environment is 'Production'")}
    assert _levels(graph, {"pulumi:project": "prod", "environment": "staging"}) == {
        ("rollout-flag-stage", "advisory", "")}


def flag_25(capsys, tmp_path: Path, stack: str, pack_config: dict) -> tuple[int, dict]:
    """The one event of cio_plain's out-of-plan rollout flag, on `stack`, under `pack_config`."""
    config = tmp_path / "policy.json"
    config.write_text(json.dumps(pack_config))
    code, report = check(capsys, PLAIN, stack, "--config", "cio-plain:break=flag-25", "--policy-pack-config",
                         str(config))
    [event] = report["policyEvents"]
    assert event["policyName"] == "rollout-flag-stage"
    return code, event


def test_production_stacks_wins_both_ways(tmp_path, capsys):
    # Set under one policy, the list is the stack's, for every policy.
    listed = {"customerio-region": {"productionStacks": ["cio-plain/main"]}}
    code, event = flag_25(capsys, tmp_path, "main", listed)
    assert (code, event["enforcementLevel"]) == (1, "mandatory")
    assert event["production"] == {"production": True, "signal": "productionStacks lists it"}

    code, event = flag_25(capsys, tmp_path, "production", listed)
    assert (code, event["enforcementLevel"]) == (0, "advisory")
    why = "productionStacks does not list it, although its name production matches 'production'"
    assert event["production"] == {"production": False, "signal": why}
    assert f"[not production: {why}]" in event["message"]


def test_production_stack_patterns_still_name_production_stacks(tmp_path, capsys):
    code, event = flag_25(capsys, tmp_path, "blue-1", {"rollout-flag-stage": {"productionStackPatterns": ["blue-*"]}})
    assert (code, event["enforcementLevel"]) == (1, "mandatory")
    assert event["production"]["signal"] == "its name blue-1 matches 'blue-*'"
