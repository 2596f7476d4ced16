"""Many stacks in one run (`golive check --all-stacks`), `golive merge`, and `golive waivers list --tree`.

One tree of three projects (copies of the cio_plain program under other names) is checked once, for
real (each stack its own `golive check` process, the real pack over gRPC); its merged JSON report is
then rendered in every format through `golive merge`, as a CI job that gathers per-stack reports does.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from golive import cli

ROOT = Path(__file__).resolve().parents[2]
PLAIN = ROOT / "tests" / "fixtures" / "programs" / "cio_plain"
STATE = ROOT / "tests" / "fixtures" / "state" / "shop-production.json"
ROTATION = "customerio-secret-rotation"
SPF = "email-spf-record"
TODAY = "2026-12-21"
EXPIRES = "2026-12-31"
WAIVER = {"id": "legacy-rotation", "reason": "Legacy rotation Lambda until CIO-123", "owner": "@payments",
          "expires": EXPIRES, "stacks": ["production"], "resources": ["cio-site-id-rotation"]}
PACK_CONFIG = {ROTATION: {"waivers": [WAIVER]},
               SPF: {"waivers": [{"id": "old-spf", "reason": "SPF moved", "owner": "@mail", "expires": EXPIRES,
                                  "resources": ["retired-record"]}]},
               "email-dmarc-record": {"waivers": [{"id": "gone", "reason": "was a test", "owner": "@mail",
                                                   "expires": "2026-12-01"}]}}


def project(folder: Path, name: str, stacks: dict[str, str]) -> None:
    """cio_plain as project `name`, with a stack file per stack breaking the given item ("" for none)."""
    folder.mkdir(parents=True)
    shutil.copy(PLAIN / "__main__.py", folder / "__main__.py")
    (folder / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
    for stack, item in stacks.items():
        extra = f"  {name}:break: {item}\n" if item else ""
        (folder / f"Pulumi.{stack}.yaml").write_text(f"config:\n  aws:region: us-east-1\n{extra}")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("org")
    project(root / "payments", "payments", {"production": "", "broken": "no-such-item"})
    project(root / "mail" / "infra", "mail", {"production": "rotation-120"})  # waived by the org's config
    project(root / "growth", "growth", {"production": "spf-plus-all"})  # mandatory: blocks
    # Not programs of the tree: a dependency's copy, a virtualenv's, and a policy pack with its own example.
    project(root / "growth" / "node_modules" / "pkg", "vendored", {"production": "spf-plus-all"})
    project(root / ".venv" / "lib", "venv", {"production": "spf-plus-all"})
    pack = root / "policies" / "extra-pack"
    pack.mkdir(parents=True)
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    project(pack / "example", "pack-example", {"dev": "spf-plus-all"})
    (root / "platform").mkdir()
    (root / "platform" / "policy-config.json").write_text(json.dumps(PACK_CONFIG))
    return root


def run_cli(argv: list[str], capsys, today: str = TODAY) -> tuple[int, str, str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOLIVE_TODAY", today)
        code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def merged_json(tree, tmp_path_factory) -> tuple[int, dict, str, Path]:
    out = tmp_path_factory.mktemp("reports") / "all.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOLIVE_TODAY", TODAY)
        mp.chdir(tree)
        import io
        from contextlib import redirect_stderr

        err = io.StringIO()
        with redirect_stderr(err):
            code = cli.main(["check", "--all-stacks", "--policy-pack", str(ROOT / "policies"),
                             "--policy-pack-config", "platform/policy-config.json", "--format", "json", "-o", str(out)])
    return code, json.loads(out.read_text()), err.getvalue(), out


def by_key(report: dict) -> dict[str, dict]:
    return {f"{s['project']}/{s['stack']}": s for s in report["stacks"]}


def test_every_stack_of_every_project_is_checked_and_a_broken_one_hides_nothing(merged_json):
    code, report, err, _ = merged_json
    stacks = by_key(report)
    # node_modules, the virtualenv and the policy pack's example are not the tree's programs
    assert set(stacks) == {"payments/production", "payments/broken", "mail/production", "growth/production"}
    assert {k: s["status"] for k, s in stacks.items()} == {
        "payments/production": "warn", "payments/broken": "error", "mail/production": "warn",
        "growth/production": "fail"}
    assert code == 2  # a stack could not be checked: that outranks the mandatory finding
    assert "unknown break 'no-such-item'" in stacks["payments/broken"]["error"]
    broken = stacks["payments/broken"]["error"]
    assert err.splitlines() == [f"golive: error: payments/broken could not be checked: {broken}"]
    # each stack's report is its own golive check's, with the org's pack config applied
    growth = stacks["growth/production"]["report"]
    assert [(e["policyName"], e["enforcementLevel"]) for e in growth["policyEvents"]
            if e["policyName"] == SPF and "waiverNotice" not in e] == [(SPF, "mandatory")]
    [waived] = [e for e in stacks["mail/production"]["report"]["policyEvents"] if "waived" in e]
    assert waived["resourceName"] == "cio-site-id-rotation"
    assert stacks["mail/production"]["source"] == "mail/infra"
    assert report["exitCode"] == 2 and report["summary"]["stacks"] == 4 and report["summary"]["mandatory"] == 1


def test_exit_status_is_1_when_checked_stacks_have_a_mandatory_finding(tree, capsys):
    # --stack as a pattern over project/stack, without --all-stacks: the project in DIR, its matching stacks
    code, out, err = run_cli(["check", str(tree / "growth"), "--stack", "growth/prod*", "--format", "json"], capsys)
    assert code == 1, err
    report = json.loads(out)
    assert [(s["project"], s["stack"], s["status"]) for s in report["stacks"]] == [("growth", "production", "fail")]


def test_many_state_exports_in_one_run_and_a_bad_one_is_reported_not_fatal(tmp_path, capsys):
    other = json.loads(STATE.read_text())
    text = json.dumps(other).replace("urn:pulumi:production::", "urn:pulumi:staging::")
    staging = tmp_path / "shop-staging.json"
    staging.write_text(text)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, out, err = run_cli(["check", "--all-stacks", "--state", str(STATE), "--state", str(staging),
                              "--state", str(bad), "--format", "json", "--jobs", "2"], capsys)
    report = json.loads(out)
    states = {s["source"]: s for s in report["stacks"]}
    assert states[str(STATE)]["stack"] == "production" and states[str(STATE)]["status"] != "error"
    assert states[str(staging)]["stack"] == "staging" and states[str(staging)]["status"] != "error"
    assert states[str(bad)]["status"] == "error" and str(bad) in states[str(bad)]["error"]
    assert code == 2 and len(err.splitlines()) == 1 and str(bad) in err
    merged = tmp_path / "merged.json"
    merged.write_text(out)
    sarif = json.loads(run_cli(["merge", str(merged), "--format", "sarif"], capsys)[1])
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for run in sarif["runs"] for r in run["results"]
            for loc in r["locations"]}
    assert uris and not any("json" in uri for uri in uris)  # paths as the program's, not under the export file


@pytest.mark.parametrize(("argv", "needle"), [
    ([], "--all-stacks checks every stack of every project under the folder"),
    (["--all-stacks", "--jobs", "0"], "--jobs 0: must be at least 1"),
    (["--all-stacks", "--baseline", "b.json"], "--baseline is for one stack"),
    (["--all-stacks", "--stack", "nothing-matches-*"], "no stacks to check under"),
    (["--all-stacks", "--compare", "missing.json"], "--compare missing.json: cannot read"),
    (["--stack", "production", "--compare", "prev.json"], "--compare: the changes against a previous report"),
])
def test_bad_arguments_for_many_stacks_are_one_line(tree, argv, needle, capsys):
    code, out, err = run_cli(["check", str(tree), *argv], capsys)
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert needle in line, line


def test_jobs_default_to_the_cores_golive_may_run_on_and_bound_the_processes(monkeypatch):
    from golive.adoption import fleet

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5})
    assert fleet.default_jobs() == 3
    running, most = 0, 0
    lock = threading.Lock()

    def fake(target, args, output):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)  # long enough for the pool to start what it may
        with lock:
            running -= 1
        return fleet.merging.StackReport(target.project, target.stack)

    monkeypatch.setattr(fleet, "check_one", fake)
    targets = [fleet.Target("p", f"s{i}", "p") for i in range(8)]
    reports = fleet.run_all(targets, None, 2)
    assert [r.stack for r in reports] == [f"s{i}" for i in range(8)]  # in the order found, whatever finished first
    assert most == 2


# --- the merged report in every format -------------------------------------------------------------


def merge(merged_json, fmt: str, capsys, *extra: str) -> str:
    code, out, err = run_cli(["merge", str(merged_json[3]), "--format", fmt, *extra], capsys)
    assert code == 0, err
    return out


def test_sarif_has_one_run_per_stack(merged_json, capsys):
    sarif = json.loads(merge(merged_json, "sarif", capsys))
    runs = {r["automationDetails"]["id"]: r for r in sarif["runs"]}
    assert set(runs) == {"golive/payments/production/", "golive/payments/broken/", "golive/mail/production/",
                         "golive/growth/production/"}
    broken = runs["golive/payments/broken/"]["invocations"][0]
    assert broken["executionSuccessful"] is False
    assert "no-such-item" in broken["toolExecutionNotifications"][0]["message"]["text"]
    [spf] = [r for r in runs["golive/growth/production/"]["results"] if r["ruleId"] == SPF and r["level"] == "error"]
    assert spf["level"] == "error"
    # paths from the repository root (where the run started), so code scanning finds the file
    assert spf["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "growth/__main__.py"
    [rotation] = [r for r in runs["golive/mail/production/"]["results"] if r["ruleId"] == ROTATION]
    assert rotation["suppressions"][0]["properties"] == {"owner": "@payments", "expires": EXPIRES}


def test_junit_has_one_suite_per_stack(merged_json, capsys):
    root = ET.fromstring(merge(merged_json, "junit", capsys))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"payments/production", "payments/broken", "mail/production", "growth/production"}
    assert suites["payments/broken"].get("errors") == "1"
    assert suites["growth/production"].get("failures") == "1"
    assert root.get("errors") == "1" and root.get("failures") == "1"


def test_markdown_has_a_stacks_by_policies_summary(merged_json, capsys):
    md = merge(merged_json, "markdown", capsys)
    lines = md.splitlines()
    assert lines[0].startswith("## ⛔ golive: 4 stacks: 1 could not be checked, 1 failing")
    header = next(line for line in lines if line.startswith("| Stack | Status |"))
    assert f"`{SPF}`" in header and f"`{ROTATION}`" in header
    columns = [c.strip() for c in header.strip("|").split("|")]
    growth = next(line for line in lines if line.startswith("| `growth/production`"))
    cells = [c.strip() for c in growth.strip("|").split("|")]
    assert cells[columns.index(f"`{SPF}`")] == "❌ 1"
    mail = next(line for line in lines if line.startswith("| `mail/production`"))
    assert [c.strip() for c in mail.strip("|").split("|")][columns.index(f"`{ROTATION}`")] == "🔕 1"


def test_merge_takes_single_stack_and_audit_reports_and_says_what_changed(merged_json, tmp_path, capsys):
    _, report, _, path = merged_json
    stacks = by_key(report)
    # One CI job per stack: each wrote its own golive check JSON; the audit job wrote its own.
    single = tmp_path / "growth.json"
    single.write_text(json.dumps(stacks["growth/production"]["report"]))
    audit = tmp_path / "audit.json"
    audit.write_text(json.dumps({"command": "audit", "stack": "production", "environment": "production",
                                 "region": "us-east-1", "summary": {"pass": 1, "warn": 0, "fail": 1, "skip": 0},
                                 "checks": [{"name": "dns-spf", "status": "FAIL", "detail": "no SPF record",
                                             "section": "§4 email", "policy": SPF},
                                            {"name": "smoke-track", "status": "PASS", "detail": "ok",
                                             "section": "§1", "policy": None}]}))
    code, out, _ = run_cli(["merge", str(single), str(audit), "--format", "json", "--verdict"], capsys)
    merged = json.loads(out)
    assert code == 1
    assert [(s["command"], s["stack"], s["status"]) for s in merged["stacks"]] == [
        ("check", "production", "fail"), ("audit", "production", "fail")]
    junit = ET.fromstring(run_cli(["merge", str(single), str(audit), "--format", "junit"], capsys)[1])
    assert [s.get("name") for s in junit.iter("testsuite")] == ["growth/production", "audit:production"]
    # Against a previous run where growth's SPF finding did not exist yet and another was since fixed:
    previous = json.loads(path.read_text())
    growth = by_key(previous)["growth/production"]["report"]
    fixed = dict(growth["policyEvents"][0], policyName="customerio-region", resourceName="old-resource",
                 resourceUrn="urn:pulumi:production::growth::aws:s3/bucket:Bucket::old-resource",
                 enforcementLevel="mandatory", message="region mix")
    growth["policyEvents"] = [e for e in growth["policyEvents"]
                              if e["policyName"] != SPF or "waiverNotice" in e] + [fixed]
    prev = tmp_path / "previous.json"
    prev.write_text(json.dumps(previous))
    changes = json.loads(merge(merged_json, "json", capsys, "--compare", str(prev)))["changes"]
    assert [(c["stack"], c["policy"]) for c in changes["new"]] == [("growth/production", SPF)]
    assert [(c["stack"], c["policy"], c["resource"]) for c in changes["fixed"]] == [
        ("growth/production", "customerio-region", "old-resource")]
    assert changes["unchanged"] == report["summary"]["mandatory"] + report["summary"]["advisory"] - 1
    sarif = json.loads(merge(merged_json, "sarif", capsys, "--compare", str(prev)))
    states = {(r["ruleId"], r["level"]): r["baselineState"] for run in sarif["runs"] for r in run["results"]
              if run["automationDetails"]["id"] == "golive/growth/production/"}
    assert states.pop((SPF, "error")) == "new" and set(states.values()) == {"unchanged"}


def test_merge_refuses_what_is_not_a_golive_report(tmp_path, capsys):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    code, out, err = run_cli(["merge", str(other)], capsys)
    assert code == 2 and out == ""
    assert err.splitlines() == [f"golive: error: {other}: not a golive report (expected `golive check` or "
                                "`golive audit` JSON, or a merged report)"]


# --- org-wide waivers ------------------------------------------------------------------------------


def test_waivers_of_every_pack_config_in_the_tree_expired_and_stale_first(tree, merged_json, capsys):
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tree)
        code, out, _ = run_cli(["waivers", "list", "--tree", ".", "--report", str(merged_json[3]),
                                "--format", "json"], capsys)
        assert code == 0
        rows = json.loads(out)["waivers"]
        assert [(r["waiver"], r["status"]) for r in rows] == [
            ("gone", "expired"), ("old-spf", "stale"), ("legacy-rotation", "active")]
        rotation = rows[2]
        assert rotation["owner"] == "@payments" and rotation["reason"] == WAIVER["reason"]
        assert rotation["file"] == "platform/policy-config.json" and rotation["detail"] == "expires in 10 days"
        assert rotation["hides"] == {"mail/production": 1}
        assert set(rotation["covers"]) == {"payments/production", "mail/production", "growth/production"}
        # stale: it covers stacks that were checked, and hid no finding in any of them
        assert set(rows[1]["staleIn"]) == {"payments/production", "mail/production", "growth/production"}
        code, text, _ = run_cli(["waivers", "list", "--tree", "."], capsys)
    assert code == 0
    lines = text.splitlines()
    assert lines[1].split()[:2] == ["STATUS", "EXPIRES"]
    assert lines[2].startswith("expired  2026-12-01") and "gone" in lines[2]
    [rotation_line] = [line for line in lines if "legacy-rotation" in line]
    assert rotation_line.startswith("active ") and "covers growth/production, mail/production, payments/production" in (
        rotation_line)


# --- the review page, in a real browser ----------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"  # Debian's package (`make chromium`); Playwright's own download is not used
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("GOLIVE_TEST_ARTIFACTS") or ROOT / "tests" / "artifacts")


@pytest.fixture
def browser(tmp_path):
    """A page of headless Chromium, with what it logged as errors and every URL it requested."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = context.new_page()
            page.set_default_timeout(10_000)
            errors: list[str] = []
            requests: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            yield page, errors, requests
        finally:
            context.close()


