"""Waivers end to end: `golive check` over the real pack (gRPC), the reports, and `golive waivers list|add|check`.

Every run pins the day with GOLIVE_TODAY, which the pack inherits: "the day after expiry" goes through
the same analyzer protocol as a real preview.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import xml.etree.ElementTree as ET
from contextlib import redirect_stdout
from pathlib import Path

import jsonschema
import pytest
from test_reports import INFO, SARIF_SCHEMA, STACK, diag, graph

from checklist import catalog
from checklist.model import Stack
from golive import cli
from golive.adoption.waivers import PACK_NAME, catalog_info, rules
from golive.analysis import policyconfig
from golive.analysis.analyzer import AnalyzerSession
from golive.analysis.findings import Waived, WaiverNotice, build_result
from golive.analysis.report import render
from golive.packfolder import PACK_DIR

ROOT = Path(__file__).resolve().parents[2]
PLAIN = ROOT / "tests" / "fixtures" / "programs" / "cio_plain"
ROTATION = "customerio-secret-rotation"
SPF = "email-spf-record"
EXPIRES = "2026-12-31"
DAY_AFTER = "2027-01-01"
REASON = "Legacy rotation Lambda until CIO-123 ships"
ROTATION_WAIVER = {"reason": REASON, "owner": "@payments", "expires": EXPIRES, "stacks": ["production"],
                   "resources": ["cio-site-id-rotation"]}
STALE_WAIVER = {"id": "old-spf", "reason": "SPF moved to the new include", "owner": "@mail", "expires": EXPIRES}
CONFIG = {ROTATION: {"waivers": [ROTATION_WAIVER]}, SPF: {"enforcementLevel": "mandatory", "waivers": [STALE_WAIVER]}}


def write_config(path: Path, data: dict) -> str:
    path.write_text(json.dumps(data, indent=2))
    return str(path)


def run_check(config: str, day: str, *extra: str, fmt: str = "json") -> tuple[int, str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOLIVE_TODAY", day)
        out = io.StringIO()
        with redirect_stdout(out):
            code = cli.main(["check", str(PLAIN), "--stack", "production", "--config", "cio-plain:break=rotation-120",
                             "--policy-pack-config", config, "--format", fmt, *extra])
    return code, out.getvalue()


@pytest.fixture(scope="module")
def config_path(tmp_path_factory) -> str:
    return write_config(tmp_path_factory.mktemp("waivers") / "policy-config.json", CONFIG)


@pytest.fixture(scope="module")
def on_expiry_day(config_path):
    code, out = run_check(config_path, EXPIRES)
    return code, json.loads(out)


@pytest.fixture(scope="module")
def day_after(config_path):
    code, out = run_check(config_path, DAY_AFTER)
    return code, json.loads(out)


def events(report: dict, policy: str) -> list[dict]:
    return [e for e in report["policyEvents"] if e["policyName"] == policy]


def test_a_waived_violation_passes_and_is_shown_marked(on_expiry_day):
    code, report = on_expiry_day
    assert code == 0
    [waived] = [e for e in events(report, ROTATION) if "waiverNotice" not in e]
    assert waived["enforcementLevel"] == "advisory"
    assert waived["resourceName"] == "cio-site-id-rotation"
    assert waived["waived"] == {"reason": REASON, "owner": "@payments", "expires": EXPIRES}
    assert f"[waived until {EXPIRES} by @payments: {REASON}]" in waived["message"]
    assert "rotates every 120 days" in waived["message"]  # the finding itself is still there to read
    # With the stale SPF waiver's notice and the advice that no staging fingerprints were given.
    assert report["summary"] == {"mandatory": 0, "advisory": 3}


def test_the_same_waiver_the_day_after_expiry_blocks_again_and_is_reported(day_after):
    code, report = day_after
    assert code == 1
    rotation = events(report, ROTATION)
    [finding] = [e for e in rotation if "waiverNotice" not in e]
    assert finding["enforcementLevel"] == "mandatory" and "waived" not in finding
    [notice] = [e for e in rotation if "waiverNotice" in e]
    assert notice["waiverNotice"] == {"waiver": "#1", "status": "expired"}
    assert notice["enforcementLevel"] == "advisory" and notice["resourceType"] == "pulumi:pulumi:Stack"
    assert f"It expired on {EXPIRES}" in notice["message"] and "the 1 finding it matched is no longer waived" in (
        notice["message"])


def test_a_waiver_that_matches_nothing_is_reported_stale(on_expiry_day, day_after):
    [stale] = events(on_expiry_day[1], SPF)
    assert stale["waiverNotice"] == {"waiver": "old-spf", "status": "stale"}
    assert stale["enforcementLevel"] == "advisory"  # a stale waiver is advice, even under a mandatory policy
    assert "matches no finding of this policy in stack production" in stale["message"]
    [expired] = events(day_after[1], SPF)
    assert expired["waiverNotice"]["status"] == "expired" and "it matches no finding either" in expired["message"]


def test_text_and_sarif_show_the_waiver(config_path):
    code, text = run_check(config_path, EXPIRES, fmt="text")
    assert code == 0
    assert f"          [waived until {EXPIRES} by @payments: {REASON}]" in text.splitlines()
    assert "Summary: 0 mandatory, 3 advisory (1 waived)" in text
    code, sarif = run_check(config_path, EXPIRES, fmt="sarif")
    doc = json.loads(sarif)
    [result] = [r for r in doc["runs"][0]["results"] if r.get("suppressions")]
    assert result["ruleId"] == ROTATION and result["suppressions"] == [{
        "kind": "external", "status": "accepted", "justification": REASON,
        "properties": {"owner": "@payments", "expires": EXPIRES}}]
    schema = json.loads(SARIF_SCHEMA.read_text())
    assert not list(jsonschema.validators.validator_for(schema)(schema).iter_errors(doc))


def test_golive_check_refuses_a_waiver_beyond_90_days_naming_policy_and_waiver(tmp_path, capsys):
    far = {**ROTATION_WAIVER, "expires": "2027-06-01"}
    config = write_config(tmp_path / "far.json", {ROTATION: {"waivers": [far]}})
    code, _ = run_check(config, EXPIRES)
    assert code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == (f"golive: error: {config}: {ROTATION} waiver #1: it expires 2027-06-01, more than 90 days ahead "
                    "(at most 2027-03-31)")


@pytest.mark.parametrize(
    ("waiver", "needle"),
    [
        ({"owner": "@x", "expires": EXPIRES}, f"{ROTATION} waiver #1: needs a reason"),
        ({"reason": "r", "owner": "@x"}, f"{ROTATION} waiver #1: needs an expiry date"),
        ({"reason": "r", "owner": "@x", "expires": "2026-12-32"}, "expires: '2026-12-32' is not a date"),
        ({"reason": "r", "owner": "@x", "expires": EXPIRES, "resource": ["x"]}, "unknown key 'resource'"),
    ],
)
def test_golive_check_refuses_malformed_waivers(tmp_path, capsys, waiver, needle):
    config = write_config(tmp_path / "bad.json", {ROTATION: {"waivers": [waiver]}})
    assert run_check(config, EXPIRES)[0] == 2
    [line] = capsys.readouterr().err.splitlines()
    assert needle in line and config in line


def test_golive_check_refuses_waivers_under_all_and_a_malformed_golive_today(tmp_path, capsys):
    everything = {"enforcementLevel": "advisory", "waivers": [ROTATION_WAIVER]}
    config = write_config(tmp_path / "all.json", {"all": everything})
    assert run_check(config, EXPIRES)[0] == 2
    assert '"all": cannot hold waivers' in capsys.readouterr().err
    config = write_config(tmp_path / "ok.json", CONFIG)
    assert run_check(config, "next tuesday")[0] == 2
    assert "GOLIVE_TODAY: 'next tuesday' is not a date (YYYY-MM-DD)" in capsys.readouterr().err


# --- reports, from diagnostics as the pack sends them --------------------------------------------------


def test_markers_round_trip_between_the_pack_and_the_reports():
    waiver = rules.parse_waiver("bucket-versioning", 0, {"reason": "tape: backups] kept", "owner": "@ops team",
                                                         "expires": EXPIRES})
    waived = diag("bucket-versioning", "advisory", STACK, f"{waiver.marker()}\nversioning is off", "high")
    result = build_result(graph(), INFO, [waived])
    [finding] = result.findings
    assert finding.waived == Waived(EXPIRES, "@ops team", "tape: backups] kept")
    assert finding.detail == "versioning is off"  # fingerprints and baselines see the finding, not the waiver
    stack = Stack(name="prod", project="shop")
    notices = rules.apply("bucket-versioning", [], [{"id": "w-1", "reason": "r", "owner": "o", "expires": "2020-01-01"},
                                                    {"reason": "r", "owner": "o", "expires": EXPIRES}],
                          stack, rules.parse_date(EXPIRES))
    parsed = [build_result(graph(), INFO, [diag("bucket-versioning", "advisory", STACK, n.message)]).findings[0]
              for n in notices]
    assert [f.waiver_notice for f in parsed] == [WaiverNotice("w-1", "expired"), WaiverNotice("#2", "stale")]
    assert all(f.waived is None for f in parsed)


def _waived_result():
    marker = f"[waived until {EXPIRES} by @ops: {REASON}]"
    return build_result(graph(), INFO, [
        diag("bucket-versioning", "advisory", "urn:pulumi:prod::shop::aws:s3/bucket:Bucket::logs",
             f"{marker}\nversioning is off", "high"),
        diag("rotation-linked", "mandatory", STACK, "linked to no secret", "critical"),
    ])


def test_every_format_marks_a_waived_finding():
    result = _waived_result()
    assert [f.policy_name for f in result.waived] == ["bucket-versioning"]
    text = render("text", result)
    assert f"[waived until {EXPIRES} by @ops: {REASON}]" in text and "1 advisory (1 waived)" in text
    doc = json.loads(render("json", result))
    by_policy = {e["policyName"]: e for e in doc["policyEvents"]}
    assert by_policy["bucket-versioning"]["waived"] == {"reason": REASON, "owner": "@ops", "expires": EXPIRES}
    assert "waived" not in by_policy["rotation-linked"]
    sarif = json.loads(render("sarif", result))
    results = {r["ruleId"]: r for r in sarif["runs"][0]["results"]}
    assert results["bucket-versioning"]["suppressions"][0]["justification"] == REASON
    assert "suppressions" not in results["rotation-linked"]
    junit = ET.fromstring(render("junit", result))
    case = next(c for c in junit.iter("testcase") if c.get("name").startswith("bucket-versioning"))
    assert case.find("failure") is None
    assert case.find("system-out").text.startswith(f"[advisory, waived until {EXPIRES}] ")
    md = render("markdown", result)
    assert "1 mandatory, 1 advisory (1 waived)" in md.splitlines()[0]
    row = next(line for line in md.splitlines() if "`bucket-versioning`" in line)
    assert row.startswith("| 🔕 waived |")
    assert f"**Waived until {EXPIRES} by @ops**: {REASON}<br>versioning is off" in row


def test_a_waived_finding_keeps_its_sarif_fingerprint():
    def fingerprints(result) -> dict[str, dict]:
        results = json.loads(render("sarif", result))["runs"][0]["results"]
        return {r["ruleId"]: r["partialFingerprints"] for r in results}

    plain = build_result(graph(), INFO, [diag("bucket-versioning", "mandatory",
                                              "urn:pulumi:prod::shop::aws:s3/bucket:Bucket::logs",
                                              "versioning is off", "high")])
    assert fingerprints(_waived_result())["bucket-versioning"] == fingerprints(plain)["bucket-versioning"]


# --- golive waivers list|add|check -------------------------------------------------------------------------


def waivers_cmd(capsys, day: str, *argv: str) -> tuple[int, str, str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOLIVE_TODAY", day)
        code = cli.main(["waivers", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_writes_the_waiver_and_keeps_the_rest_of_the_file(tmp_path, capsys):
    path = write_config(tmp_path / "policy-config.json", {
        "customerio-production-keys-distinct": {"nonProductionFingerprints": {"track-api-key": ["sha256:0123"]}},
        ROTATION: "advisory",
    })
    code, out, _ = waivers_cmd(capsys, "2026-12-01", "add", ROTATION, "--reason", REASON, "--owner", "@payments",
                               "--expires", EXPIRES, "--stack", "production", "--resource", "cio-site-id-*",
                               "--policy-pack-config", path)
    assert code == 0
    assert out == (f"{path}: added {ROTATION} waiver #1, owner @payments, until {EXPIRES} (in 30 days); "
                   "stacks production; resources cio-site-id-*.\n")
    assert json.loads(Path(path).read_text()) == {
        "customerio-production-keys-distinct": {"nonProductionFingerprints": {"track-api-key": ["sha256:0123"]}},
        ROTATION: {"enforcementLevel": "advisory", "waivers": [
            {"reason": REASON, "owner": "@payments", "expires": EXPIRES, "stacks": ["production"],
             "resources": ["cio-site-id-*"]}]},
    }
    code, out, _ = waivers_cmd(capsys, "2026-12-01", "add", SPF, "--reason", "r", "--owner", "@mail", "--expires",
                               "2027-03-01", "--id", "spf", "--policy-pack-config", path)
    assert code == 0 and f"added {SPF} waiver spf" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy-config.json"]  # written by rename, nothing left


def test_add_creates_a_missing_file(tmp_path, capsys):
    path = str(tmp_path / "new.json")
    assert waivers_cmd(capsys, "2026-12-01", "add", SPF, "--reason", "r", "--owner", "@o", "--expires", EXPIRES,
                       "--policy-pack-config", path)[0] == 0
    assert json.loads(Path(path).read_text()) == {SPF: {"waivers": [{"reason": "r", "owner": "@o",
                                                                       "expires": EXPIRES}]}}


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        ([ROTATION, "--owner", "@o", "--expires", EXPIRES], f"{ROTATION} waiver #1: needs a reason"),
        ([ROTATION, "--reason", " ", "--owner", "@o", "--expires", EXPIRES], f"{ROTATION} waiver #1: needs a reason"),
        ([ROTATION, "--reason", "r", "--expires", EXPIRES], f"{ROTATION} waiver #1: needs an owner"),
        ([ROTATION, "--reason", "r", "--owner", "@o"], f"{ROTATION} waiver #1: needs an expiry date"),
        ([ROTATION, "--reason", "r", "--owner", "@o", "--expires", "2026-11-30"],
         f"{ROTATION} waiver #1: expires 2026-11-30 is in the past (today is 2026-12-01, UTC)"),
        ([ROTATION, "--reason", "r", "--owner", "@o", "--expires", "2027-03-02"],
         f"{ROTATION} waiver #1: it expires 2027-03-02, more than 90 days ahead (at most 2027-03-01)"),
        ([ROTATION, "--reason", "r", "--owner", "@o", "--expires", "31.12.2026"],
         f"{ROTATION} waiver #1: expires: '31.12.2026' is not a date (YYYY-MM-DD)"),
        ([ROTATION, "--reason", "r", "--owner", "@o", "--expires", EXPIRES, "--resource", ""],
         f"{ROTATION} waiver #1: resources.0: a pattern must be a non-empty string"),
        (["no-such-policy", "--reason", "r", "--owner", "@o", "--expires", EXPIRES],
         f"'no-such-policy' is not a policy of pack {PACK_NAME} (its policies: customerio-app-api-key, "),
    ],
)
def test_add_refuses_bad_input_with_one_line_and_exit_2(tmp_path, capsys, argv, line):
    path = tmp_path / "policy-config.json"
    code, out, err = waivers_cmd(capsys, "2026-12-01", "add", *argv, "--policy-pack-config", str(path))
    assert code == 2 and out == ""
    [message] = err.splitlines()
    assert message.startswith(f"golive: error: {line}")
    assert not path.exists()


def test_add_refuses_a_file_golive_check_would_refuse(tmp_path, capsys):
    path = write_config(tmp_path / "c.json", {"no-such-policy": "advisory"})
    code, _, err = waivers_cmd(capsys, "2026-12-01", "add", SPF, "--reason", "r", "--owner", "@o", "--expires",
                               EXPIRES, "--policy-pack-config", path)
    assert code == 2 and "'no-such-policy' is not a policy" in err
    path = write_config(tmp_path / "d.json", {ROTATION: {"maxDays": -1}})
    code, _, err = waivers_cmd(capsys, "2026-12-01", "add", SPF, "--reason", "r", "--owner", "@o", "--expires",
                               EXPIRES, "--policy-pack-config", path)
    assert code == 2 and f"{ROTATION}: maxDays: must be >= 1" in err
    assert json.loads(Path(path).read_text()) == {ROTATION: {"maxDays": -1}}  # left as it was


def test_list_shows_each_waiver_with_its_status_today(tmp_path, capsys):
    path = write_config(tmp_path / "c.json", {
        ROTATION: {"waivers": [ROTATION_WAIVER, {**ROTATION_WAIVER, "id": "far", "expires": "2027-12-31"}]},
        SPF: {"waivers": [STALE_WAIVER, {"reason": "no owner", "expires": EXPIRES}]},
    })
    code, out, _ = waivers_cmd(capsys, DAY_AFTER, "list", "--policy-pack-config", path, "--format", "json")
    assert code == 0
    rows = json.loads(out)["waivers"]
    assert [(r["policy"], r["waiver"], r["status"]) for r in rows] == [
        (ROTATION, "#1", "expired"), (ROTATION, "far", "invalid"), (SPF, "old-spf", "expired"), (SPF, "#2", "invalid"),
    ]
    assert rows[3]["detail"] == "needs an owner (who answers for it)"
    code, out, _ = waivers_cmd(capsys, EXPIRES, "list", "--policy-pack-config", path)
    lines = out.splitlines()
    assert lines[1].split() == ["POLICY", "WAIVER", "STATUS", "EXPIRES", "WHEN", "OWNER", "STACKS", "RESOURCES",
                                "REASON"]
    assert lines[2].split()[:6] == [ROTATION, "#1", "active", EXPIRES, "expires", "today"]
    assert lines[-1].startswith("Summary: 2 active, 2 invalid.")


def test_list_refuses_an_unknown_policy_and_a_missing_file(tmp_path, capsys):
    path = write_config(tmp_path / "c.json", {"bucket-versioning": {"waivers": []}})
    code, _, err = waivers_cmd(capsys, EXPIRES, "list", "--policy-pack-config", path)
    assert code == 2 and "'bucket-versioning' is not a policy of pack golive-customerio" in err
    code, _, err = waivers_cmd(capsys, EXPIRES, "list", "--policy-pack-config", str(tmp_path / "none.json"))
    assert code == 2 and "none.json: cannot read" in err


def test_check_runs_the_stack_and_reports_active_stale_and_expired(config_path, capsys):
    argv = ["check", str(PLAIN), "--stack", "production", "--config", "cio-plain:break=rotation-120",
            "--policy-pack-config", config_path]
    code, out, _ = waivers_cmd(capsys, EXPIRES, *argv)
    assert code == 1  # the stale one wants removing, though nothing blocks
    rows = [line.split()[:3] for line in out.splitlines()[2:-1]]
    assert rows == [[ROTATION, "#1", "active"], [SPF, "old-spf", "stale"]]
    assert "waives 1 finding; expires today" in out
    code, out, _ = waivers_cmd(capsys, DAY_AFTER, *argv, "--format", "json")
    assert code == 1
    rows = json.loads(out)["waivers"]
    assert [(r["waiver"], r["status"], r["unwaived"]) for r in rows] == [
        ("#1", "expired", 1), ("old-spf", "expired", 0)]


def test_check_passes_when_every_waiver_is_in_use(tmp_path, capsys):
    path = write_config(tmp_path / "c.json", {ROTATION: {"waivers": [ROTATION_WAIVER]},
                                              SPF: {"waivers": [{**STALE_WAIVER, "stacks": ["staging"]}]}})
    code, out, _ = waivers_cmd(capsys, "2026-12-20", "check", str(PLAIN), "--stack", "production", "--config",
                               "cio-plain:break=rotation-120", "--policy-pack-config", path)
    assert code == 0, out
    assert "other-stack" in out and "its stacks (staging) leave out production" in out
    assert out.splitlines()[-1] == "Summary: 1 active, 1 other-stack: nothing to renew or remove."


def test_the_catalog_info_is_what_the_pack_itself_says(monkeypatch):
    monkeypatch.setenv("GOLIVE_TODAY", EXPIRES)
    with AnalyzerSession.start(PACK_DIR, graph()) as session:
        served = session.info
    static = catalog_info()
    assert (static.name, static.version, static.supports_config) == (served.name, served.version, True)
    assert [(p.name, p.enforcement_level, p.severity, sorted(p.config_schema)) for p in static.policies] == [
        (p.name, p.enforcement_level, p.severity, sorted(p.config_schema)) for p in served.policies
    ]
    # The pack's own schema, as served over gRPC, carries the waivers that golive validates.
    assert policyconfig.reconcile(served, policyconfig.parse(CONFIG))[ROTATION].properties["waivers"] == [
        ROTATION_WAIVER]


# --- add: the resource patterns against the stack's real resources -------------------------------------


def test_add_warns_when_a_resource_pattern_matches_nothing_in_the_stack(tmp_path, capsys):
    path = str(tmp_path / "policy-config.json")
    code, out, err = waivers_cmd(capsys, "2026-12-01", "add", ROTATION, "--reason", REASON, "--owner", "@payments",
                                 "--expires", EXPIRES, "--stack", "production", "--resource", "cio-site-id-*",
                                 "--resource", "customerio-site-id-rotation", "--policy-pack-config", path,
                                 "--program-dir", str(ROOT))
    assert code == 0 and f"added {ROTATION} waiver #1" in out
    [warning] = err.splitlines()  # the pattern that matches stays silent
    assert warning.startswith("golive: warning: --resource 'cio-site-id-*' matches no resource (URN, type or name) "
                              "of stack production: the waiver waives nothing there; close names there: ")
    assert "customerio-site-id-rotation" in warning
    # Written all the same: a warning, not a refusal.
    assert json.loads(Path(path).read_text())[ROTATION]["waivers"][0]["resources"] == [
        "cio-site-id-*", "customerio-site-id-rotation"]


def test_add_checks_patterns_against_every_stack_the_waiver_covers(tmp_path, capsys):
    path = str(tmp_path / "policy-config.json")
    # No --stack: production and staging both have a stack file; URN and type patterns count too.
    code, _, err = waivers_cmd(capsys, "2026-12-01", "add", ROTATION, "--reason", REASON, "--owner", "@payments",
                               "--expires", EXPIRES, "--resource", "*::customerio-track-api-key-rotation",
                               "--resource", "aws:secretsmanager/secretRotation:SecretRotation",
                               "--resource", "nothing-like-it", "--policy-pack-config", path,
                               "--program-dir", str(ROOT))
    assert code == 0
    [warning] = err.splitlines()
    assert "--resource 'nothing-like-it' matches no resource (URN, type or name) of stack production or staging" in (
        warning)


def test_add_says_when_the_patterns_could_not_be_checked(tmp_path, capsys):
    path = str(tmp_path / "policy-config.json")
    args = ["add", ROTATION, "--reason", REASON, "--owner", "@payments", "--expires", EXPIRES, "--resource", "x-*",
            "--policy-pack-config", path]
    code, _, err = waivers_cmd(capsys, "2026-12-01", *args, "--program-dir", str(tmp_path))
    assert code == 0
    assert err == (f"golive: warning: --resource not checked against any stack: no Pulumi.yaml in {tmp_path} "
                   "(--program-dir names the program's folder)\n")
    code, _, err = waivers_cmd(capsys, "2026-12-01", *args, "--stack", "prod-eu", "--program-dir", str(ROOT))
    assert code == 0
    assert err == (f"golive: warning: --resource not checked: no stack file in {ROOT} is for stacks prod-eu "
                   "(stack files there: production, staging)\n")


def readme_waiver_examples() -> tuple[dict, list[str]]:
    """The documented waiver example (docs/policies.md: the JSON) and its `golive waivers add` command."""
    section = (ROOT / "docs" / "policies.md").read_text().split("## Waivers", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    config = json.loads(next(body for lang, body in blocks if lang == "json"))
    commands = next(body for lang, body in blocks if lang == "sh").replace("\\\n", " ")
    add = next(line for line in commands.splitlines() if line.startswith("golive waivers add "))
    words = shlex.split(re.sub(r"\[[^\]]*\]", "", add))  # the optional [--id …] [--policy-pack-config FILE] …
    return config, words[1:]


def test_the_readme_waiver_waives_a_real_finding_of_the_example_program(tmp_path, capsys):
    config, _ = readme_waiver_examples()
    [policy] = config
    path = write_config(tmp_path / "policy-config.json", config)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOLIVE_TODAY", "2026-12-01")
        code = cli.main(["check", str(ROOT), "--stack", "production", "--config", "golive:rotationDays=120",
                         "--policy-pack-config", path, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1  # the other two keys' rotations still block
    found = events(report, policy)
    assert not [e for e in found if "waiverNotice" in e]  # neither stale nor expired
    waived = [e["resourceName"] for e in found if "waived" in e]
    assert waived == ["customerio-site-id-rotation"]
    assert {e["resourceName"] for e in found} == {f"customerio-{kind}-rotation" for kind in catalog.CREDENTIAL_KINDS}


def test_the_readme_waivers_add_command_matches_the_example_programs_resources(tmp_path, capsys):
    _, argv = readme_waiver_examples()
    assert argv[:2] == ["waivers", "add"] and "--resource" in argv
    path = str(tmp_path / "policy-config.json")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOLIVE_TODAY", "2026-12-01")
        code = cli.main([*argv, "--policy-pack-config", path, "--program-dir", str(ROOT)])
    out, err = capsys.readouterr()
    assert code == 0 and "added customerio-secret-rotation waiver #1" in out
    assert err == ""  # no pattern that matches nothing


def test_six_adds_at_once_all_land(tmp_path):
    """Six `golive waivers add` processes, released together once each has started: every waiver is in
    the file afterwards (each add reads and rewrites the file under the folder's lock), or an add fails
    loudly. Unlocked, each rewrote the file it had read and only the last one's waiver survived."""
    import subprocess
    import sys

    path = tmp_path / "policy-config.json"
    write_config(path, {SPF: "advisory"})
    ready = "import sys; from golive import cli; print('ready', flush=True); sys.stdin.read(); " \
            "sys.exit(cli.main(sys.argv[1:]))"
    adds = [subprocess.Popen(
        [sys.executable, "-c", ready, "waivers", "add", ROTATION, "--reason", f"reason {n}", "--owner", "@o",
         "--expires", EXPIRES, "--id", f"w{n}", "--policy-pack-config", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "GOLIVE_TODAY": "2026-12-01"}) for n in range(6)]
    try:
        for add in adds:
            assert add.stdout.readline() == "ready\n"
        for add in adds:  # the starting gun
            add.stdin.close()
        results = [(add.wait(timeout=120), add.stdout.read(), add.stderr.read()) for add in adds]
    finally:
        for add in adds:
            if add.poll() is None:
                add.kill()
            for stream in (add.stdout, add.stderr):
                stream.close()
    assert all(code == 0 and "added" in out for code, out, _ in results), results
    data = json.loads(path.read_text())
    assert sorted(w["id"] for w in data[ROTATION]["waivers"]) == [f"w{n}" for n in range(6)]
    assert data[SPF] == "advisory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy-config.json"]
