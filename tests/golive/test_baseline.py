"""`--baseline` / `--write-baseline`: adopting the pack on a stack with history hides exactly the old
findings; a new one still shows and still fails the exit status."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from test_state import FIXTURE, SHOP

from golive import cli
from golive.adoption.baseline import apply, dumps, fingerprint, load, normalized_message
from golive.analysis.findings import CheckResult, Finding

ROTATION = SHOP + "aws:secretsmanager/secretRotation:SecretRotation::cio-track-api-key-rotation"
PLAIN = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "programs" / "cio_plain"


def finding(policy: str = "customerio-secret-rotation", urn: str = ROTATION, detail: str = "it rotates every 120 days",
            level: str = "mandatory") -> Finding:
    description = "Every Customer.io credential secret rotates at least every 90 days."
    return Finding(
        policy_name=policy, policy_pack_name="golive-customerio", policy_pack_version="0.1.0",
        enforcement_level=level, severity="high", message=f"{description}\n{detail}", description=description,
        resource_urn=urn, resource_type="aws:secretsmanager/secretRotation:SecretRotation",
        resource_name=urn.rsplit("::", 1)[-1],
    )


def result(*findings: Finding) -> CheckResult:
    return CheckResult(project="shop", stack="production", packs=[], resource_count=3, findings=list(findings))


def baseline_of(tmp_path: Path, *findings: Finding, stack: str = "production") -> Path:
    path = tmp_path / "baseline.json"
    path.write_text(dumps(findings, "shop", stack))
    return path


# --- what counts as the same finding -------------------------------------------------------------------

def test_numbers_in_a_message_do_not_make_a_new_finding():
    assert fingerprint(finding(detail="it rotates every 120 days")) == fingerprint(
        finding(detail="it rotates  every 150 days\n")
    )
    assert normalized_message(finding(detail="SPF at cio12345.example.com: 11 lookups")) == (
        "SPF at cio#.example.com: # lookups"
    )
    # The level and the pack's version do not either: an old violation made mandatory is still old.
    assert fingerprint(finding(level="advisory")) == fingerprint(finding())


@pytest.mark.parametrize(
    "other",
    [
        finding(policy="customerio-region"),
        finding(urn=ROTATION + "-2"),
        finding(detail="environment variable CIO_APP_KEY holds a credential"),
    ],
)
def test_another_policy_resource_or_subject_is_a_new_finding(other):
    assert fingerprint(other) != fingerprint(finding(detail="environment variable CIO_TRACK_KEY holds a credential"))


def test_baseline_hides_exactly_its_findings_one_each(tmp_path):
    old = finding()
    new = finding(detail="environment variable CIO_APP_KEY holds a credential")
    applied = apply(result(old, old, new), load(str(baseline_of(tmp_path, old))))
    assert applied.hidden == [old]
    assert applied.result.findings == [old, new]  # the second copy of the old one is not in the baseline
    assert applied.result.exit_code() == 1 and applied.resolved == 0

    fixed = apply(result(new), load(str(baseline_of(tmp_path, old))))
    assert (fixed.hidden, fixed.result.findings, fixed.resolved) == ([], [new], 1)


def test_the_written_file_is_for_people_too(tmp_path):
    data = json.loads(baseline_of(tmp_path, finding()).read_text())
    assert data["format"] == "golive-baseline" and data["version"] == 1
    assert (data["project"], data["stack"]) == ("shop", "production")
    [entry] = data["findings"]
    assert entry == {
        "fingerprint": fingerprint(finding()),
        "policyPack": "golive-customerio",
        "policyName": "customerio-secret-rotation",
        "enforcementLevel": "mandatory",
        "resourceUrn": ROTATION,
        "message": "it rotates every 120 days",
        "numbers": [120],
    }


def test_a_finding_further_from_its_limit_is_a_new_one(tmp_path):
    at_180 = finding(detail="it rotates every 180 days (automaticallyAfterDays); at most 90 allowed")
    at_900 = finding(detail="it rotates every 900 days (automaticallyAfterDays); at most 90 allowed")
    at_120 = finding(detail="it rotates every 120 days (automaticallyAfterDays); at most 90 allowed")
    base = load(str(baseline_of(tmp_path, at_180)))
    worse = apply(result(at_900), base)
    assert worse.result.findings == [at_900] and worse.hidden == [] and worse.result.exit_code() == 1
    assert worse.resolved == 0 and [f for f, _ in worse.worse] == [at_900]  # not "fixed": worse
    better = apply(result(at_120), base)
    assert better.hidden == [at_120] and better.result.findings == [] and better.worse == []
    # Two copies: the unchanged one keeps its entry, the worse one shows.
    mixed = apply(result(at_900, at_180), load(str(baseline_of(tmp_path, at_180, at_180))))
    assert mixed.hidden == [at_180] and mixed.result.findings == [at_900]


@pytest.mark.parametrize(("then", "now", "is_worse"), [
    ([180, 90], [900, 90], True),    # further above "at most 90"
    ([180, 90], [120, 90], False),   # nearer
    ([512, 1024, 8301], [256, 1024, 8301], True),   # further below "at least 1024" (RFC 8301 is further off)
    ([11, 7208, 10], [12, 7208, 10], True),          # SPF lookups over RFC 7208's 10
    ([0.1, 10, 0.05, 5], [0.2, 20, 0.05, 5], True),  # a looser alarm threshold
    ([180, 90], [900, 60], False),   # the limit changed too: no number left the same to judge by
    ([180], [900], False),           # no limit stated: cannot be judged
    ([120, 90], [60, 90], False),    # crossed to the limit's other side
])
def test_which_numbers_are_worse(then, now, is_worse):
    from golive.adoption.baseline import worse

    assert worse([float(n) for n in now], [float(n) for n in then]) is is_worse


def test_old_baselines_without_numbers_still_hide_by_fingerprint(tmp_path):
    at_180 = finding(detail="it rotates every 180 days; at most 90 allowed")
    path = baseline_of(tmp_path, at_180)
    data = json.loads(path.read_text())
    del data["findings"][0]["numbers"]
    path.write_text(json.dumps(data))
    at_900 = finding(detail="it rotates every 900 days; at most 90 allowed")
    assert apply(result(at_900), load(str(path))).hidden == [at_900]
    data["findings"][0]["numbers"] = ["180"]
    path.write_text(json.dumps(data))
    with pytest.raises(Exception, match=r'findings\[0\]: "numbers" must be a list of numbers'):
        load(str(path))


# --- end to end, on a stack's state ------------------------------------------------------------------

def check(argv: list[str], capsys) -> tuple[int, dict]:
    code = cli.main(["check", *argv, "--format", "json"])
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    return code, json.loads(captured.out)


def test_adopting_the_pack_on_a_stack_with_history(tmp_path, capsys):
    baseline = tmp_path / "golive-baseline.json"
    # 1. The stack as it is: everything it already has goes into the baseline (the run reports as usual,
    #    and passes: every finding it shows is in the baseline it wrote).
    code, report = check(["--state", str(FIXTURE), "--write-baseline", str(baseline)], capsys)
    old = {(e["policyName"], e["resourceUrn"]) for e in report["policyEvents"]}
    # The shop's nine violations, its missing Site ID, and the advice that no staging fingerprints were given.
    assert code == 0 and len(report["policyEvents"]) == 11
    assert report["baselineWritten"] == {"file": str(baseline), "findings": 11}
    assert len(json.loads(baseline.read_text())["findings"]) == 11
    assert [p.name for p in tmp_path.iterdir()] == [baseline.name]  # no temporary file left behind

    # 2. Nothing changed: nothing to report, and the check passes.
    code, report = check(["--state", str(FIXTURE), "--baseline", str(baseline)], capsys)
    assert (code, report["policyEvents"]) == (0, [])
    assert report["baseline"] == {"file": str(baseline), "hidden": 11, "resolved": 0}
    assert report["summary"] == {"mandatory": 0, "advisory": 0}

    # 3. A new violation: it shows, alone, and fails the check; the old ones stay hidden.
    data = json.loads(FIXTURE.read_text())
    second = copy.deepcopy(data["deployment"]["resources"][4])
    second["urn"] = second["urn"].replace("cio-track-api-key-rotation", "cio-site-id-rotation")
    for props in ("inputs", "outputs"):
        second[props]["rotationRules"]["automaticallyAfterDays"] = 180
    data["deployment"]["resources"].append(second)
    later = tmp_path / "later.json"
    later.write_text(json.dumps(data))
    code, report = check(["--state", str(later), "--baseline", str(baseline)], capsys)
    assert code == 1
    assert [(e["policyName"], e["resourceUrn"]) for e in report["policyEvents"]] == [
        ("customerio-secret-rotation", second["urn"])
    ]
    assert report["baseline"]["hidden"] == 11
    assert {(e["policyName"], e["resourceUrn"]) for e in report["policyEvents"]}.isdisjoint(old)

    # 4. The old rotation fixed: one entry no longer found; writing back with the same baseline keeps
    #    only what it hid, so the new violation is not let in by the run that reports it.
    for props in ("inputs", "outputs"):
        data["deployment"]["resources"][4][props]["rotationRules"]["automaticallyAfterDays"] = 30
    later.write_text(json.dumps(data))
    pruned = tmp_path / "pruned.json"
    code, report = check(["--state", str(later), "--baseline", str(baseline), "--write-baseline", str(pruned)],
                         capsys)
    assert code == 1 and report["baseline"] == {"file": str(baseline), "hidden": 10, "resolved": 1}
    written = json.loads(pruned.read_text())["findings"]
    assert len(written) == 10 and ROTATION not in {e["resourceUrn"] for e in written}
    assert second["urn"] not in {e["resourceUrn"] for e in written}


def test_a_rotation_from_180_to_900_days_is_new_and_pruning_keeps_the_old_entry(tmp_path, capsys):
    data = json.loads(FIXTURE.read_text())
    rotation = data["deployment"]["resources"][4]

    def rotating_every(days: int) -> Path:
        for props in ("inputs", "outputs"):
            rotation[props]["rotationRules"]["automaticallyAfterDays"] = days
        path = tmp_path / f"state-{days}.json"
        path.write_text(json.dumps(data))
        return path

    baseline = tmp_path / "baseline.json"
    code, report = check(["--state", str(rotating_every(180)), "--write-baseline", str(baseline)], capsys)
    assert code == 0 and any("every 180 days" in e["message"] for e in report["policyEvents"])
    code, report = check(["--state", str(rotating_every(900)), "--baseline", str(baseline)], capsys)
    [event] = report["policyEvents"]
    assert code == 1 and "every 900 days" in event["message"] and event["resourceUrn"] == ROTATION
    assert report["baseline"] == {"file": str(baseline), "hidden": 10, "resolved": 0, "worse": 1}
    pruned = tmp_path / "pruned.json"
    code, _ = check(["--state", str(rotating_every(900)), "--baseline", str(baseline),
                     "--write-baseline", str(pruned)], capsys)
    assert code == 1  # the worse finding was not written, so it still counts
    assert json.loads(pruned.read_text()) == json.loads(baseline.read_text())  # the old entry, at 180, kept
    assert check(["--state", str(rotating_every(120)), "--baseline", str(pruned)], capsys)[0] == 0
    assert cli.main(["check", "--state", str(rotating_every(900)), "--baseline", str(baseline)]) == 1
    assert (f"Baseline {baseline}: 10 known findings hidden; 1 finding worse than in it, shown as new."
            in capsys.readouterr().out)


def test_text_report_tells_how_many_were_hidden(tmp_path, capsys):
    baseline = tmp_path / "b.json"
    assert cli.main(["check", "--state", str(FIXTURE), "--write-baseline", str(baseline), "--format", "text"]) == 0
    assert f"Baseline written to {baseline} with 11 findings." in capsys.readouterr().out
    assert cli.main(["check", "--state", str(FIXTURE), "--baseline", str(baseline)]) == 0
    out = capsys.readouterr().out
    assert f"Baseline {baseline}: 11 known findings hidden." in out
    assert "Summary: 0 mandatory, 0 advisory" in out


def test_baseline_on_the_program_path(tmp_path, capsys):
    baseline = tmp_path / "b.json"
    argv = [str(PLAIN), "--stack", "production", "--config", "cio-plain:break=flag-25"]
    code, report = check([*argv, "--write-baseline", str(baseline)], capsys)
    # The flag, and the advice that no staging fingerprints were given to compare the keys with.
    assert code == 0 and report["preview"] is True and len(report["policyEvents"]) == 2
    code, report = check([*argv, "--baseline", str(baseline)], capsys)
    # Both hidden: the flag, and the advice that no staging fingerprints were given to compare the keys with.
    assert (code, report["policyEvents"], report["baseline"]["hidden"]) == (0, [], 2)


# --- bad input: one line, exit 2 -----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{", "not JSON: Expecting property name"),
        ("[]", 'not a golive baseline (no "format": "golive-baseline"'),
        ('{"format": "golive-baseline", "version": 2}', "baseline version 2; this golive reads 1"),
        ('{"format": "golive-baseline", "version": 1, "project": "shop", "findings": []}',
         '"project" and "stack" must be non-empty strings'),
        ('{"format": "golive-baseline", "version": 1, "project": "shop", "stack": "production", "findings": {}}',
         '"findings" must be a list'),
        ('{"format": "golive-baseline", "version": 1, "project": "shop", "stack": "production", '
         '"findings": [{"policyName": "x"}]}', 'findings[0]: no "fingerprint"'),
        (dumps([], "shop", "staging"), "written for shop/staging, but this check is of shop/production"),
    ],
)
def test_a_malformed_baseline_is_one_line_and_exit_2(text, needle, tmp_path, capsys):
    path = tmp_path / "baseline.json"
    path.write_text(text)
    assert cli.main(["check", "--state", str(FIXTURE), "--baseline", str(path)]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert str(path) in line and needle in line, line
    assert captured.out == ""


def test_unusable_baseline_paths_fail_before_anything_runs(tmp_path, capsys, monkeypatch):
    import golive.preview.state

    def never(*args, **kwargs):
        raise AssertionError("the state was read")

    monkeypatch.setattr(golive.preview.state, "load_state", never)
    assert cli.main(["check", "--state", str(FIXTURE), "--baseline", str(tmp_path / "none.json")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"golive: error: --baseline {tmp_path / 'none.json'}: No such file or directory"
    ]
    assert cli.main(["check", "--state", str(FIXTURE), "--write-baseline", str(tmp_path / "no" / "b.json")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"golive: error: --write-baseline {tmp_path / 'no' / 'b.json'}: folder")

