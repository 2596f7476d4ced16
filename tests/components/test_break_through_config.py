"""Components and pack agree: each checklist item, broken through config alone, is caught by its policy.

The repository's own program runs as `golive check . --stack production` with one config change
(stack config, or the pack's config where the item is about the two agreeing). Shape errors are the
program's to refuse; everything meaningful but non-compliant reaches the pack and is blocked there.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from checklist import catalog
from golive import cli
from golive.preview import passphrase

ROOT = Path(__file__).resolve().parents[2]


def _rsa_512() -> str:
    # cryptography will not generate a 512-bit key; any odd 512-bit modulus is a parseable public key.
    key = rsa.RSAPublicNumbers(65537, (1 << 511) | 0x1234567 | 1).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def check(capsys: pytest.CaptureFixture[str], *argv: str, program: Path = ROOT) -> tuple[int, dict]:
    code = cli.main(["check", str(program), "--stack", "production", "--format", "json", *argv])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def events(report: dict) -> set[tuple[str, str]]:
    return {(e["policyName"], e["enforcementLevel"]) for e in report["policyEvents"]}


# No pack config here holds staging fingerprints, so the keys-distinct policy says, as advice, that it
# could not compare the keys.
UNCOMPARED = ("customerio-production-keys-distinct", "advisory")


ELEVEN_INCLUDES = json.dumps([f"spf{i}.example.net" for i in range(11)])

MANDATORY = [
    ("golive:rotationDays=120", "customerio-secret-rotation"),
    ("golive:rotationDays=365", "customerio-secret-rotation"),
    ("golive:spfAll=+all", "email-spf-record"),
    ("golive:spfAll=?all", "email-spf-record"),
    (f"golive:spfIncludes={ELEVEN_INCLUDES}", "email-spf-record"),
    ('golive:thresholds={"bounce_rate": 0.10}', "monitoring-alarm-thresholds"),
    ('golive:thresholds={"delivery_rate": 0.90}', "monitoring-alarm-thresholds"),
    ('golive:thresholds={"api_p99_latency_ms": 9000}', "monitoring-alarm-thresholds"),
    ("golive:alarmActionsEnabled=false", "monitoring-alarm-actions"),
    ("golive:rolloutInitialStage=25", "rollout-flag-stage"),
    ("golive:rolloutInitialStage=100", "rollout-flag-stage"),  # a plan stage, but not where a flag starts
    ("golive:rolloutInitialStage=internal", "rollout-flag-stage"),
    ('golive:credentialKinds=["site-id", "track-api-key"]', "customerio-app-api-key"),
    ('golive:credentialKinds=["site-id", "app-api-key"]', "customerio-track-api-credentials"),
    ('golive:credentialKinds=["track-api-key", "app-api-key"]', "customerio-track-api-credentials"),
    # A credential in another namespace of the same stack: the program does not read it, the pack sees it.
    ("app:customerioTrackApiKey=0123456789abcdef0123", "customerio-credentials-in-secrets-manager"),
]


@pytest.mark.parametrize(("override", "policy"), MANDATORY, ids=[p + ":" + o.split("=")[0] for o, p in MANDATORY])
def test_breaking_an_item_through_config_is_blocked_by_its_policy(override, policy, capsys):
    code, report = check(capsys, "--config", override)
    assert code == 1
    assert events(report) == {(policy, "mandatory"), UNCOMPARED}
    assert "0123456789abcdef0123" not in json.dumps(report)


def test_a_weak_dkim_key_is_blocked(capsys):
    code, report = check(capsys, "--config", f"golive:dkimPublicKey={_rsa_512()}")
    assert (code, events(report)) == (1, {("email-dkim-record", "mandatory"), UNCOMPARED})


@pytest.mark.parametrize(("override", "policy"), [
    ('golive:dmarc={"policy": "none", "rua": ["dmarc@example.com"]}', "email-dmarc-record"),
    ("golive:mxHosts=[]", "email-return-path"),
])
def test_advisory_items_are_reported_without_blocking(override, policy, capsys):
    code, report = check(capsys, "--config", override)
    assert (code, events(report)) == (0, {(policy, "advisory"), UNCOMPARED})


def test_pack_region_disagreeing_with_the_stack_is_blocked(tmp_path, capsys):
    pack_config = tmp_path / "policy-config.json"
    pack_config.write_text(json.dumps({"customerio-region": {"region": "eu"}}))
    code, report = check(capsys, "--policy-pack-config", str(pack_config))
    assert (code, events(report)) == (1, {("customerio-region", "mandatory"), UNCOMPARED})


def test_a_plaintext_credential_in_the_programs_config_is_refused_naming_the_key(capsys):
    code = cli.main(["check", str(ROOT), "--stack", "production",
                     "--config", "golive:trackApiKey=0123456789abcdef0123"])
    err = capsys.readouterr().err
    assert code == 2
    assert "golive:trackApiKey" in err and "0123456789abcdef0123" not in err


# --- a value through secret config: stored before rotation starts, fingerprinted for keys-distinct ----

TRACK_KEY = "f1e2d3c4b5a6978877665544"
PHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def secret_config_project(tmp_path_factory) -> Path:
    """This repository's program with a passphrase stack whose Track key comes from `--secret` config."""
    project = tmp_path_factory.mktemp("secret-config")
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).write_bytes((ROOT / name).read_bytes())
    for name in ("components", "policies", ".venv"):
        os.symlink(ROOT / name, project / name)
    stack = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())
    salt, [sealed] = passphrase.encrypt_for_tests(PHRASE, [TRACK_KEY])
    stack["encryptionsalt"] = salt
    stack["config"]["golive:trackApiKey"] = {"secure": sealed}
    (project / "Pulumi.production.yaml").write_text(yaml.safe_dump(stack))
    return project


