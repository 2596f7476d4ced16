"""Reporters: structure of each format, SARIF against the official 2.1.0 schema, JUnit as XML, exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from golive.adoption.baseline import normalized_message
from golive.analysis.analyzer import AnalyzerSession
from golive.analysis.findings import CheckResult, ConfigSource, Finding, PackSummary, ProductionSignal, build_result
from golive.analysis.policyconfig import PackInfo, PolicyInfo
from golive.analysis.protocol import Diagnostic, Remediation
from golive.analysis.report import display_type, formats, render
from golive.preview.graph import InvokeRecord, ResourceGraph, ResourceNode, SourcePosition

SARIF_SCHEMA = Path(__file__).resolve().parent.parent / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
PREFIX = "urn:pulumi:prod::shop::"
STACK = f"{PREFIX}pulumi:pulumi:Stack::shop-prod"
BUCKET = f"{PREFIX}aws:s3/bucket:Bucket::logs"
ROTATION = f"{PREFIX}my:app:Service$aws:secretsmanager/secretRotation:SecretRotation::rot"
PROVIDER = f"{PREFIX}pulumi:providers:aws::default_7_51_1"
SECRET_VALUE = "sk_live_do_not_print"

INFO = PackInfo(
    name="checks",
    version="0.3.0",
    description="",
    supports_config=True,
    policies=(
        PolicyInfo(
            "bucket-versioning",
            "Buckets keep versions.",
            "mandatory",
            "high",
            "resource",
            tags=("storage",),
            remediation_steps="Turn versioning on.",
            url="https://example.com/bv",
        ),
        PolicyInfo("quiet-policy", "Never fires.", "mandatory", "", "stack"),
        PolicyInfo("rotation-linked", "Rotations rotate a secret.", "mandatory", "critical", "stack"),
        PolicyInfo("stack-note", "A note.", "advisory", "low", "stack"),
        PolicyInfo("switched-off", "Disabled here.", "disabled", "", "stack"),
    ),
)


def graph() -> ResourceGraph:
    return ResourceGraph(
        project="shop",
        stack="prod",
        program_dir="/repo/infra",
        resources=[
            ResourceNode(STACK, "pulumi:pulumi:Stack", "shop-prod", False, {}, {}),
            ResourceNode(PROVIDER, "pulumi:providers:aws", "default_7_51_1", True, {}, {}),
            ResourceNode(
                BUCKET,
                "aws:s3/bucket:Bucket",
                "logs",
                True,
                {
                    "token": {
                        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                        "value": SECRET_VALUE,
                    }
                },
                {},
                parent=STACK,
                source=SourcePosition("__main__.py", 12, 5),
            ),
            ResourceNode(
                ROTATION,
                "aws:secretsmanager/secretRotation:SecretRotation",
                "rot",
                True,
                {},
                {},
                source=SourcePosition("components/service.py", 40),
            ),
        ],
        invokes=[
            InvokeRecord(
                "aws:index/getCallerIdentity:getCallerIdentity",
                "placeholder",
                SourcePosition("__main__.py", 3),
            )
        ],
    )


def diag(policy, level, urn, message, severity="", description=None) -> Diagnostic:
    description = description if description is not None else INFO.policy(policy).description
    return Diagnostic(
        policy,
        "checks",
        "0.3.0",
        description,
        f"{description}\n{message}",
        level,
        severity,
        urn,
        "",
        "analyzeStack",
    )


DIAGS = [
    diag("stack-note", "advisory", STACK, "stack-wide | <b>note</b>", "low"),
    diag("bucket-versioning", "mandatory", BUCKET, "versioning is off", "high"),
    diag("rotation-linked", "mandatory", ROTATION, "linked to no secret", "critical"),
    diag(
        "bucket-versioning",
        "advisory",
        PROVIDER,
        "can't run policy 'bucket-versioning' from policy pack 'checks@v0.0.1' during preview: unknown",
    ),
]


def result(diagnostics=DIAGS, **kwargs) -> CheckResult:
    return build_result(graph(), INFO, diagnostics, pack_python="golive's interpreter", **kwargs)


def test_every_format_is_registered_and_unknown_ones_refused():
    assert set(formats()) == {"text", "json", "sarif", "junit", "markdown"}
    with pytest.raises(ValueError, match="unknown report format 'yaml'"):
        render("yaml", result())


def test_build_result_joins_the_graph():
    r = result(
        [
            *DIAGS,
            diag("stack-note", "advisory", "", "no urn"),
            diag("stack-note", "advisory", f"{PREFIX}aws:iam/role:Role::gone", "not in graph"),
        ]
    )
    by_message = {f.detail: f for f in r.findings}
    bucket = by_message["versioning is off"]
    assert (bucket.resource_type, bucket.resource_name, bucket.source) == (
        "aws:s3/bucket:Bucket",
        "logs",
        SourcePosition("__main__.py", 12, 5),
    )
    assert by_message["no urn"].resource_urn == STACK and by_message["no urn"].source is None
    assert (by_message["not in graph"].resource_type, by_message["not in graph"].resource_name) == (
        "aws:iam/role:Role",
        "gone",
    )
    assert r.resource_count == 4 and r.packs == [PackSummary("checks", "0.3.0", INFO)]
    # The CLI's order: level, then severity, then policy, then resource.
    assert [(f.enforcement_level, f.policy_name) for f in result().findings] == [
        ("mandatory", "rotation-linked"),
        ("mandatory", "bucket-versioning"),
        ("advisory", "stack-note"),
        ("advisory", "bucket-versioning"),
    ]


def test_exit_code():
    assert result().exit_code() == 1
    assert result([d for d in DIAGS if d.enforcement_level == "advisory"]).exit_code() == 0
    assert result([]).exit_code() == 0


def test_display_type_is_the_clis():
    assert display_type("aws:s3/bucket:Bucket") == "aws:s3:Bucket"
    assert (
        display_type("aws:secretsmanager/secretRotation:SecretRotation")
        == "aws:secretsmanager:SecretRotation"
    )
    assert display_type("aws:iam/rolePolicy:Policy") == "aws:iam/rolePolicy:Policy"
    assert display_type("pulumi:pulumi:Stack") == "pulumi:pulumi:Stack"


def test_text_looks_like_the_clis_policies_block():
    lines = render("text", result()).splitlines()
    assert lines[0] == "Policies:"
    assert lines[1] == "    ❌ checks@v0.3.0"
    assert lines[2] == (
        "        - [mandatory] [severity: critical]  rotation-linked  "
        "(aws:secretsmanager:SecretRotation: rot)"
    )
    assert lines[3:6] == [
        "          Rotations rotate a secret.",
        "          linked to no secret",
        "          at components/service.py:40",
    ]
    assert "        - [advisory] [severity: low]  stack-note  (pulumi:pulumi:Stack: shop-prod)" in lines
    summary = next(line for line in lines if line.startswith("Summary:"))
    assert (
        summary == "Summary: 2 mandatory, 2 advisory over 4 resources of shop/prod: the preview would fail."
    )
    assert "    - aws:index/getCallerIdentity:getCallerIdentity  (placeholder)  at __main__.py:3" in lines
    advisory_only = render("text", result([DIAGS[0]])).splitlines()
    assert advisory_only[1] == "    ⚠️ checks@v0.3.0"
    assert "the preview would pass" in next(line for line in advisory_only if line.startswith("Summary:"))
    assert render("text", result([])).splitlines()[1] == "    ✅ checks@v0.3.0"


def test_a_checked_state_is_not_called_a_preview():
    state = replace(result(), preview=False)
    assert "the stack as deployed fails." in render("text", state)
    assert "the stack as deployed passes." in render("text", replace(result([]), preview=False))
    md = render("markdown", state)
    assert md.startswith("## ❌ golive: `shop` / `prod` as deployed fails — 2 mandatory, 2 advisory\n")
    assert "State of 4 resources, as last deployed, checked offline by" in md and "Preview" not in md
    assert json.loads(render("json", state))["preview"] is False
    assert json.loads(render("sarif", state))["runs"][0]["properties"]["preview"] is False
    assert '<property name="preview" value="false" />' in render("junit", state)
    assert "the preview would" not in render("text", state)


def test_text_lists_remediations_like_the_cli():
    text = render("text", result(remediations=[Remediation("fixer", "checks", "0.3.0", BUCKET)] * 2))
    assert "        - [remediate]  fixer  (2 resources)" in text


def test_json_has_exactly_the_documented_shape():
    doc = json.loads(render("json", result()))
    assert list(doc) == [
        "project",
        "stack",
        "preview",
        "policyPacks",
        "resourceCount",
        "policyEvents",
        "summary",
        "invokesAnsweredOffline",
    ]
    assert (doc["project"], doc["stack"], doc["preview"], doc["resourceCount"]) == ("shop", "prod", True, 4)
    assert doc["policyPacks"] == [{"name": "checks", "version": "0.3.0"}]
    assert doc["summary"] == {"mandatory": 2, "advisory": 2}
    event = next(e for e in doc["policyEvents"] if e["resourceUrn"] == BUCKET)
    assert event == {
        "policyName": "bucket-versioning",
        "policyPackName": "checks",
        "policyPackVersion": "0.3.0",
        "enforcementLevel": "mandatory",
        "severity": "high",
        "message": "Buckets keep versions.\nversioning is off",
        "resourceUrn": BUCKET,
        "resourceType": "aws:s3/bucket:Bucket",
        "resourceName": "logs",
        "source": {"file": "__main__.py", "line": 12},
    }
    assert next(e for e in doc["policyEvents"] if e["resourceUrn"] == PROVIDER)["source"] is None
    assert doc["invokesAnsweredOffline"] == [
        {
            "token": "aws:index/getCallerIdentity:getCallerIdentity",
            "answered": "placeholder",
            "source": {"file": "__main__.py", "line": 3},
        }
    ]


@pytest.fixture(scope="module")
def sarif_validator():
    schema = json.loads(SARIF_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_sarif_is_valid_against_the_official_schema(sarif_validator):
    doc = json.loads(render("sarif", result()))
    errors = sorted(sarif_validator.iter_errors(doc), key=str)
    assert not errors, errors[0].message
    broken = json.loads(json.dumps(doc))
    broken["runs"][0]["results"][0]["level"] = "fatal"  # the check can fail
    assert list(sarif_validator.iter_errors(broken))
    empty = json.loads(render("sarif", result([])))
    assert not list(sarif_validator.iter_errors(empty)) and empty["runs"][0]["results"] == []


def test_sarif_rules_results_and_locations():
    doc = json.loads(render("sarif", result(source_root="/repo")))
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0" and run["tool"]["driver"]["name"] == "golive"
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [p.name for p in INFO.policies]
    bv = rules[0]
    assert (
        bv["shortDescription"]["text"] == "Buckets keep versions."
        and bv["help"]["text"] == "Turn versioning on."
    )
    assert bv["defaultConfiguration"]["level"] == "error" and bv["helpUri"] == "https://example.com/bv"
    assert bv["properties"]["tags"] == ["storage"] and bv["properties"]["severity"] == "high"
    assert rules[3]["defaultConfiguration"]["level"] == "warning"
    assert rules[4]["defaultConfiguration"] == {"level": "none", "enabled": False}
    results = run["results"]
    assert [r["level"] for r in results] == ["error", "error", "warning", "warning"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    bucket = next(
        r for r in results if r["locations"][0].get("logicalLocations", [{}])[0].get("name") == "logs"
    )
    physical = bucket["locations"][0]["physicalLocation"]
    # Relative to the repository root (source_root), so code scanning finds infra/__main__.py.
    assert physical == {
        "artifactLocation": {"uri": "infra/__main__.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 12, "startColumn": 5},
    }
    assert bucket["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == BUCKET
    assert bucket["message"]["text"] == "Buckets keep versions.\nversioning is off"
    provider = next(
        r for r in results if r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == PROVIDER
    )
    assert provider["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "infra/Pulumi.yaml"
    assert len({r["partialFingerprints"]["goliveFinding/v1"] for r in results}) == len(results)
    without_root = json.loads(render("sarif", result()))
    assert (
        without_root["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "__main__.py"
    )


def test_junit_parses_and_counts():
    root = ET.fromstring(render("junit", result()))
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "checks@v0.3.0"
    cases = suite.findall("testcase")
    # 4 findings + one passing case per policy without findings (quiet-policy, switched-off).
    assert len(cases) == int(suite.get("tests")) == 6
    assert int(suite.get("failures")) == len(suite.findall("testcase/failure")) == 2
    assert int(suite.get("skipped")) == 1 and int(root.get("failures")) == 2
    quiet = next(c for c in cases if c.get("name") == "quiet-policy")
    assert list(quiet) == []
    bucket = next(c for c in cases if c.get("name") == "bucket-versioning  (aws:s3:Bucket: logs)")
    failure = bucket.find("failure")
    assert failure.get("message") == "versioning is off" and failure.get("type") == "mandatory"
    assert "at __main__.py:12" in failure.text and BUCKET in failure.text
    assert (bucket.get("file"), bucket.get("line")) == ("__main__.py", "12")
    note = next(c for c in cases if c.get("name").startswith("stack-note"))
    assert note.find("failure") is None and note.find("system-out").text.startswith("[advisory] ")
    assert next(c for c in cases if c.get("name") == "switched-off").find("skipped") is not None


def test_junit_survives_control_characters():
    bad = [diag("stack-note", "mandatory", STACK, "bell\x07 and nul\x00")]
    failure = ET.fromstring(render("junit", result(bad))).find("testsuite/testcase/failure")
    assert "bell and nul" in failure.text


def test_markdown_headline_and_table():
    md = render("markdown", result())
    lines = md.splitlines()
    assert lines[0] == "## ❌ golive: `shop` / `prod` would be blocked — 2 mandatory, 2 advisory"
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| Level")]
    assert len(rows) == 4
    assert rows[1] == (
        "| ❌ mandatory | high | `bucket-versioning` | `aws:s3:Bucket` logs | `__main__.py:12` "
        "| versioning is off |"
    )
    note = next(r for r in rows if "stack-note" in r)
    assert "stack-wide \\| &lt;b&gt;note&lt;/b&gt;" in note  # pipes escaped, no raw HTML
    assert "aws:index/getCallerIdentity:getCallerIdentity" in md
    assert render("markdown", result([DIAGS[0]])).startswith(
        "## ⚠️ golive: `shop` / `prod` passes with 1 advisory"
    )
    assert render("markdown", result([])).startswith("## ✅ golive: `shop` / `prod` passes every policy")


def test_the_data_source_note_says_how_each_was_answered():
    zone = InvokeRecord("aws:route53/getZone:getZone", "results-file", SourcePosition("__main__.py", 4))
    from_file = replace(result(), invokes=[zone])
    text = render("text", from_file)
    assert ("Data sources answered offline, not by the cloud (results-file: the values --invoke-results "
            "gives, the declared types' for other fields):") in text.splitlines()
    assert "    - aws:route53/getZone:getZone  (results-file)  at __main__.py:4" in text
    assert "placeholder" not in text and "placeholder" not in render("markdown", from_file)
    both = render("text", replace(result(), invokes=[*result().invokes, zone]))
    assert "(placeholder: values of the declared types; results-file: the values --invoke-results" in both
    assert "placeholder: values of the declared types." in render("markdown", result())


def test_no_report_carries_property_values():
    for name in formats():
        assert SECRET_VALUE not in render(name, result()), name


def test_reports_from_a_real_pack_session(sarif_validator):
    from test_analyzer import RECORDER, make_graph

    with AnalyzerSession.start(RECORDER, make_graph()) as session:
        diagnostics = session.run()
        r = build_result(
            make_graph(),
            session.info,
            diagnostics,
            pack_python=session.python.note,
            remediations=session.remediations,
        )
    assert r.exit_code() == 1
    assert not list(sarif_validator.iter_errors(json.loads(render("sarif", r))))
    text = render("text", r)
    assert "    ❌ golive-fixture@v1.2.3" in text and "at __main__.py:30" in text
    assert "hunter2" not in "".join(render(name, r) for name in formats())
    assert ET.fromstring(render("junit", r)).get("failures") == "1"


def test_finding_detail_strips_the_description():
    f = Finding("p", "k", "1", "advisory", "", "Desc.\nwhat happened", "Desc.", "", "", "")
    assert f.detail == "what happened"
    assert Finding("p", "k", "1", "advisory", "", "other text", "Desc.", "", "", "").detail == "other text"


def test_the_production_line_is_read_back_and_left_out_of_the_detail():
    waived = "[waived until 2026-12-31 by @ops: CIO-1]"
    said = "[production: its config golive:environment is 'production']"
    plain = Finding("p", "k", "1", "mandatory", "", f"Desc.\n{said}\nwhat happened", "Desc.", "", "", "")
    both = replace(plain, enforcement_level="advisory", message=f"Desc.\n{waived}\n{said}\nwhat happened")
    overruled = replace(plain, enforcement_level="advisory",
                        message="Desc.\n[not production: productionStacks does not list it, although x]\nwhat")
    assert plain.detail == both.detail == "what happened"
    assert plain.production == both.production == ProductionSignal(True, "its config golive:environment is "
                                                                          "'production'")
    assert both.waived is not None and both.waived.reason == "CIO-1"
    assert overruled.production == ProductionSignal(False, "productionStacks does not list it, although x")
    assert overruled.detail == "what"
    assert normalized_message(plain) == normalized_message(both)  # baselines do not see the line
    assert result([diag("bucket-versioning", "mandatory", BUCKET, "off")]).findings[0].production is None


def test_resource_count_leaves_out_resources_read_with_get():
    g = graph()
    g.resources.append(
        ResourceNode(
            f"{PREFIX}aws:s3/bucket:Bucket::old", "aws:s3/bucket:Bucket", "old", True, {}, {}, external=True
        )
    )
    assert build_result(g, INFO, []).resource_count == 4


# --- stack config values a finding quotes -----------------------------------------------------------

def test_a_finding_names_the_config_key_its_quoted_value_came_from(tmp_path):
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text("config:\n  aws:region: us-east-1\n  shop:rotationDays: 180\n  shop:domain: example.com\n"
                          "  shop:limits:\n    maxDays: 90\n    windows: [7, 180]\n  shop:token:\n    secure: abc\n")
    g = graph()
    g.program_dir, g.config_file = str(tmp_path), str(stack_file)
    g.config = {"aws:region": "us-east-1", "shop:rotationDays": "180", "shop:domain": "example.com",
                "shop:limits": '{"maxDays":90,"windows":[7,180]}', "shop:token": "180", "shop:flag": "true"}
    g.secret_keys = ["shop:token"]
    g.resources[3].inputs = {"rotationRules": {"automaticallyAfterDays": 180}, "rotateImmediately": True,
                             "name": "_dmarc.example.com", "zone": "example.com.au", "flag": True}
    message = ("it rotates every 180 days; at most 90 allowed (_dmarc.example.com, example.com.au, true, "
               "us-east-1)")
    r = build_result(g, INFO, [diag("rotation-linked", "mandatory", ROTATION, message, "critical")])
    [finding] = r.findings
    # 180 is quoted, held by the resource and set in the file (twice: the key and a list element).
    # Not named: 90 (no property holds it), example.com (only inside longer names), us-east-1 (not
    # on this resource), the bool, and the secret key whose placeholder happens to read 180.
    assert finding.config == (
        ConfigSource("shop:rotationDays", "180", "rotationRules.automaticallyAfterDays", "Pulumi.prod.yaml", 3),
        ConfigSource("shop:limits.windows[1]", "180", "rotationRules.automaticallyAfterDays", "Pulumi.prod.yaml", 7),
    )
    described = ("rotationRules.automaticallyAfterDays = 180 from stack config shop:rotationDays "
                 "(Pulumi.prod.yaml:3)")
    assert f"          {described}" in render("text", r).splitlines()
    assert "`shop:rotationDays` in `Pulumi.prod.yaml:3`" in render("markdown", r)
    [event] = json.loads(render("json", r))["policyEvents"]
    assert event["config"][0] == {"key": "shop:rotationDays", "value": "180",
                                  "property": "rotationRules.automaticallyAfterDays",
                                  "file": "Pulumi.prod.yaml", "line": 3}
    [entry] = json.loads(render("sarif", r))["runs"][0]["results"]
    assert entry["relatedLocations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "Pulumi.prod.yaml", "uriBaseId": "%SRCROOT%"}, "region": {"startLine": 3}}
    assert entry["relatedLocations"][0]["message"]["text"] == described
    assert described in render("junit", r)
    # A value --config set names the flag, not the file.
    g.config_overrides = ["shop:rotationDays"]
    [overridden] = build_result(g, INFO, [diag("rotation-linked", "mandatory", ROTATION, message)]).findings
    assert overridden.config[0] == ConfigSource("shop:rotationDays", "180", "rotationRules.automaticallyAfterDays")
    assert overridden.config[0].describe().endswith("= 180 from --config shop:rotationDays")


def test_reports_with_config_sources_stay_valid_sarif(tmp_path, sarif_validator):
    g = graph()
    g.config, g.config_file, g.program_dir = {"shop:days": "180"}, str(tmp_path / "Pulumi.prod.yaml"), str(tmp_path)
    g.resources[3].inputs = {"days": 180}
    r = build_result(g, INFO, [diag("rotation-linked", "mandatory", ROTATION, "180 days")])
    assert r.findings[0].config[0].line == 0  # the file is gone: no line, but still the file
    assert not list(sarif_validator.iter_errors(json.loads(render("sarif", r))))
