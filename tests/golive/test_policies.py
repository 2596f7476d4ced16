"""`golive policies [--format json]`: every policy of the catalog with its level, severity, section, why
and default thresholds, whatever the catalog holds."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

from checklist import catalog
from golive import cli
from golive.adoption import policies
from golive.adoption.waivers import catalog_info
from golive.packfolder import PACK_DIR


def listed(capsys, *argv: str) -> str:
    code = cli.main(["policies", *argv])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    return out


def test_json_lists_every_policy_of_the_catalog_in_its_order(capsys):
    data = json.loads(listed(capsys, "--format", "json"))
    version = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())["version"]
    assert (data["pack"], data["version"], data["checklist"]) == ("golive-customerio", version, catalog.CHECKLIST)
    assert [p["name"] for p in data["policies"]] == [spec.name for spec in catalog.POLICIES]
    for entry, spec in zip(data["policies"], catalog.POLICIES, strict=True):
        assert entry == {"name": spec.name, "level": spec.level, "severity": spec.severity, "section": spec.section,
                         "description": spec.description, "rationale": spec.rationale, "defaults": spec.defaults()}
    by_name = {p["name"]: p for p in data["policies"]}
    assert by_name["customerio-secret-rotation"]["defaults"] == {"maxDays": catalog.MAX_ROTATION_DAYS}
    assert by_name["monitoring-alarm-thresholds"]["defaults"]["thresholds"]["bounce_rate"] == 0.05
    assert by_name["rollout-flag-stage"]["defaults"] == {}
    # Levels and severities are what the pack itself declares over the analyzer protocol.
    served = {p.name: (p.enforcement_level, p.severity) for p in catalog_info().policies}
    assert {p["name"]: (p["level"], p["severity"]) for p in data["policies"]} == served


def test_text_gives_each_policy_its_row_its_reason_in_one_line_and_its_defaults(capsys):
    lines = listed(capsys).splitlines()
    assert lines[0].startswith(f"golive-customerio {catalog_info().version}: {len(catalog.POLICIES)} policies")
    assert lines[2].split() == ["POLICY", "LEVEL", "SEVERITY", "SECTION"]
    for spec in catalog.POLICIES:
        [row] = [i for i, line in enumerate(lines) if line.startswith(spec.name + " ")]
        assert lines[row].split()[:3] == [spec.name, spec.level, spec.severity]
        assert lines[row].endswith(spec.section)
        why = lines[row + 1]
        assert why.startswith("    why: ") and why.endswith(".")
        assert " ".join(spec.rationale.split()).startswith(why.removeprefix("    why: "))
        has_defaults = lines[row + 2].startswith("    defaults: ") if row + 2 < len(lines) else False
        assert has_defaults == bool(spec.config)
    text = "\n".join(lines)
    assert "    defaults: maxDays: 90" in text
    assert "minKeyBits: 1024" in text
    assert "thresholds: api_error_rate 0.01, api_p99_latency_ms 5000, bounce_rate 0.05," in text


def test_a_policy_added_to_the_catalog_is_listed(capsys, monkeypatch):
    extra = dataclasses.replace(catalog.POLICY_BY_NAME["customerio-secret-rotation"], name="zz-new-policy",
                                level="advisory", rationale="First sentence. Second sentence.")
    monkeypatch.setattr(catalog, "POLICIES", (*catalog.POLICIES, extra))
    data = json.loads(listed(capsys, "--format", "json"))
    assert data["policies"][-1]["name"] == "zz-new-policy" and data["policies"][-1]["level"] == "advisory"
    text = listed(capsys)
    assert f"{len(catalog.POLICIES)} policies" in text
    assert "    why: First sentence.\n" in text


@pytest.mark.parametrize(("text", "line"), [
    ("One. Two.", "One."),
    ("No full stop at the end", "No full stop at the end"),
    ("Keys under 1024 bits\n  are weak; e.g.x is fine. Next.", "Keys under 1024 bits are weak; e.g.x is fine."),
])
def test_one_line_is_the_first_sentence(text, line):
    assert policies.one_line(text) == line
