"""`--policy-pack-config` cannot quietly weaken the checklist in production: each looser setting is a
mandatory finding of pack-config-not-looser, naming the setting, the checklist's value and the file.
`golive check` end to end, and the pack over gRPC without a file name as under `pulumi preview`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golive import cli
from golive.analysis import policyconfig
from golive.analysis.analyzer import AnalyzerSession
from golive.analysis.findings import build_result
from golive.packfolder import PACK_DIR
from golive.preview.program import run_program

PLAIN = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "programs" / "cio_plain"
GUARD = "pack-config-not-looser"
KEYS_ADVICE = ("customerio-production-keys-distinct", "advisory")


def check(capsys, tmp_path: Path, config: dict, stack: str = "production") -> tuple[int, list[dict], Path]:
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps(config))
    code = cli.main(["check", str(PLAIN), "--stack", stack, "--format", "json", "--policy-pack-config", str(path)])
    # Without the advice every production stack here gets, that no staging fingerprints were given to
    # compare its keys with (tests/policies/test_credentials.py covers it).
    events = [e for e in json.loads(capsys.readouterr().out)["policyEvents"]
              if (e["policyName"], e["enforcementLevel"]) != KEYS_ADVICE]
    return code, events, path


@pytest.mark.parametrize(("config", "says"), [
    ({"customerio-secret-rotation": {"maxDays": 365}},
     "customerio-secret-rotation maxDays is 365, looser than the checklist's at most 90"),
    ({"email-dkim-record": {"minKeyBits": 512}},
     "email-dkim-record minKeyBits is 512, looser than the checklist's at least 1024"),
    ({"monitoring-alarm-thresholds": {"thresholds": {"bounce_rate": 0.2}}},
     "monitoring-alarm-thresholds thresholds.bounce_rate is 0.2, looser than the checklist's 0.05"),
    ({"email-spf-record": "disabled"}, "email-spf-record is disabled; the checklist's level is mandatory"),
    ({"all": "advisory"}, "`all` is advisory, which lowers every mandatory policy"),
    # Lowering the guard itself does not silence it.
    ({GUARD: "disabled", "customerio-secret-rotation": {"maxDays": 365}}, f"{GUARD} is disabled"),
    ({GUARD: "advisory"}, f"{GUARD} is advisory"),
], ids=["maxDays", "minKeyBits", "bounce", "disabled", "all-advisory", "guard-disabled", "guard-advisory"])
def test_a_looser_setting_blocks_production_naming_setting_value_and_file(config, says, tmp_path, capsys):
    code, events, path = check(capsys, tmp_path, config)
    assert code == 1
    assert {(e["policyName"], e["enforcementLevel"]) for e in events} == {(GUARD, "mandatory")}
    assert any(says in e["message"] and f"(set in {path})" in e["message"] for e in events)
    assert all(e["resourceType"] == "pulumi:pulumi:Stack" for e in events)


def test_stricter_settings_are_always_allowed(tmp_path, capsys):
    code, events, _ = check(capsys, tmp_path, {
        "customerio-secret-rotation": {"maxDays": 30},
        "email-dkim-record": {"minKeyBits": 2048},
        "monitoring-alarm-thresholds": {"thresholds": {"delivery_rate": 0.96}},
        "email-dmarc-record": "mandatory",
    })
    assert (code, events) == (0, [])


def test_outside_production_the_config_is_the_teams_business(tmp_path, capsys):
    code, events, _ = check(capsys, tmp_path, {"customerio-secret-rotation": {"maxDays": 365}}, stack="staging")
    assert (code, events) == (0, [])


def test_a_waiver_with_an_expiry_accepts_the_deviation(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GOLIVE_TODAY", "2026-12-01")
    code, events, _ = check(capsys, tmp_path, {
        "customerio-secret-rotation": {"maxDays": 120},
        GUARD: {"waivers": [{"reason": "Quarterly rotation until CIO-77", "owner": "@payments",
                             "expires": "2026-12-31", "stacks": ["production"]}]},
    })
    [event] = events
    assert (code, event["policyName"], event["enforcementLevel"]) == (0, GUARD, "advisory")
    assert event["waived"] == {"reason": "Quarterly rotation until CIO-77", "owner": "@payments",
                               "expires": "2026-12-31"}
    assert "maxDays is 120" in event["message"]


def test_without_a_file_name_as_under_pulumi_preview_the_config_is_named_generically():
    graph = run_program(PLAIN, "production")
    with AnalyzerSession.start(PACK_DIR, graph) as session:
        config = policyconfig.reconcile(session.info, policyconfig.parse({"email-spf-record": "advisory"}))
        result = build_result(graph, session.info, session.run(config))
    [finding] = [f for f in result.findings if (f.policy_name, f.enforcement_level) != KEYS_ADVICE]
    assert (finding.policy_name, finding.enforcement_level) == (GUARD, "mandatory")
    assert "email-spf-record is advisory; the checklist's level is mandatory (set in the policy pack config)" in (
        finding.detail)
    assert finding.production is not None and finding.production.signal == "its name production matches 'production'"