def visible(page, selector: str = "#findings tr.finding") -> int:
    return page.locator(f"{selector}:visible").count()


def previous_report(merged_json, tmp_path) -> Path:
    """The merged report as a run before growth's SPF finding appeared."""
    previous = json.loads(merged_json[3].read_text())
    growth = by_key(previous)["growth/production"]["report"]
    growth["policyEvents"] = [e for e in growth["policyEvents"] if e["policyName"] != SPF or "waiverNotice" in e]
    path = tmp_path / "previous.json"
    path.write_text(json.dumps(previous))
    return path


def test_the_review_page_shows_every_stack_and_its_filters_change_what_is_shown(merged_json, tmp_path, browser,
                                                                                 capsys):
    page, errors, requests = browser
    _, report, _, _ = merged_json
    out = tmp_path / "review.html"
    run_cli(["merge", str(merged_json[3]), "--format", "html", "--compare", str(previous_report(merged_json, tmp_path)),
             "-o", str(out)], capsys)
    page.goto(out.as_uri())
    page.wait_for_selector("#shown")
    assert errors == []
    assert requests == [out.as_uri()]  # self-contained: nothing else is loaded
    everything = sum(len(s["report"]["policyEvents"]) for s in report["stacks"] if s["report"])
    assert visible(page) == everything
    assert page.locator("#shown").text_content() == f"{everything} of {everything} findings shown"
    assert page.locator('[data-total="stacks"] b').text_content() == "4"
    assert page.locator('[data-total="new"] b').text_content() == "1"
    # the grid: a row per stack, each cell coloured by its worst level
    assert page.locator("#grid tbody tr").count() == 4
    assert page.locator(f'#grid td[data-stack="growth/production"][data-policy="{SPF}"]').get_attribute(
        "class") == "cell lvl-mandatory"
    assert page.locator(f'#grid td[data-stack="mail/production"][data-policy="{ROTATION}"]').get_attribute(
        "class") == "cell lvl-waived"
    assert "st-error" in page.locator('#grid tr[data-stack="payments/broken"] td').first.get_attribute("class")
    # filters
    page.select_option("#f-level", "mandatory")
    assert visible(page) == 1
    [row] = page.locator("#findings tr.finding:visible").all()
    assert row.get_attribute("data-stack") == "growth/production" and row.get_attribute("data-policy") == SPF
    assert "__main__.py:" in row.locator("td").nth(4).text_content()
    row.locator("details summary").click()
    assert "Why:" in row.locator(".rationale").inner_text() and "Fix:" in row.locator(".remediation").inner_text()
    page.select_option("#f-level", "")
    page.select_option("#f-stack", "mail/production")
    mail = [e for e in by_key(report)["mail/production"]["report"]["policyEvents"]]
    assert visible(page) == len(mail)
    page.select_option("#f-level", "waived")
    [waived] = page.locator("#findings tr.finding:visible").all()
    assert waived.locator(".waiver").text_content() == (
        f"until {EXPIRES} (10 days left) by @payments: {WAIVER['reason']}")
    page.select_option("#f-level", "")
    page.select_option("#f-stack", "")
    page.select_option("#f-change", "new")
    assert visible(page) == 1
    page.select_option("#f-change", "")
    page.select_option("#f-policy", SPF)
    spf = sum(1 for s in report["stacks"] if s["report"] for e in s["report"]["policyEvents"] if e["policyName"] == SPF)
    assert visible(page) == spf
    # a click on a cell of the grid shows that cell's findings
    page.locator(f'#grid td[data-stack="mail/production"][data-policy="{ROTATION}"]').click()
    assert visible(page) == sum(1 for e in mail if e["policyName"] == ROTATION)
    page.select_option("#f-stack", "")
    page.select_option("#f-policy", "")
    assert visible(page) == everything and errors == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-page.png"), full_page=True)
    assert (ARTIFACTS / "review-page.png").stat().st_size > 10_000


HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


def test_strings_from_reports_are_shown_as_text_never_run(tmp_path, browser, capsys):
    from checklist import catalog

    page, errors, requests = browser
    reason = f"</td></tr></table>{HOSTILE}"
    # As the pack writes a waived finding: its description, the waiver's line, then what it found.
    message = (f"{catalog.POLICY_BY_NAME[ROTATION].description}\n[waived until {EXPIRES} by @x: {reason}]\n"
               f"rotates every 120 days {HOSTILE}")
    event = {"policyName": ROTATION, "policyPackName": "golive-customerio", "policyPackVersion": "0.1.0",
             "enforcementLevel": "advisory", "severity": "high", "message": message,
             "resourceUrn": f"urn:pulumi:production::shop::aws:s3/bucket:Bucket::{HOSTILE}",
             "resourceType": "aws:s3/bucket:Bucket", "resourceName": HOSTILE,
             "source": {"file": f"{HOSTILE}.py", "line": 3},
             "waived": {"reason": reason, "owner": "@x", "expires": EXPIRES}}
    doc = {"project": 'shop"><script>window.pwned=3</script>', "stack": "production", "preview": True,
           "policyPacks": [{"name": "golive-customerio", "version": "0.1.0"}], "resourceCount": 1,
           "policyEvents": [event], "summary": {"mandatory": 0, "advisory": 1}, "invokesAnsweredOffline": []}
    report = tmp_path / "hostile.json"
    report.write_text(json.dumps(doc))
    out = tmp_path / "hostile.html"
    code, _, _ = run_cli(["merge", str(report), "--format", "html", "-o", str(out)], capsys)
    assert code == 0
    text = out.read_text()
    assert "<script>window.pwned" not in text and "<img" not in text
    page.goto(out.as_uri())
    page.wait_for_selector("#shown")
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert errors == [] and requests == [out.as_uri()]
    row = page.locator("#findings tr.finding").first
    assert HOSTILE in row.locator(".resource").inner_text()
    assert HOSTILE in row.locator(".waiver").inner_text()
    assert row.get_attribute("data-stack") == 'shop"><script>window.pwned=3</script>/production'


