"""The components as the repository's program uses them, run offline through golive's monitor.

What each creates, how it is named, tagged and parented, how resources link at a first preview,
and how a malformed config key fails with its name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from checklist import catalog
from components.validate import InputError, require_spf_include
from golive import cli
from golive.preview.program import ProgramError, run_program

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def plain(value):
    """Unwrap wire-form secrets for assertions."""
    if isinstance(value, dict) and "value" in value and len(value) == 2:
        return plain(value["value"])
    return value


@pytest.fixture(scope="module")
def production():
    return run_program(ROOT, "production")


def test_credentials_secrets_named_tagged_and_parented(production):
    graph = production
    [component] = [r for r in graph.resources if r.type == "golive:credentials:CustomerIoCredentials"]
    assert component.custom is False
    secrets = [r for r in graph.resources if r.type == "aws:secretsmanager/secret:Secret"]
    assert sorted(plain(s.inputs["name"]) for s in secrets) == [
        "customerio/production/app-api-key", "customerio/production/site-id", "customerio/production/track-api-key"]
    for secret in secrets:
        tags = secret.inputs["tags"]
        assert tags[catalog.CREDENTIAL_TAG] in catalog.CREDENTIAL_KINDS
        assert tags[catalog.REGION_TAG] == "us"
        assert "golive:credentials:CustomerIoCredentials$aws:secretsmanager/secret:Secret" in secret.urn
        assert secret.parent == component.urn
        assert secret.inputs["kmsKeyId"] == UNKNOWN and secret.property_dependencies["kmsKeyId"]


def test_each_secret_has_a_90_day_rotation_linked_through_the_graph(production):
    graph = production
    secrets = {r.urn for r in graph.resources if r.type == "aws:secretsmanager/secret:Secret"}
    rotations = [r for r in graph.resources if r.type == "aws:secretsmanager/secretRotation:SecretRotation"]
    assert len(rotations) == 3
    linked = set()
    for rotation in rotations:
        assert rotation.inputs["secretId"] == UNKNOWN  # an id: unknown at a first preview
        [secret_urn] = rotation.property_dependencies["secretId"]
        linked.add(secret_urn)
        assert rotation.inputs["rotationRules"]["automaticallyAfterDays"] == catalog.MAX_ROTATION_DAYS
        assert rotation.inputs["rotateImmediately"] is False
        [fn] = rotation.property_dependencies["rotationLambdaArn"]
        assert fn.endswith("::customerio-rotation-fn")
    assert linked == secrets


def test_sending_domain_records(production):
    graph = production
    records = {r.name: r.inputs for r in graph.resources if r.type == "aws:route53/record:Record"}
    assert records["customerio-mx"]["name"] == "cio12345.example.com"
    assert records["customerio-mx"]["records"] == ["10 mxa.mailgun.org", "10 mxb.mailgun.org"]
    assert records["customerio-spf"]["records"] == ["v=spf1 include:mailgun.org ~all"]
    assert records["customerio-dkim"]["name"] == "krs._domainkey.cio12345.example.com"
    [dkim] = records["customerio-dkim"]["records"]
    strings = dkim.split('""')
    assert len(strings) == 2 and all(len(s) <= 255 for s in strings)
    assert "".join(strings).startswith("k=rsa; p=MII")
    assert records["customerio-dmarc"]["name"] == "_dmarc.example.com"
    assert records["customerio-dmarc"]["records"] == [
        "v=DMARC1; p=quarantine; adkim=r; aspf=r; rua=mailto:dmarc-reports@example.com"]
    assert records["customerio-links"]["records"] == ["e.customeriomail.com"]
    assert records["customerio-links"]["type"] == "CNAME"


def test_alarms_one_per_signal_with_actions_and_missing_data_policy(production):
    graph = production
    alarms = [r for r in graph.resources if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm"]
    signals = {a.inputs["tags"][catalog.SIGNAL_TAG]: a for a in alarms}
    assert set(signals) == set(catalog.SIGNALS)
    for name, alarm in signals.items():
        signal = catalog.SIGNALS[name]
        assert alarm.inputs["threshold"] == signal.threshold
        assert alarm.inputs["comparisonOperator"] == (
            "GreaterThanThreshold" if signal.direction == "above" else "LessThanThreshold")
        assert alarm.property_dependencies["alarmActions"] and alarm.property_dependencies["okActions"]
        assert alarm.inputs["treatMissingData"] in ("notBreaching", "missing")
    bounce = signals["bounce_rate"].inputs["metricQueries"]
    assert [q["id"] for q in bounce] == ["num", "den", "rate"]
    assert bounce[0]["metric"]["metricName"] == "EmailBounced"


def test_rollout_flag_created_at_zero_and_ignored_by_deploys(production):
    graph = production
    [flag] = [r for r in graph.resources if r.type == "aws:ssm/parameter:Parameter"]
    assert plain(flag.inputs["value"]) == "0"
    assert catalog.ROLLOUT_FLAG_TAG in flag.inputs["tags"]
    assert flag.options.ignore_changes == ["value"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("golive:customerioRegion=mars", "golive:customerioRegion"),
        ("golive:sendingSubdomain=not a domain", "golive:sendingSubdomain"),
        ('golive:thresholds={"bounce_rate": "high"}', "golive:thresholds.bounce_rate"),
        ('golive:thresholds={"open_rate": 0.5}', "open_rate"),
        ("golive:rotationDays=0", "golive:rotationDays"),
        ("golive:trackApiKey=abcdef0123456789abcd", "golive:trackApiKey"),
        ("golive:spfAll=-none", "golive:spfAll"),
        ("golive:mxHosts=mxa.mailgun.org", "golive:mxHosts"),
        ('golive:spfIncludes=["not a domain"]', "golive:spfIncludes"),
        ('golive:credentialKinds=["track-key"]', "golive:credentialKinds"),
        ("golive:alarmActionsEnabled=maybe", "golive:alarmActionsEnabled"),
        ("golive:rolloutInitialStage= ", "golive:rolloutInitialStage"),
    ],
)
def test_malformed_config_fails_naming_the_key(override, message):
    with pytest.raises(ProgramError) as raised:
        run_program(ROOT, "production", config_overrides=[override])
    first_line = str(raised.value).splitlines()[0]
    assert message in first_line
    assert "abcdef0123456789abcd" not in str(raised.value)


def test_missing_required_key_is_named():
    with pytest.raises(ProgramError, match="golive:environment"):
        run_program(ROOT, "production", config_overrides=["golive:environment="])


def readme_spf_includes() -> list[str]:
    """The documented `golive:spfIncludes` example (docs/deploy.md), in its order, verbatim."""
    found = re.findall(r"pulumi config set --path 'golive:spfIncludes\[(\d+)\]' (\S+)",
                       (ROOT / "docs" / "deploy.md").read_text())
    return [value for _, value in sorted(found, key=lambda item: int(item[0]))]


def test_the_readmes_spf_includes_are_accepted_and_pass_the_pack(capsys):
    includes = readme_spf_includes()
    assert "_spf.example.com" in includes and includes[0] == "mailgun.org"
    override = f"golive:spfIncludes={json.dumps(includes)}"
    graph = run_program(ROOT, "production", config_overrides=[override])
    [spf] = [r for r in graph.resources if r.name == "customerio-spf"]
    assert spf.inputs["records"] == [f"v=spf1 {' '.join(f'include:{i}' for i in includes)} ~all"]
    # The same config through `golive check`: the pack's SPF rule finds nothing wrong with it either.
    code = cli.main(["check", str(ROOT), "--stack", "production", "--format", "json", "--config", override])
    report = json.loads(capsys.readouterr().out)
    # Only the advice that no staging fingerprints were given to compare the keys with.
    assert code == 0 and [e["policyName"] for e in report["policyEvents"]] == ["customerio-production-keys-distinct"]


@pytest.mark.parametrize("value", ["_spf.example.com", "spf_1.mail.example.org", "_SPF.Example.COM.", "x.co"])
def test_spf_include_accepts_what_rfc_7208_does(value):
    assert require_spf_include("golive:spfIncludes", value) == value.lower().rstrip(".")


@pytest.mark.parametrize(("value", "reason"), [
    ("not a domain", "outside visible ASCII"),
    ("mailgun.org ~all", "outside visible ASCII"),
    ("mailgun", "does not name a fully qualified domain"),
    ("-spf.example.com", "malformed domain label '-spf'"),
    ("spf..example.com", "malformed domain label ''"),
    ("spf.example.123", "valid top-level label"),
    ("spf.exa!mple.com", "malformed domain label 'exa!mple'"),
    ("", "empty domain-spec"),
])
def test_spf_include_still_refuses_garbage_naming_the_key(value, reason):
    with pytest.raises(InputError) as raised:
        require_spf_include("golive:spfIncludes", value)
    message = str(raised.value)
    assert message.startswith(f"golive:spfIncludes: expected a domain to include in SPF like _spf.example.com, "
                              f"got {value!r}: ")
    assert reason in message
