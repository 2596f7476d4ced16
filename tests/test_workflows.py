"""The GitHub Actions workflows: actionlint finds nothing, and they do what the pipeline promises.

actionlint is rhysd's, pinned and built into .venv/bin by `make setup` (Makefile). When shellcheck is on
PATH it also checks the `run:` scripts; without it those are skipped, which is fine here.
"""

from __future__ import annotations

import json
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
ORG = ("golive-org-check.yml", "golive-org-audit.yml")  # the reusable ones, for the organization
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")


def actionlint() -> str:
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.exists() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is not installed: `make setup` builds it (Makefile, ACTIONLINT_VERSION)")
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
    assert {f.name for f in files} >= {"golive.yml", "golive-audit.yml", *ORG}
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


# --- the organization's reusable workflows ------------------------------------------------------------

# The merged-report command they call (issue 16 point 1): REPORT... then one format and one output file.
MERGE = re.compile(r'python -m golive merge "\$\{reports\[@\]\}" --format (\w+) -o ([\w.-]+)$')


def _version_line() -> str:
    done = subprocess.run([actionlint(), "-version"], capture_output=True, text=True, timeout=30)
    return done.stdout.splitlines()[0]


def test_actionlint_is_the_pinned_upstream_build():
    assert _version_line() == "v1.7.12"


def test_actionlint_catches_a_broken_reusable_workflow(tmp_path):
    text = (WORKFLOWS / "golive-org-check.yml").read_text()
    # A matrix fed from a job output that does not exist, and an input the caller cannot give.
    broken = text.replace("fromJSON(needs.discover.outputs.matrix)", "fromJSON(needs.discover.outputs.stacks)")
    broken = broken.replace("max-parallel: ${{ inputs.max-parallel }}", "max-parallel: ${{ inputs.parallel }}")
    assert broken.count("outputs.stacks") == 1 and "inputs.parallel" in broken
    (tmp_path / "golive-org-check.yml").write_text(broken)
    done = lint(tmp_path / "golive-org-check.yml")
    assert done.returncode == 1
    assert 'property "stacks" is not defined' in done.stdout and 'property "parallel" is not defined' in done.stdout


def test_the_org_check_is_called_discovers_fans_out_bounded_and_merges_once():
    workflow = load("golive-org-check.yml")
    call = triggers(workflow)["workflow_call"]
    assert set(call["inputs"]) == {"tree", "policy-pack-config", "max-parallel", "golive-repository", "golive-ref"}
    assert call["inputs"]["max-parallel"]["type"] == "number"
    jobs = workflow["jobs"]
    discover, check, merge = jobs["discover"], jobs["check"], jobs["merge"]
    assert "golive stacks" in str(steps(discover)) and "--format json" in str(steps(discover))
    assert discover["outputs"]["matrix"] == "${{ steps.list.outputs.matrix }}"
    strategy = check["strategy"]
    assert strategy["matrix"]["include"] == "${{ fromJSON(needs.discover.outputs.matrix) }}"
    assert strategy["max-parallel"] == "${{ inputs.max-parallel }}" and strategy["fail-fast"] is False
    [run] = [s["run"] for s in steps(check) if "golive check" in str(s.get("run", ""))]
    assert "--format json" in run and "--format sarif" in run and "--policy-pack-config" in run
    keep = step_using(check, "actions/upload-artifact")
    assert keep["if"] == "${{ !cancelled() }}"  # a stack with findings still hands in its reports
    assert steps(check).index(keep) < len(steps(check)) - 1  # ...before its verdict fails the job
    assert merge["needs"] == ["discover", "check"] and "!cancelled()" in merge["if"]
    assert merge["permissions"]["security-events"] == "write" and "security-events" not in str(check)
    [merging] = [s["run"] for s in steps(merge) if "golive merge" in str(s.get("run", ""))]
    formats = [m.groups() for line in merging.splitlines() if (m := MERGE.search(line.strip()))]
    assert formats == [("sarif", "golive.sarif"), ("markdown", "golive.md"), ("html", "golive.html")]
    assert "GITHUB_STEP_SUMMARY" in merging
    assert step_using(merge, "github/codeql-action/upload-sarif")["with"]["sarif_file"] == "golive.sarif"
    assert step_using(merge, "actions/upload-artifact")["with"]["path"] == "golive.html"