def test_golive_check_writes_the_review_page_of_one_stack_with_its_changes(tmp_path, capsys):
    before = tmp_path / "before.json"
    code, _, _ = run_cli(["check", str(PLAIN), "--stack", "production", "--format", "json", "-o", str(before)], capsys)
    assert code == 0
    code, page, _ = run_cli(["check", str(PLAIN), "--stack", "production", "--config", "cio-plain:break=rotation-120",
                             "--format", "html", "--compare", str(before)], capsys)
    assert code == 1
    assert page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page
    rows = [line for line in page.splitlines() if line.startswith('<tr class="finding')]
    assert [(f'data-policy="{ROTATION}"' in r, 'data-change="new"' in r) for r in rows] == [
        (True, True), (False, False)]


def test_merge_reads_an_audits_junit_as_its_json(tmp_path, capsys):
    from types import SimpleNamespace

    from golive.clients.aws import Identity
    from golive.operations.audit import report as audit_report
    from golive.operations.audit.result import failed, passed, skipped, warned

    target = SimpleNamespace(stack="production", environment="production", region="us",
                             endpoints=SimpleNamespace(identity=Identity()))
    results = [passed("track-api", "answered 200", "§1"), warned("dmarc", "p=none", "§4"),
               failed("spf", "no SPF record at cio1.example.com", "§4"), skipped("smoke", "--skip smoke", "§6")]
    junit_file, json_file = tmp_path / "audit.xml", tmp_path / "audit.json"
    junit_file.write_text(audit_report.junit(target, results, "audit"))
    json_file.write_text(audit_report.as_json(target, results, "audit"))
    code, out, _ = run_cli(["merge", str(junit_file), "--format", "json"], capsys)
    [from_junit] = json.loads(out)["stacks"]
    [from_json] = json.loads(run_cli(["merge", str(json_file), "--format", "json"], capsys)[1])["stacks"]
    assert code == 0 and from_junit["status"] == from_json["status"] == "fail"
    strip = ("environment", "region")
    assert [{k: v for k, v in c.items() if k != "policy"} for c in from_junit["report"]["checks"]] == [
        {k: v for k, v in c.items() if k != "policy"} for c in from_json["report"]["checks"]]
    assert {k: v for k, v in from_junit["report"].items() if k not in (*strip, "checks")} == {
        k: v for k, v in from_json["report"].items() if k not in (*strip, "checks")}
    check_junit = tmp_path / "check.xml"
    check_junit.write_text('<?xml version="1.0"?><testsuites><testsuite name="golive-customerio@v0.1.0"/></testsuites>')
    code, _, err = run_cli(["merge", str(check_junit)], capsys)
    assert code == 2 and "not a golive audit JUnit report" in err


