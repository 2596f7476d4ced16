"""The GitHub Actions workflows: actionlint finds nothing, and they do what the pipeline promises.

actionlint comes from requirements.txt (a wheel with the binary inside). When shellcheck is on PATH it
also checks the `run:` scripts; without it those are skipped, which is fine here.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from golive.cli import _parser

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")


def actionlint() -> str:
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.exists() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is not installed: `make setup` (requirements.txt) installs it")
    return found


def lint(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([actionlint(), "-no-color", "-oneline", *map(str, files)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    [step] = [s for s in steps(job) if str(s.get("uses", "")).startswith(action + "@")]
    return step


def golive_commands(workflow: dict[str, Any]) -> list[str]:
    return [line.strip() for job in workflow["jobs"].values() for s in steps(job)
            for line in str(s.get("run", "")).splitlines() if "python -m golive" in line]


def test_actionlint_finds_nothing():
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert {f.name for f in files} >= {"golive.yml", "golive-audit.yml"}
    done = lint(*files)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_actionlint_would_catch_a_broken_workflow(tmp_path):
    # The mistake the preview job is built to avoid: a job-level `if` cannot read secrets.
    broken = (WORKFLOWS / "golive.yml").read_text().replace(
        "if: ${{ needs.pulumi-credentials.outputs.configured == 'true' }}",
        "if: ${{ secrets.PULUMI_ACCESS_TOKEN != '' }}",
    )
    assert broken != (WORKFLOWS / "golive.yml").read_text()
    (tmp_path / "golive.yml").write_text(broken)
    done = lint(tmp_path / "golive.yml")
    assert done.returncode == 1 and 'context "secrets" is not allowed here' in done.stdout


def test_every_action_is_pinned_to_a_major_version_at_least():
    for path in WORKFLOWS.glob("*.y*ml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in steps(job):
                if "uses" in step:
                    assert PINNED.match(step["uses"]), f"{path.name}: {step['uses']} is not pinned"


def test_pull_requests_run_golive_check_per_stack_and_upload_even_when_it_fails():
    workflow = load("golive.yml")
    assert "pull_request" in triggers(workflow)
    assert workflow["permissions"] == {"contents": "read"}
    check = workflow["jobs"]["check"]
    assert check["strategy"]["matrix"]["stack"] == ["production", "staging"]
    assert check["permissions"] == {"contents": "read", "security-events": "write", "pull-requests": "read",
                                    "actions": "read"}
    assert "make setup" in str(steps(check))

    [sarif_step] = [s for s in steps(check) if "--format sarif" in str(s.get("run", ""))]
    assert "continue-on-error" not in sarif_step  # a mandatory finding fails the job...
    upload = step_using(check, "github/codeql-action/upload-sarif")
    assert re.search(r"always\(\)|!cancelled\(\)", upload["if"])  # ...and its findings still reach code scanning
    assert steps(check).index(upload) > steps(check).index(sarif_step)
    assert "matrix.stack" in upload["with"]["category"] and "matrix.stack" in upload["with"]["sarif_file"]

    [summary] = [s for s in steps(check) if "GITHUB_STEP_SUMMARY" in str(s.get("run", ""))]
    assert "--format markdown" in summary["run"] and "cancelled()" in summary["if"]


def test_the_pulumi_preview_runs_only_where_credentials_are_configured():
    workflow = load("golive.yml")
    gate, preview = workflow["jobs"]["pulumi-credentials"], workflow["jobs"]["preview"]
    assert "secrets.PULUMI_ACCESS_TOKEN" in str(steps(gate))
    assert preview["needs"] == "pulumi-credentials"
    assert "needs.pulumi-credentials.outputs.configured == 'true'" in preview["if"]
    pulumi = step_using(preview, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["policyPacks"] == "policies"
    assert "matrix.stack" in pulumi["with"]["stack-name"]
    assert preview["permissions"]["id-token"] == "write"


def test_the_audit_runs_on_a_schedule_and_after_deploys():
    workflow = load("golive-audit.yml")
    on = triggers(workflow)
    assert on["schedule"][0]["cron"] and "workflow_dispatch" in on
    assert on["workflow_run"]["types"] == ["completed"]
    audit = workflow["jobs"]["audit"]
    assert "workflow_run.conclusion == 'success'" in audit["if"]
    assert audit["permissions"] == {"contents": "read", "id-token": "write"}
    aws = step_using(audit, "aws-actions/configure-aws-credentials")
    assert "vars." in aws["with"]["role-to-assume"]
    [command] = golive_commands(workflow)
    assert "--format junit" in command and "--stack" in command


@pytest.mark.parametrize("name", ["golive.yml", "golive-audit.yml"])
def test_the_golive_commands_in_the_workflows_parse(name):
    commands = golive_commands(load(name))
    assert commands
    for command in commands:
        words = shlex.split(command.split("||")[0].replace("$STACK", "production"))
        words = words[words.index("golive") + 1:]
        _parser().parse_args(words)  # exits (SystemExit) on an unknown flag or a bad choice