def test_the_org_audit_assumes_one_role_per_account():
    workflow = load("golive-org-audit.yml")
    call = triggers(workflow)["workflow_call"]
    assert {"accounts", "hub-role-arn", "max-parallel"} <= set(call["inputs"]) and "external-id" in call["secrets"]
    audit = workflow["jobs"]["audit"]
    assert audit["strategy"]["matrix"]["target"] == "${{ fromJSON(inputs.accounts) }}"
    assert audit["strategy"]["max-parallel"] == "${{ inputs.max-parallel }}"
    assert audit["permissions"] == {"contents": "read", "id-token": "write"}
    assert step_using(audit, "aws-actions/configure-aws-credentials")["with"]["role-to-assume"] == \
        "${{ inputs.hub-role-arn }}"
    [run] = [s["run"] for s in steps(audit) if "golive audit" in str(s.get("run", ""))]
    assert '--role-arn "$ROLE_ARN"' in run and "--external-id" in run
    assert audit["env"]["ROLE_ARN"] == "${{ matrix.target.role_arn }}"
    [merging] = [s["run"] for s in steps(workflow["jobs"]["merge"]) if "golive merge" in str(s.get("run", ""))]
    assert [m.group(1) for line in merging.splitlines() if (m := MERGE.search(line.strip()))] == \
        ["markdown", "junit", "html"]


@pytest.mark.parametrize("name", ORG)
def test_the_golive_commands_of_the_org_workflows_parse(name):
    for command in golive_commands(load(name)):
        words = shlex.split(command.split("||")[0])
        words = [w for w in words[words.index("golive") + 1:] if w != "$@"]
        _parser().parse_args(words)


def _step_script(workflow: str, job: str, needle: str) -> str:
    [run] = [s["run"] for s in steps(load(workflow)["jobs"][job]) if needle in str(s.get("run", ""))]
    return run.replace(".golive/.venv/bin/python", sys.executable)


def _bash(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **env})


def test_the_org_checks_scripts_discover_a_tree_and_check_a_stack(tmp_path):
    """The discover and check steps' own shell, run here as the runner runs them: a checkout of the
    organization's repository in project/ (two projects, three stacks) and golive in .golive."""
    plain = ROOT / "tests" / "fixtures" / "programs" / "cio_plain"
    shutil.copytree(plain, tmp_path / "project" / "infra" / "mail")
    shutil.copytree(plain, tmp_path / "project" / "infra" / "nested" / "mail2")
    (tmp_path / "project" / "infra" / "nested" / "mail2" / "Pulumi.staging.yaml").unlink()
    (tmp_path / ".golive").symlink_to(ROOT)
    output = tmp_path / "github-output"
    done = _bash(_step_script("golive-org-check.yml", "discover", "golive stacks"), tmp_path, TREE="infra",
                 GITHUB_OUTPUT=str(output))
    assert done.returncode == 0, done.stderr
    found = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert found["count"] == "3"
    matrix = json.loads(found["matrix"])
    assert [(m["dir"], m["stack"]) for m in matrix] == [
        ("mail", "production"), ("mail", "staging"), ("nested/mail2", "production")]

    config = tmp_path / "project" / "platform" / "policy-config.json"
    config.parent.mkdir()
    config.write_text("{}")
    done = _bash(_step_script("golive-org-check.yml", "check", "golive check"), tmp_path,
                 DIR="infra/" + matrix[2]["dir"], STACK=matrix[2]["stack"], NAME="golive-2-production",
                 PACK_CONFIG="platform/policy-config.json", GITHUB_OUTPUT=str(output))
    assert done.returncode == 0, done.stderr
    reports = tmp_path / "reports"
    assert sorted(p.name for p in reports.iterdir()) == [
        "golive-2-production.json", "golive-2-production.sarif", "golive-2-production.status"]
    report = json.loads((reports / "golive-2-production.json").read_text())
    assert report["packConfig"]["file"] == "project/platform/policy-config.json"
    status = (reports / "golive-2-production.status").read_text()
    assert status.rstrip("\n").split("\t") == ["infra/nested/mail2", "production", "0"]
    assert output.read_text().splitlines()[-1] in ("status=0", "status=1")
