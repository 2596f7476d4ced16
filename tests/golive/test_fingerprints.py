"""`golive fingerprints` reads a non-production stack's secrets from Secrets Manager (moto over HTTP)."""

import json

import boto3

from checklist import catalog
from golive import cli


def _put(endpoint, name, value):
    sm = boto3.client("secretsmanager", endpoint_url=endpoint)
    sm.create_secret(Name=name, SecretString=value)


def test_prints_pack_config_with_fingerprints_and_never_values(aws, capsys):
    _put(aws, "customerio/staging/track-api-key", "stagingtrackkey00001")
    _put(aws, "customerio/staging/site-id", "0a1b2c3d4e5f60718293")
    assert cli.main(["fingerprints", "--stack", "staging", "--aws-endpoint", aws]) == 0
    out = capsys.readouterr().out
    assert "stagingtrackkey00001" not in out and "0a1b2c3d4e5f60718293" not in out
    found = json.loads(out)["customerio-production-keys-distinct"]["nonProductionFingerprints"]
    assert found == {
        "track-api-key": [catalog.fingerprint("stagingtrackkey00001")],
        "site-id": [catalog.fingerprint("0a1b2c3d4e5f60718293")],
    }


def test_merge_keeps_existing_config(aws, tmp_path):
    _put(aws, "customerio/qa/app-api-key", "qa-app-key")
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({
        "customerio-region": {"region": "eu"},
        "customerio-production-keys-distinct": {"nonProductionFingerprints": {"app-api-key": ["sha256:00"]}},
    }))
    assert cli.main(["fingerprints", "--stack", "qa", "--merge", str(config), "--aws-endpoint", aws]) == 0
    merged = json.loads(config.read_text())
    assert merged["customerio-region"] == {"region": "eu"}
    assert merged["customerio-production-keys-distinct"]["nonProductionFingerprints"]["app-api-key"] == sorted(
        ["sha256:00", catalog.fingerprint("qa-app-key")]
    )


def test_no_secrets_is_a_one_line_error(aws, capsys):
    assert cli.main(["fingerprints", "--stack", "nothing-here", "--aws-endpoint", aws]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "customerio/nothing-here/" in err


def test_malformed_merge_file_is_refused_and_left_alone(aws, tmp_path, capsys):
    _put(aws, "customerio/qa2/site-id", "qa-site")
    config = tmp_path / "bad.json"
    config.write_text("{not json")
    assert cli.main(["fingerprints", "--stack", "qa2", "--merge", str(config), "--aws-endpoint", aws]) == 2
    assert config.read_text() == "{not json"
    assert "bad.json" in capsys.readouterr().err