def test_secret_config_value_is_stored_before_rotation_and_its_fingerprint_exported(secret_config_project,
                                                                                     monkeypatch):
    from golive.preview.program import run_program

    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PHRASE)
    graph = run_program(secret_config_project, "production")
    [version] = [r for r in graph.resources if r.type == "aws:secretsmanager/secretVersion:SecretVersion"]
    assert version.inputs["secretString"] == {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                                              "value": TRACK_KEY}
    assert version.options.ignore_changes == ["versionStages"]
    rotations = {r.name: r for r in graph.resources if r.type == "aws:secretsmanager/secretRotation:SecretRotation"}
    # By name: the rollback function's permission may register first (registration order is not fixed).
    [permission] = [r.urn for r in graph.resources
                    if r.type == "aws:lambda/permission:Permission" and r.name == "customerio-rotation-invoke"]
    assert version.urn in rotations["customerio-track-api-key-rotation"].dependencies
    assert all(permission in r.dependencies for r in rotations.values())
    [stack] = [r for r in graph.resources if r.type == "pulumi:pulumi:Stack"]
    assert stack.outputs["credentialFingerprints"] == {"track-api-key": catalog.fingerprint(TRACK_KEY)}


def test_secret_config_equal_to_staging_is_blocked_by_keys_distinct(secret_config_project, tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PHRASE)
    pack_config = tmp_path / "policy-config.json"
    pack_config.write_text(json.dumps({"customerio-production-keys-distinct": {
        "nonProductionFingerprints": {"track-api-key": [catalog.fingerprint(TRACK_KEY)]}}}))
    code, report = check(capsys, "--policy-pack-config", str(pack_config), program=secret_config_project)
    assert code == 1
    assert events(report) == {("customerio-production-keys-distinct", "mandatory")}
    assert TRACK_KEY not in json.dumps(report)


def test_a_wrong_passphrase_is_one_line_naming_the_stack_file(secret_config_project, monkeypatch, capsys):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "not it")
    assert cli.main(["check", str(secret_config_project), "--stack", "production"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Pulumi.production.yaml" in err and "incorrect passphrase" in err
