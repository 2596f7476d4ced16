"""`golive explain POLICY`: section, why, thresholds in force after config, how to fix, how to waive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checklist import catalog
from golive import cli
from golive.adoption.waivers import catalog_info
from golive.analysis import policyconfig

TODAY = "2026-12-01"


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setenv("GOLIVE_TODAY", TODAY)


def explain(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["explain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def snippet(out: str) -> dict:
    """The JSON waiver the explanation offers to paste."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  {\""))
    return json.loads("\n".join(lines[start:]))


@pytest.mark.parametrize("spec", catalog.POLICIES, ids=lambda s: s.name)
def test_every_policy_explains_itself(capsys, spec):
    code, out, err = explain(capsys, spec.name)
    assert code == 0 and err == ""
    flat = " ".join(out.split())
    for text in (spec.section, spec.description, spec.rationale, spec.remediation):
        assert " ".join(text.split()) in flat
    assert f"Level: {spec.level} (the catalog's); severity {spec.severity}." in out
    assert "Thresholds in force" in out
    assert f"golive waivers add {spec.name} --reason" in out
    # Ready to paste: the snippet is a waiver golive check accepts as it stands.
    pasted = snippet(out)
    [waiver] = pasted[spec.name]["waivers"]
    assert waiver["expires"] == "2026-12-31" and waiver["stacks"] == ["production"]
    policyconfig.reconcile(catalog_info(), policyconfig.parse(pasted))


def test_thresholds_in_force_come_from_the_config_file(tmp_path, capsys):
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps({"customerio-secret-rotation": {"maxDays": 60}}))
    code, out, _ = explain(capsys, "customerio-secret-rotation", "--policy-pack-config", str(path))
    assert code == 0
    assert f"  maxDays: 60  (from {path}; the checklist's is 90)" in out.splitlines()
    code, out, _ = explain(capsys, "customerio-secret-rotation")
    assert "  maxDays: 90  (the checklist's)" in out.splitlines()


def test_monitoring_thresholds_show_every_signal_with_overrides(tmp_path, capsys):
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps({"monitoring-alarm-thresholds": {"thresholds": {"bounce_rate": 0.03,
                                                                               "delivery_rate": 0.9}}}))
    code, out, _ = explain(capsys, "monitoring-alarm-thresholds", "--policy-pack-config", str(path))
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and line.split()}
    for name in catalog.SIGNALS:
        assert name in rows
    assert rows["bounce_rate"].rstrip().endswith(f"0.05       0.03 ({path})")
    assert rows["delivery_rate"].rstrip().endswith(f"0.95       0.9 ({path}, looser than the checklist)")
    assert rows["queue_depth"].split()[-2:] == ["10000", "10000"]
    # What the rule demands beyond the threshold: the statistic and the longest time to alarm.
    assert "5 seconds p99 15 min 5000" in " ".join(rows["api_p99_latency_ms"].split())
    assert "over 5% Sum of counts 30 min 0.05" in " ".join(rows["bounce_rate"].split())


def test_level_and_stack_in_force(tmp_path, capsys):
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps({"rollout-flag-stage": "advisory", "all": "mandatory",
                                "customerio-region": {"productionStackPatterns": ["live"]}}))
    _, out, _ = explain(capsys, "rollout-flag-stage", "--policy-pack-config", str(path))
    assert f"Level: advisory (set in {path}; the catalog's is mandatory); severity high." in out
    _, out, _ = explain(capsys, "email-dmarc-record", "--policy-pack-config", str(path))
    assert f"Level: mandatory (set in {path}; the catalog's is advisory)" in out
    _, out, _ = explain(capsys, "customerio-region", "--policy-pack-config", str(path), "--stack", "production")
    assert "Stack production is not production (live): its findings are advisory." in out
    _, out, _ = explain(capsys, "customerio-region", "--stack", "acme/shop/production")
    assert "Stack acme/shop/production is production (prod, production, " in out


def test_production_stacks_decide_for_every_policy_and_the_guard_keeps_its_level(tmp_path, capsys):
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps({"customerio-region": {"productionStacks": ["main"]},
                                "pack-config-not-looser": "disabled"}))
    _, out, _ = explain(capsys, "rollout-flag-stage", "--policy-pack-config", str(path), "--stack", "main")
    assert "Stack main is production (productionStacks main): its findings are mandatory." in out
    _, out, _ = explain(capsys, "rollout-flag-stage", "--policy-pack-config", str(path), "--stack", "prod")
    assert "Stack prod is not production (productionStacks main): its findings are advisory." in out
    _, out, _ = explain(capsys, "pack-config-not-looser", "--policy-pack-config", str(path), "--stack", "main")
    assert "The pack runs it at mandatory all the same" in out
    assert "Stack main is production (productionStacks main): its findings are mandatory." in out


def test_waivers_in_the_file_are_listed_with_their_status(tmp_path, capsys):
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps({"email-spf-record": {"waivers": [
        {"id": "legacy", "reason": "Old include until CIO-9", "owner": "@mail", "expires": "2026-12-10",
         "stacks": ["staging"]},
        {"reason": "Gone", "owner": "@mail", "expires": "2026-11-30"},
    ]}}))
    code, out, _ = explain(capsys, "email-spf-record", "--policy-pack-config", str(path), "--stack", "production")
    assert code == 0
    flat = " ".join(out.split())
    assert "legacy: active (not for stack production), expires in 9 days; owner @mail; stacks staging" in flat
    assert "#2: expired, expired 1 day ago" in flat


def test_unknown_policy_exits_2_with_the_names(capsys):
    code, out, err = explain(capsys, "email-spf")
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert line.startswith("golive: error: 'email-spf' is not a policy of pack golive-customerio (its policies: ")
    assert all(spec.name in line for spec in catalog.POLICIES)


def test_a_config_file_golive_check_would_refuse_is_refused(tmp_path, capsys):
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps({"email-spf-record": {"waivers": [{"reason": "r", "owner": "@o",
                                                                  "expires": "2027-06-01"}]}}))
    code, _, err = explain(capsys, "email-spf-record", "--policy-pack-config", str(path))
    assert code == 2
    assert "email-spf-record waiver #1: it expires 2027-06-01, more than 90 days ahead (at most 2027-03-01)" in err
    code, _, err = explain(capsys, "email-spf-record", "--policy-pack-config", str(Path(tmp_path) / "missing.json"))
    assert code == 2 and "missing.json: cannot read" in err
