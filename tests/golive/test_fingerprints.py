"""`golive fingerprints` reads a non-production stack's secrets from Secrets Manager (moto over HTTP)."""

import json

import boto3
import pytest

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


def accepted_by_check(path) -> dict:
    """The file as `golive check --policy-pack-config` reads it, or its ConfigError."""
    from golive.analysis import policyconfig
    from golive.analysis.configfile import catalog_info

    return policyconfig.reconcile(catalog_info(), policyconfig.load(path), source=str(path))


def test_merge_into_an_empty_file_as_check_reads_it(aws, tmp_path, capsys):
    """Empty content is no config to `golive check` (as to the engine); merge refused it."""
    _put(aws, "customerio/qa3/track-api-key", "qa3-track-key")
    config = tmp_path / "policy-config.json"
    config.write_text("\n")
    accepted_by_check(config)
    assert cli.main(["fingerprints", "--stack", "qa3", "--merge", str(config), "--aws-endpoint", aws]) == 0, \
        capsys.readouterr().err
    assert json.loads(config.read_text()) == {"customerio-production-keys-distinct": {
        "nonProductionFingerprints": {"track-api-key": [catalog.fingerprint("qa3-track-key")]}}}
    accepted_by_check(config)


@pytest.mark.parametrize(("existing", "fragment"), [
    ({"customerio-production-keys-distinct": "mandtory"}, "'mandtory' is not a valid enforcement level"),
    ({"customerio-regoin": {"region": "eu"}}, "customerio-regoin"),
    ({"customerio-production-keys-distinct": {"nonProductionFingerprints": {"track-api-key": "sha256:00"}}},
     "nonProductionFingerprints"),
])
def test_merge_never_writes_a_file_check_refuses(aws, tmp_path, capsys, existing, fragment):
    """Merge kept whatever it found and added to it: a file `golive check` then refused, or (a string
    where a list belongs) one it accepted holding each character as a fingerprint."""
    from golive.analysis.policyconfig import ConfigError

    _put(aws, "customerio/qa4/app-api-key", "qa4-app-key")
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps(existing))
    with pytest.raises(ConfigError):
        accepted_by_check(config)
    assert cli.main(["fingerprints", "--stack", "qa4", "--merge", str(config), "--aws-endpoint", aws]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"golive: error: {config}") and fragment in line, line
    assert json.loads(config.read_text()) == existing


@pytest.mark.parametrize(("argv", "existing", "fragment"), [
    (["--stack", "production"], None, "--stack production matches the production pattern"),
    (["--stack", "acme/shop/prod-eu"], None, "--stack prod-eu matches the production pattern"),
    (["--stack", "staging", "--environment", "production"], None, "--environment production matches"),
    (["--stack", "shop-eu"], {"customerio-region": {"productionStacks": ["shop-eu"]}},
     "customerio-region.productionStacks lists shop-eu"),
    (["--stack", "blue"], {"customerio-production-keys-distinct": {"productionStackPatterns": ["blue*"]}},
     "--stack blue matches the production pattern 'blue*'"),
])
def test_a_production_stack_is_refused(aws, tmp_path, capsys, argv, existing, fragment):
    """Its own fingerprints as non-production ones: every production check would find its keys shared."""
    for environment in ("production", "prod-eu", "shop-eu", "blue"):
        _put(aws, f"customerio/{environment}/track-api-key", f"{environment}-track-key")
    config = tmp_path / "policy-config.json"
    if existing is not None:
        config.write_text(json.dumps(existing))
    assert cli.main(["fingerprints", *argv, "--merge", str(config), "--aws-endpoint", aws]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("golive: error: ") and fragment in line, line
    if existing is None:
        assert not config.exists()
        assert cli.main(["fingerprints", *argv, "--aws-endpoint", aws]) == 2  # nor printed to paste in
        assert "production" in capsys.readouterr().err
    else:
        assert json.loads(config.read_text()) == existing