def test_a_program_that_hangs_is_ended_and_reported_and_the_others_are_not_held_up(tmp_path, capsys):
    shutil.copytree(ROOT / "tests" / "fixtures" / "programs" / "hanging", tmp_path / "hanging")
    project(tmp_path / "shop", "shop", {"staging": ""})
    code, out, err = run_cli(["check", str(tmp_path), "--all-stacks", "--timeout", "3", "--format", "json"], capsys)
    stacks = by_key(json.loads(out))
    assert code == 2
    assert stacks["shop/staging"]["status"] == "pass"
    [hanging] = [s for k, s in stacks.items() if k != "shop/staging"]
    assert hanging["status"] == "error" and "3" in hanging["error"], hanging["error"]
    assert err.count("golive: error: ") == 1


def test_a_single_stack_check_does_not_load_the_many_stacks_runner():
    """A plain `golive check --stack S` runs on a stopwatch: the runner's imports are for many stacks only."""
    import subprocess
    import sys

    code = ("import io, sys\nfrom contextlib import redirect_stdout\nfrom golive import cli\n"
            f"with redirect_stdout(io.StringIO()):\n    cli.main(['check', {str(PLAIN)!r}, '--stack', 'production'])\n"
            "print(sorted(m for m in sys.modules if m in ('golive.adoption.fleet', 'golive.analysis.report.merged',"
            " 'golive.analysis.report.html')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout == "[]\n"
