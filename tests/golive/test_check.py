"""`golive check` end to end: real programs, the real pack over gRPC, one checklist item at a time.

The program is run once per case; the same graph is then analyzed as a first preview (ids and
ARNs unknown) and again with every unknown filled in, as a later preview would see it: a rule
that leans on values instead of the graph gives different verdicts and fails here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from checklist import catalog
from golive import cli
from golive.analysis import policyconfig
from golive.analysis.analyzer import AnalyzerSession
from golive.analysis.findings import build_result
from golive.packfolder import PACK_DIR
from golive.preview.graph import ResourceGraph
from golive.preview.program import run_program

ROOT = Path(__file__).resolve().parents[2]
PLAIN = ROOT / "tests" / "fixtures" / "programs" / "cio_plain"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
STAGING_TRACK_KEY = "0123456789abcdef0123"

BREAKS = {
    "plaintext-lambda-env": ("customerio-credentials-in-secrets-manager", "mandatory"),
    "rotation-120": ("customerio-secret-rotation", "mandatory"),
    "no-app-key": ("customerio-app-api-key", "mandatory"),
    "no-track-key": ("customerio-track-api-credentials", "mandatory"),
    "region-mix": ("customerio-region", "mandatory"),
    "reused-staging-key": ("customerio-production-keys-distinct", "mandatory"),
    "spf-plus-all": ("email-spf-record", "mandatory"),
    "dkim-revoked": ("email-dkim-record", "mandatory"),
    "dmarc-none": ("email-dmarc-record", "advisory"),
    "no-mx": ("email-return-path", "advisory"),
    "bounce-10": ("monitoring-alarm-thresholds", "mandatory"),
    "latency-minimum": ("monitoring-alarm-thresholds", "mandatory"),
    "error-rate-a-day": ("monitoring-alarm-thresholds", "mandatory"),
    "no-actions": ("monitoring-alarm-actions", "mandatory"),
    "flag-25": ("rollout-flag-stage", "mandatory"),
}
PACK_CONFIG = {
    "customerio-production-keys-distinct": {
        "nonProductionFingerprints": {"track-api-key": [catalog.fingerprint(STAGING_TRACK_KEY)]}
    }
}
# What the keys-distinct policy says, as advice, when the pack config holds no staging fingerprints.
UNCOMPARED = ("customerio-production-keys-distinct", "advisory")


@pytest.fixture
def pack_config_file(tmp_path) -> Path:
    """PACK_CONFIG as the file a pipeline passes with --policy-pack-config."""
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps(PACK_CONFIG))
    return path


def known(graph: ResourceGraph) -> ResourceGraph:
    """The same graph as a later preview sees it: every unknown id, ARN and output filled in."""
    filled = copy.deepcopy(graph)

    def fill(value, where):
        if value == UNKNOWN or (isinstance(value, str) and value in _SENTINELS):
            return f"arn:aws:offline:us-east-1:123456789012:{where}"
        if isinstance(value, dict):
            return {k: fill(v, f"{where}/{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v, f"{where}/{i}") for i, v in enumerate(value)]
        return value

    for node in filled.resources:
        node.inputs = fill(node.inputs, node.name)
        node.outputs = fill(node.outputs, node.name)
        if node.custom and not node.id:
            node.id = f"{node.name}-id"
    return filled


_SENTINELS = {
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    UNKNOWN,
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
}


def verdict(graph: ResourceGraph, pack_config: dict | None = None) -> set[tuple[str, str]]:
    with AnalyzerSession.start(PACK_DIR, graph) as session:
        config = policyconfig.reconcile(session.info, policyconfig.parse(pack_config or {}), source="test")
        result = build_result(graph, session.info, session.run(config))
    return {(f.policy_name, f.enforcement_level) for f in result.findings}


@pytest.fixture(scope="module")
def compliant_graph() -> ResourceGraph:
    return run_program(PLAIN, "production")


def test_compliant_plain_program_passes_first_preview_and_later(compliant_graph):
    assert any(r.inputs.get("secretId") == UNKNOWN for r in compliant_graph.resources
               if r.type == "aws:secretsmanager/secretRotation:SecretRotation")
    assert verdict(compliant_graph, PACK_CONFIG) == set()
    assert verdict(known(compliant_graph), PACK_CONFIG) == set()


@pytest.mark.parametrize("item", sorted(BREAKS))
def test_breaking_one_item_fires_exactly_its_policy(item):
    graph = run_program(PLAIN, "production", config_overrides=[f"cio-plain:break={item}"])
    expected = {BREAKS[item]}
    assert verdict(graph, PACK_CONFIG) == expected
    assert verdict(known(graph), PACK_CONFIG) == expected


def test_a_topic_nobody_subscribed_to_is_blocked_at_preview_and_later():
    graph = run_program(PLAIN, "production", config_overrides=["cio-plain:break=no-subscription"])
    expected = {("monitoring-alarm-actions", "mandatory")}
    assert verdict(graph, PACK_CONFIG) == expected  # linked by property dependency: the ARN is unknown
    later = known(graph)
    [topic] = [r for r in later.resources if r.type == "aws:sns/topic:Topic"]
    for alarm in (r for r in later.resources if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm"):
        # A later preview shows the topic's real ARN in both places; known() fills each from its own path.
        alarm.inputs["alarmActions"] = alarm.outputs["alarmActions"] = [topic.outputs["arn"]]
        alarm.property_dependencies = {}  # the link must hold on the value alone
    assert verdict(later, PACK_CONFIG) == expected


def test_a_flag_created_past_the_first_stage_is_blocked_but_a_flag_the_rollout_moved_is_not():
    graph = run_program(PLAIN, "production", config_overrides=["cio-plain:break=flag-100"])
    assert verdict(graph, PACK_CONFIG) == {("rollout-flag-stage", "mandatory")}
    # Once the flag exists (AWS gave it a version) the engine shows the value `golive rollout` set, since
    # ignore_changes keeps the program's: stage 100 is then the rollout's business.
    later = known(graph)
    [flag] = [r for r in later.resources if r.type == "aws:ssm/parameter:Parameter"]
    flag.outputs["version"] = 3
    assert verdict(later, PACK_CONFIG) == set()


@pytest.mark.parametrize("item", ["rotation-120", "spf-plus-all", "flag-25"])
def test_non_production_stack_is_advised_not_blocked(item, capsys):
    code = cli.main(["check", str(PLAIN), "--stack", "staging", "--config", f"cio-plain:break={item}",
                     "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {(e["policyName"], e["enforcementLevel"]) for e in report["policyEvents"]} == {
        (BREAKS[item][0], "advisory")
    }


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_repository_stacks_check_clean(stack, capsys):
    assert cli.main(["check", str(ROOT), "--stack", stack, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # Without staging fingerprints, production is told its keys were not compared; staging is not checked.
    expected = [UNCOMPARED] if stack == "production" else []
    assert [(e["policyName"], e["enforcementLevel"]) for e in report["policyEvents"]] == expected
    assert report["resourceCount"] > 30


def test_report_written_whole_to_output(tmp_path, capsys):
    out = tmp_path / "out" / "report.sarif"
    out.parent.mkdir()
    pack_config = tmp_path / "policy-config.json"
    pack_config.write_text(json.dumps(PACK_CONFIG))
    code = cli.main(["check", str(PLAIN), "--stack", "production", "--config", "cio-plain:break=flag-25",
                     "--policy-pack-config", str(pack_config), "--format", "sarif", "--output", str(out)])
    assert code == 1
    sarif = json.loads(out.read_text())
    [result] = sarif["runs"][0]["results"]
    assert result["ruleId"] == "rollout-flag-stage"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] > 1
    assert list(out.parent.iterdir()) == [out]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["check", "/nonexistent/dir", "--stack", "production"], "/nonexistent/dir"),
        (["check", str(PLAIN), "--stack", "production", "--policy-pack", "/nonexistent/pack"], "/nonexistent/pack"),
        (["check", str(PLAIN), "--stack", "production", "--config", "cio-plain:break=bogus"], "bogus"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, needle, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err.splitlines()[0]
    assert "Traceback (most recent call last)" not in err.splitlines()[0]


def test_unknown_policy_in_pack_config_is_refused(tmp_path, capsys):
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"no-such-policy": "mandatory"}))
    assert cli.main(["check", str(PLAIN), "--stack", "production", "--policy-pack-config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "no-such-policy" in err and "policy.json" in err


def test_plaintext_credential_config_is_a_stack_level_finding_without_sdk_paths(pack_config_file, capsys):
    code = cli.main(["check", str(PLAIN), "--stack", "production", "--format", "json",
                     "--policy-pack-config", str(pack_config_file),
                     "--config", "cio-plain:customerioTrackApiKey=abcd1234abcd1234abcd"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    [event] = report["policyEvents"]
    assert event["policyName"] == "customerio-credentials-in-secrets-manager"
    assert event["resourceType"] == "pulumi:pulumi:Stack"
    assert "abcd1234abcd1234abcd" not in json.dumps(report)
    assert not event["source"] or "site-packages" not in (event["source"].get("file") or "")


def test_a_failing_program_leaves_no_pack_behind(monkeypatch, capsys):
    from test_analyzer import gone

    launched = []
    launch = AnalyzerSession.launch.__func__

    def recording_launch(cls, *args, **kwargs):
        session = launch(cls, *args, **kwargs)
        launched.append(session)
        return session

    monkeypatch.setattr(AnalyzerSession, "launch", classmethod(recording_launch))
    assert cli.main(["check", str(PLAIN), "--stack", "production", "--config", "cio-plain:break=bogus"]) == 2
    assert "bogus" in capsys.readouterr().err
    [session] = launched  # started while the program ran, as the engine loads its packs first
    assert gone(session.pid)


def test_a_pack_golive_cannot_run_is_refused_and_the_program_stopped(tmp_path, capsys):
    pack = tmp_path / "node-pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: nodejs\n")
    assert cli.main(["check", str(PLAIN), "--stack", "production", "--policy-pack", str(pack)]) == 2
    assert "runtime 'nodejs': golive runs Python policy packs only" in capsys.readouterr().err


def test_a_program_that_fails_after_signalling_shutdown_is_a_failed_run(tmp_path, capsys):
    # AnalyzeStack runs once the program says it has registered everything, as in the engine; what
    # it found is reported only if the program then ends well.
    folder = tmp_path / "late"
    folder.mkdir()
    (folder / "Pulumi.yaml").write_text("name: late\nruntime: python\n")
    (folder / "Pulumi.production.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (folder / "__main__.py").write_text(
        "import atexit, os\nimport pulumi_aws as aws\n"
        "aws.secretsmanager.Secret('customerio-track-api-key', tags={'customerio:credential': 'track-api-key'})\n"
        "atexit.register(lambda: os._exit(3))\n")
    assert cli.main(["check", str(folder), "--stack", "production"]) == 2
    out, err = capsys.readouterr()
    assert "customerio-secret-rotation" not in out and "status 3" in err


def test_analyze_stack_runs_in_the_packs_thread_once_the_program_signals_shutdown(monkeypatch, capsys):
    import threading

    finish, threads = AnalyzerSession.finish, []

    def recording_finish(self, graph=None):
        threads.append(threading.current_thread().name)
        return finish(self, graph)

    monkeypatch.setattr(AnalyzerSession, "finish", recording_finish)
    assert cli.main(["check", str(PLAIN), "--stack", "production"]) == 0
    assert threads == ["golive-pack"]  # not after the program's exit, from the main thread


# --- a stack with no Pulumi.<stack>.yaml ----------------------------------------------------------

def test_a_mistyped_stack_names_the_missing_stack_file_as_the_likely_cause(capsys):
    assert cli.main(["check", str(ROOT), "--stack", "nosuchstack"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == ("golive: error: golive:hostedZoneId or golive:hostedZoneName: one is required "
                        "(the sending domain's zone)")
    assert lines[1] == (f"Likely cause: no Pulumi.nosuchstack.yaml in {ROOT} (stack files here: production, "
                        "staging), so the program ran with empty config.")


def test_a_stack_without_a_file_runs_with_empty_config_and_the_report_says_so(tmp_path, capsys):
    folder = tmp_path / "fresh"
    folder.mkdir()
    (folder / "Pulumi.yaml").write_text("name: fresh\nruntime: python\n")
    (folder / "__main__.py").write_text("import pulumi_aws as aws\naws.sns.Topic('alerts')\n")
    assert cli.main(["check", str(folder), "--stack", "dev"]) == 0
    out, err = capsys.readouterr()
    note = (f"Stack config: no Pulumi.dev.yaml in {folder}; the program ran with empty config (and --config), "
            "as a new stack does under the CLI.")
    assert note in out.splitlines() and err == ""
    assert cli.main(["check", str(folder), "--stack", "dev", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["stackConfigMissing"] == f"no Pulumi.dev.yaml in {folder}"
    assert err == f"golive: note: {note}\n"
    # A failure of the code itself is not blamed on config, but the missing file is still mentioned.
    (folder / "__main__.py").write_text("import pulumi\nundefined_name\n")
    assert cli.main(["check", str(folder), "--stack", "dev"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("golive: error: program failed: NameError")
    assert lines[1] == f"Note: no Pulumi.dev.yaml in {folder}; the program ran with empty config."


# --- findings on values from stack config ---------------------------------------------------------

def test_a_finding_on_a_value_from_stack_config_names_its_key_and_line(tmp_path, capsys):
    folder = tmp_path / "rotating"
    folder.mkdir()
    (folder / "Pulumi.yaml").write_text("name: rotating\nruntime: python\n")
    (folder / "Pulumi.production.yaml").write_text(
        "config:\n  aws:region: us-east-1\n  rotating:environment: production\n  rotating:rotationDays: 180\n")
    (folder / "settings.py").write_text(
        "import pulumi\n\ndef rotation_days() -> int:\n    return pulumi.Config().get_int('rotationDays') or 30\n")
    (folder / "__main__.py").write_text(
        "import pulumi\nimport pulumi_aws as aws\nimport settings\n"
        "env = pulumi.Config().require('environment')\n"
        "secret = aws.secretsmanager.Secret('track', name=f'customerio/{env}/track-api-key',\n"
        "    tags={'customerio:credential': 'track-api-key', 'environment': env})\n"
        "aws.secretsmanager.SecretRotation('track-rotation', secret_id=secret.id, rotation_lambda_arn='arn:x',\n"
        "    rotation_rules={'automatically_after_days': settings.rotation_days()})\n")
    assert cli.main(["check", str(folder), "--stack", "production", "--format", "json"]) == 1
    events = json.loads(capsys.readouterr().out)["policyEvents"]
    [rotation] = [e for e in events if e["policyName"] == "customerio-secret-rotation"]
    assert "rotates every 180 days" in rotation["message"]
    assert rotation["source"] == {"file": "__main__.py", "line": 7}
    assert rotation["config"] == [{"key": "rotating:rotationDays", "value": "180",
                                   "property": "rotationRules.automaticallyAfterDays",
                                   "file": "Pulumi.production.yaml", "line": 4}]
    # Other findings quote no value of this stack's config ("production" is in names, not quoted alone).
    assert all("config" not in e for e in events if e is not rotation)
    assert cli.main(["check", str(folder), "--stack", "production", "--config", "rotating:rotationDays=120"]) == 1
    text = capsys.readouterr().out
    assert ("          rotationRules.automaticallyAfterDays = 120 from --config rotating:rotationDays"
            in text.splitlines())


@pytest.mark.parametrize("fmt", ["json", "text", "markdown", "sarif", "junit"])
def test_every_report_names_the_pack_config_in_force(pack_config_file, capsys, fmt):
    """One org-owned pack config for many stacks: each stack's report says which file (and which bytes
    of it: the SHA-256) its check ran with, and says so too when none was given."""
    import hashlib

    digest = hashlib.sha256(pack_config_file.read_bytes()).hexdigest()
    given = ["check", str(PLAIN), "--stack", "staging", "--format", fmt]
    for argv, file, line in ((["--policy-pack-config", str(pack_config_file)], str(pack_config_file),
                              f"Pack config: {pack_config_file} (sha256 {digest[:12]})."),
                             ([], None, "Pack config: none: the checklist's defaults.")):
        assert cli.main([*given, *argv]) == 0
        out = capsys.readouterr().out
        if fmt == "json":
            assert json.loads(out)["packConfig"] == {"file": file, "sha256": file and digest,
                                                     "note": None if file else "none: the checklist's defaults"}
        elif fmt == "sarif":
            assert json.loads(out)["runs"][0]["properties"]["packConfig"]["file"] == file
        elif fmt == "junit":
            assert 'name="packConfig"' in out and (file is None or digest in out)
        else:
            assert line in out
