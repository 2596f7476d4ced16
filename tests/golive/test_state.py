"""`golive check --state FILE`: a `pulumi stack export` file through the same pack, no program run.

The equivalence tests run the cio_plain program (compliant, then each checklist item broken), record
the resulting stack as the engine would after `pulumi up` (every value known, secrets as the export
writes them), and check that the state path gives exactly the program path's verdicts.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from test_check import BREAKS, PACK_CONFIG, PLAIN, STAGING_TRACK_KEY, known

from golive import cli
from golive.analysis import policyconfig
from golive.analysis.analyzer import AnalyzerSession
from golive.analysis.findings import build_result
from golive.packfolder import PACK_DIR
from golive.preview import passphrase
from golive.preview.graph import ResourceGraph
from golive.preview.program import run_program
from golive.preview.state import UNKNOWN, StateError, load_state, parse_source

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "state" / "shop-production.json"
SIG = "4dabf18193072939515e22adb298388d"
SECRET = "1b47061264138c4ac30d75fd1eb44270"
SHOP = "urn:pulumi:production::shop::"


# --- an export as the engine writes it after `pulumi up` ------------------------------------------

def _state_value(value: Any, seal) -> Any:
    if isinstance(value, list):
        return [_state_value(v, seal) for v in value]
    if isinstance(value, dict):
        if value.get(SIG) == SECRET:
            return {SIG: SECRET, **seal(json.dumps(value["value"]))}
        return {k: _state_value(v, seal) for k, v in value.items()}
    return value


def export(graph: ResourceGraph, *, secrets: str = "plaintext", phrase: str = "") -> dict[str, Any]:
    """`pulumi stack export` of the stack `graph` describes once deployed: `graph` should hold known
    values (see `known`). `secrets`: "plaintext" (`--show-secrets`), "passphrase" (encrypted with
    `phrase`) or "service" (encrypted by a provider golive cannot reach)."""
    provider_state: dict[str, Any]
    if secrets == "passphrase":
        salt, _ = passphrase.encrypt_for_tests(phrase, [])

        def seal(text: str) -> dict[str, str]:
            return {"ciphertext": passphrase.encrypt_for_tests(phrase, [text])[1][0]}

        provider_state = {"type": "passphrase", "state": {"salt": salt}}
    elif secrets == "service":

        def seal(text: str) -> dict[str, str]:
            return {"ciphertext": "AAABA" + uuid.uuid4().hex}

        provider_state = {"type": "service", "state": {"url": "https://api.pulumi.com"}}
    else:

        def seal(text: str) -> dict[str, str]:
            return {"plaintext": text}

        provider_state = {"type": "passphrase", "state": {"salt": "v1:unused"}}

    nodes = graph.by_urn()
    ids = {n.urn: (n.id if n.id and n.id != UNKNOWN else str(uuid.uuid4())) for n in graph.resources}
    resources = []
    for n in graph.resources:
        r: dict[str, Any] = {"urn": n.urn, "custom": n.custom, "type": n.type}
        if n.custom:
            r["id"] = ids[n.urn]
        r["inputs"] = _state_value(n.inputs, seal)
        r["outputs"] = _state_value(n.outputs, seal)
        if n.parent:
            r["parent"] = n.parent
        if n.options.protect:
            r["protect"] = True
        if n.external:
            r["external"] = True
        if n.dependencies:
            r["dependencies"] = n.dependencies
        if n.provider:
            r["provider"] = f"{n.provider}::{ids[nodes[n.provider].urn]}"
        if n.property_dependencies:
            r["propertyDependencies"] = n.property_dependencies
        if n.options.additional_secret_outputs:
            r["additionalSecretOutputs"] = n.options.additional_secret_outputs
        if n.options.aliases:
            r["aliases"] = n.options.aliases
        if n.options.custom_timeouts:
            t = n.options.custom_timeouts
            r["customTimeouts"] = {"create": t.create, "update": t.update, "delete": t.delete}
        if n.options.delete_before_replace:
            r["deleteBeforeReplace"] = True
        if n.options.ignore_changes:
            r["ignoreChanges"] = n.options.ignore_changes
        if n.source and not os.path.isabs(n.source.file):
            r["sourcePosition"] = f"project:///{n.source.file}#{n.source.line},{n.source.column}"
        resources.append(r)
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-11-28T12:00:00Z", "magic": "0" * 64, "version": "v3.272.0"},
            "secrets_providers": provider_state,
            "resources": resources,
        },
    }


def write_export(tmp_path: Path, graph: ResourceGraph, name: str = "state.json", **kwargs: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(export(graph, **kwargs), indent=1))
    return path


def events(argv: list[str], capsys) -> tuple[int, dict[str, Any]]:
    code = cli.main([*argv, "--format", "json"])
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    return code, json.loads(captured.out)


def verdicts(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(e["policyName"], e["enforcementLevel"], e["resourceUrn"]) for e in report["policyEvents"]}


def program_verdicts(graph: ResourceGraph) -> set[tuple[str, str, str]]:
    with AnalyzerSession.start(PACK_DIR, graph) as session:
        config = policyconfig.reconcile(session.info, policyconfig.parse(PACK_CONFIG), source="test")
        result = build_result(graph, session.info, session.run(config))
    return {(f.policy_name, f.enforcement_level, f.resource_urn) for f in result.findings}


@pytest.fixture(scope="module")
def pack_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "policy-config.json"
    path.write_text(json.dumps(PACK_CONFIG))
    return path


# --- reading an export -------------------------------------------------------------------------------

def test_export_becomes_the_graph_the_program_path_builds():
    loaded = load_state(FIXTURE)
    graph = loaded.graph
    assert (graph.project, graph.stack, graph.organization) == ("shop", "production", "organization")
    assert graph.config == {} and graph.secret_keys == []
    assert graph.program_dir == str(FIXTURE.parent)
    by_urn = graph.by_urn()
    # The old copy pending deletion is left out; the pending operation is not a resource.
    assert len(graph.resources) == 8 and loaded.pending_deletes == 1
    rotation = by_urn[SHOP + "aws:secretsmanager/secretRotation:SecretRotation::cio-track-api-key-rotation"]
    assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 120}
    assert rotation.provider == SHOP + "pulumi:providers:aws::default_7_51_1"
    assert rotation.property_dependencies["secretId"] == [SHOP + "aws:secretsmanager/secret:Secret::cio-track-api-key"]
    assert rotation.options.custom_timeouts is not None and rotation.options.custom_timeouts.create == 600
    assert rotation.source is not None and (rotation.source.file, rotation.source.line) == ("infra/secrets.py", 31)
    assert rotation.id.startswith("arn:aws:secretsmanager:") and rotation.custom
    # An encrypted secret golive cannot decrypt is a secret of unknown value, in inputs and outputs.
    version = by_urn[SHOP + "aws:secretsmanager/secretVersion:SecretVersion::cio-track-api-key-value"]
    assert version.inputs["secretString"] == {SIG: SECRET, "value": UNKNOWN}
    assert version.outputs["secretString"] == {SIG: SECRET, "value": UNKNOWN}
    assert loaded.undecrypted_secrets == 2 and loaded.secrets_provider == "service"
    flag = by_urn[SHOP + "acme:rollout:Flags$aws:ssm/parameter:Parameter::flags-rollout"]
    assert flag.parent == SHOP + "acme:rollout:Flags::flags" and flag.name == "flags-rollout"
    assert flag.options.ignore_changes == ["value"]
    assert by_urn[SHOP + "aws:ssm/parameter:Parameter::legacy-track-key"].external
    assert by_urn[SHOP + "pulumi:providers:aws::default_7_51_1"].inputs["version"] == "7.51.1"
    assert by_urn[SHOP + "pulumi:pulumi:Stack::shop-production"].outputs == {"rolloutParameter": "/shop/rollout"}
    assert by_urn[SHOP + "aws:secretsmanager/secret:Secret::cio-track-api-key"].options.protect


def test_plaintext_secrets_of_a_show_secrets_export_are_values(tmp_path):
    data = json.loads(FIXTURE.read_text())
    data["deployment"]["resources"][3]["inputs"]["secretString"] = {SIG: SECRET, "plaintext": '"abcd1234"'}
    data["deployment"]["resources"][3]["outputs"]["secretString"] = {SIG: SECRET, "plaintext": '{"a": [1]}'}
    (tmp_path / "s.json").write_text(json.dumps(data))
    loaded = load_state(tmp_path / "s.json")
    version = loaded.graph.resources[3]
    assert version.inputs["secretString"] == {SIG: SECRET, "value": "abcd1234"}
    assert version.outputs["secretString"] == {SIG: SECRET, "value": {"a": [1]}}
    assert loaded.undecrypted_secrets == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("project:///__main__.py#12,5", ("__main__.py", 12, 5)),
        ("project:///infra/a%20b.py#3", ("infra/a b.py", 3, 0)),
        ("project:///../shared/lib.py#7,1", ("../shared/lib.py", 7, 1)),
        ("project:///x.py", None),
        ("file:///abs/x.py#1,1", None),
        ("project:///x.py#zero", None),
        (42, None),
    ],
)
def test_source_positions(text, expected):
    found = parse_source(text)
    assert (None if found is None else (found.file, found.line, found.column)) == expected


def test_fixture_through_the_pack(capsys):
    code, report = events(["check", "--state", str(FIXTURE)], capsys)
    assert code == 1
    assert report["preview"] is False and report["stateFile"] == str(FIXTURE)
    assert report["undecryptedSecrets"] == 2
    assert report["project"] == "shop" and report["stack"] == "production"
    assert report["resourceCount"] == 7  # the external (`.get`) parameter is not shown to the pack
    found = verdicts(report)
    assert ("customerio-secret-rotation", "mandatory",
            SHOP + "aws:secretsmanager/secretRotation:SecretRotation::cio-track-api-key-rotation") in found
    # The read-only parameter holds a plaintext key, but the engine analyzes no `.get` resource.
    assert not any(p == "customerio-credentials-in-secrets-manager" for p, _, _ in found)
    assert not any(p == "rollout-flag-stage" for p, _, _ in found)  # stage 10, value in ignoreChanges
    rotation = next(e for e in report["policyEvents"] if e["policyName"] == "customerio-secret-rotation")
    assert rotation["source"] == {"file": "infra/secrets.py", "line": 31}


def test_state_on_standard_input(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(FIXTURE.read_bytes())))
    code, report = events(["check", "--state", "-"], capsys)
    assert (code, report["stateFile"], report["stack"]) == (1, "-", "production")
    assert len(report["policyEvents"]) == 11  # nine violations, the missing Site ID, the uncompared keys


def test_text_report_says_it_checked_a_state_and_not_a_preview(capsys):
    assert cli.main(["check", "--state", str(FIXTURE), "--stack", "acme/production"]) == 1
    out = capsys.readouterr().out
    assert "Summary: 10 mandatory, 1 advisory over 7 resources of shop/production: the stack as deployed fails." in out
    assert "preview would" not in out
    assert f"Checked the state file {FIXTURE}: the stack as last deployed, not a preview" in out
    assert "2 secret values in the state are encrypted by its secrets provider (service)" in out
    assert "1 resource pending deletion" in out


@pytest.mark.parametrize("fmt", ["sarif", "junit", "markdown"])
def test_other_formats_say_it_too(fmt, capsys):
    assert cli.main(["check", "--state", str(FIXTURE), "--format", fmt]) == 1
    out = capsys.readouterr().out
    if fmt == "sarif":
        properties = json.loads(out)["runs"][0]["properties"]
        assert properties["preview"] is False and properties["stateFile"] == str(FIXTURE)
    elif fmt == "junit":
        assert '<property name="preview" value="false" />' in out
        assert f'<property name="stateFile" value="{FIXTURE}" />' in out
    else:
        assert f"> Checked the state file {FIXTURE}" in out
        assert out.startswith("## ❌ golive: `shop` / `production` as deployed fails — 10 mandatory, 1 advisory\n")
        assert "would be blocked" not in out and "Preview of" not in out


def test_config_comes_from_the_program_folder_when_given(capsys, tmp_path):
    graph = known(run_program(PLAIN, "production"))
    state = write_export(tmp_path, graph)
    loaded = load_state(state, program_dir=PLAIN, config_overrides=["cio-plain:extra=1"])
    assert loaded.graph.config == {"aws:region": "us-east-1", "cio-plain:extra": "1"}
    assert loaded.graph.program_dir == str(PLAIN)
    assert load_state(state, config_overrides=["extra=2"]).graph.config == {"cio-plain:extra": "2"}
    # A plaintext credential in the stack's config is a stack-level finding, as on the program path.
    code, report = events(["check", str(PLAIN), "--state", str(state), "--config",
                           "cio-plain:customerioTrackApiKey=abcd1234abcd1234abcd"], capsys)
    assert code == 1
    assert {(e["policyName"], e["enforcementLevel"]) for e in report["policyEvents"]} == {
        ("customerio-credentials-in-secrets-manager", "mandatory"),
        ("customerio-production-keys-distinct", "advisory"),  # no staging fingerprints to compare with
    }


def test_a_program_folder_without_the_stacks_file_is_noted(tmp_path, capsys):
    (tmp_path / "Pulumi.yaml").write_text("name: shop\nruntime: python\n")
    note = f"Stack config: no Pulumi.production.yaml in {tmp_path}; the pack got empty config (and --config)."
    assert note in load_state(FIXTURE, program_dir=tmp_path).notes
    assert cli.main(["check", str(tmp_path), "--state", str(FIXTURE)]) == 1
    assert note in capsys.readouterr().out.splitlines()


# --- the same verdicts as the program path -------------------------------------------------------------

@pytest.mark.parametrize("item", ["", *sorted(BREAKS)])
def test_state_gives_the_program_paths_verdicts(item, tmp_path, pack_config, capsys):
    overrides = [f"cio-plain:break={item}"] if item else []
    graph = run_program(PLAIN, "production", config_overrides=overrides)
    expected = program_verdicts(graph)
    assert {(p, level) for p, level, _ in expected} == ({BREAKS[item]} if item else set())

    state = write_export(tmp_path, known(graph))
    argv = ["check", str(PLAIN), "--state", str(state), "--policy-pack-config", str(pack_config)]
    for override in overrides:
        argv += ["--config", override]
    code, report = events(argv, capsys)
    assert verdicts(report) == expected
    assert code == (1 if any(level == "mandatory" for _, level, _ in expected) else 0)


def test_program_and_state_commands_agree_end_to_end(tmp_path, pack_config, capsys):
    common = ["--policy-pack-config", str(pack_config), "--config", "cio-plain:break=bounce-10"]
    program_code, program_report = events(["check", str(PLAIN), "--stack", "production", *common], capsys)
    graph = known(run_program(PLAIN, "production", config_overrides=["cio-plain:break=bounce-10"]))
    state = write_export(tmp_path, graph)
    state_code, state_report = events(["check", str(PLAIN), "--state", str(state), *common], capsys)
    assert (state_code, verdicts(state_report)) == (program_code, verdicts(program_report)) != (0, set())
    # Where each finding is declared survives the export too.
    assert [e["source"] for e in state_report["policyEvents"]] == [e["source"] for e in program_report["policyEvents"]]
    assert program_report["preview"] is True and state_report["preview"] is False


def test_encrypted_secrets_decrypt_with_the_stacks_passphrase(tmp_path, pack_config, capsys, monkeypatch):
    graph = known(run_program(PLAIN, "production", config_overrides=["cio-plain:break=reused-staging-key"]))
    state = write_export(tmp_path, graph, secrets="passphrase", phrase="correct horse")
    assert STAGING_TRACK_KEY not in state.read_text()
    argv = ["check", "--state", str(state), "--policy-pack-config", str(pack_config)]

    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "correct horse")
    code, report = events(argv, capsys)
    assert code == 1 and "undecryptedSecrets" not in report
    assert {(p, level) for p, level, _ in verdicts(report)} == {BREAKS["reused-staging-key"]}

    # Without the passphrase the key is a secret of unknown value: the pack cannot compare it, and
    # the report says so instead of passing quietly.
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    code, report = events(argv, capsys)
    assert report["undecryptedSecrets"] > 0
    assert "customerio-production-keys-distinct" not in {p for p, _, _ in verdicts(report)}

    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "wrong")
    assert cli.main(argv) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert str(state) in line and "incorrect passphrase" in line


# --- bad input: one line, exit 2 ---------------------------------------------------------------------

def _fixture_with(change) -> str:
    data = json.loads(FIXTURE.read_text())
    change(data)
    return json.dumps(data)


BAD_STATES = {
    "not-json": ('{"version": 3, "deployment": {', "not JSON: Expecting property name"),
    "a-list": ("[]", "not a `pulumi stack export` file"),
    "no-version": ('{"deployment": {"resources": []}}', 'no "version"'),
    "version-2": (_fixture_with(lambda d: d.update(version=2)), "deployment version 2; golive reads version 3"),
    "version-string": (_fixture_with(lambda d: d.update(version="3")), 'deployment version "3"'),
    "no-deployment": ('{"version": 3}', 'no "deployment" object'),
    "no-resources": ('{"version": 3, "deployment": {"manifest": {}}}', 'no "deployment.resources"'),
    "resources-object": ('{"version": 3, "deployment": {"resources": {}}}', '"deployment.resources" must be a list'),
    "checkpoint": ('{"version": 3, "checkpoint": {"latest": {}}}', "a backend checkpoint, not an export"),
    "no-urn": (_fixture_with(lambda d: d["deployment"]["resources"][2].pop("urn")),
               'deployment.resources[2]: no "urn"'),
    "no-type": (_fixture_with(lambda d: d["deployment"]["resources"][4].pop("type")),
                'deployment.resources[4] (urn:pulumi:production::shop::aws:secretsmanager/secretRotation:'
                'SecretRotation::cio-track-api-key-rotation): no "type"'),
    "bad-urn": (_fixture_with(lambda d: d["deployment"]["resources"][1].update(urn="default_7_51_1")),
                "deployment.resources[1] (default_7_51_1): not a URN"),
    "resource-not-object": (_fixture_with(lambda d: d["deployment"]["resources"].append("x")),
                            "deployment.resources[9]: must be an object"),
    "two-stacks": (_fixture_with(lambda d: d["deployment"]["resources"][3].update(
        urn="urn:pulumi:staging::shop::aws:secretsmanager/secretVersion:SecretVersion::v")),
        "deployment.resources[3] (urn:pulumi:staging::shop::"),
    "duplicate": (_fixture_with(lambda d: d["deployment"]["resources"][8].update(
        urn=d["deployment"]["resources"][2]["urn"])), "the same URN as deployment.resources[2]"),
    "bad-dependencies": (_fixture_with(lambda d: d["deployment"]["resources"][3].update(dependencies="x")),
                         '"dependencies" must be a list of strings'),
    "bad-inputs": (_fixture_with(lambda d: d["deployment"]["resources"][2].update(inputs=[1])),
                   '"inputs" must be an object'),
    "bad-secret": (_fixture_with(lambda d: d["deployment"]["resources"][3]["inputs"].update(
        secretString={SIG: SECRET, "plaintext": "not json"})), "inputs.secretString: a secret's plaintext is not JSON"),
    "nested-bad-secret": (_fixture_with(lambda d: d["deployment"]["resources"][2]["outputs"].update(
        tagsAll={"k": [{SIG: SECRET}]})), "outputs.tagsAll.k[0]: a secret with neither ciphertext nor plaintext"),
    "only-deletes": (_fixture_with(lambda d: d["deployment"].update(
        resources=[dict(r, delete=True) for r in d["deployment"]["resources"][:1]])),
        "no resources but ones pending deletion"),
}


@pytest.mark.parametrize("case", sorted(BAD_STATES))
def test_a_malformed_state_file_is_one_line_and_exit_2(case, tmp_path, capsys):
    text, needle = BAD_STATES[case]
    path = tmp_path / f"{case}.json"
    path.write_text(text)
    assert cli.main(["check", "--state", str(path)]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith(f"golive: error: {path}: ") and needle in line, line
    assert captured.out == ""


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--stack", "staging"], "--stack staging: {state} is the state of stack 'production'"),
        (["--stack", "acme/other/production"], "is a state of project 'shop'"),
        (["--stack", "a/b/c/d"], "--stack 'a/b/c/d': expected NAME"),
        ([str(PLAIN)], "project 'cio-plain', but {state} is a state of project 'shop'"),
        (["--invoke-results", "x.yaml"], "--invoke-results answers a program's data sources"),
        (["--config", "novalue"], "--config: expected KEY=VALUE"),
    ],
)
def test_arguments_that_disagree_with_the_state(argv, needle, capsys):
    assert cli.main(["check", "--state", str(FIXTURE), *argv]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert needle.format(state=FIXTURE) in line, line


def test_a_second_state_file_is_refused(capsys):
    assert cli.main(["check", "--state", str(FIXTURE), "--state", "other.json"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"golive: error: --state given 2 times ({FIXTURE}, other.json): a check reads one state file"]
    assert captured.out == ""


def test_missing_state_file_and_missing_stack(tmp_path, capsys):
    assert cli.main(["check", "--state", str(tmp_path / "nope.json")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == f"golive: error: --state {tmp_path / 'nope.json'}: No such file or directory"
    assert cli.main(["check", str(PLAIN)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "--stack is required" in line


def test_state_error_is_a_golive_error():
    from golive.errors import GoliveError

    assert issubclass(StateError, GoliveError)
