"""`golive audit` and `golive smoke` in another AWS account: `--role-arn` (STS AssumeRole with an external
ID and a session name) and `--profile`, against moto's STS over HTTP.

moto keeps one world per account and answers each call in the account its credentials belong to:
temporary credentials from AssumeRole belong to the role ARN's account, an IAM user's keys to the user's.
The production stack is deployed (seeded) in a second account only, so an audit sees it exactly when
every one of its AWS clients - Secrets Manager, CloudWatch, SNS, SSM, Route53, and the smoke test's
secret reads - uses the assumed (or the profile's) credentials. moto's STS backend (the server runs in
this process) records each AssumeRole: its external ID, session name and the credentials it handed out,
which must not be printed.
"""

from __future__ import annotations

import json

import pytest
import requests

from golive import cli
from tests.golive.test_audit import World, by_status, world  # noqa: F401  (the seeded world, as a fixture)

ACCOUNT = "111111111111"  # the second account; moto's default (the runner's own) is 123456789012
ROLE = f"arn:aws:iam::{ACCOUNT}:role/golive-audit"


@pytest.fixture
def elsewhere(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> World:
    """The compliant world of test_audit.py, deployed in ACCOUNT: moto's server thread reads
    MOTO_ACCOUNT_ID per request, so it is set while seeding only."""
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    seeded = request.getfixturevalue("world")
    monkeypatch.delenv("MOTO_ACCOUNT_ID")
    return seeded


def assumed_roles(url: str) -> list[dict]:
    """Every AssumeRole moto's server answered since its last reset (it keeps them per role account)."""
    from moto.sts.models import sts_backends

    del url  # the server is the one of this process
    return [{"role_arn": role.role_arn, "external_id": role.external_id, "session_name": role.session_name,
             "access_key_id": role.access_key_id, "secret_access_key": role.secret_access_key,
             "session_token": role.session_token}
            for account in list(sts_backends.values()) for backend in account.values()
            for role in backend.assumed_roles]


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_audit_assumes_the_role_once_and_sees_the_other_accounts_stack(elsewhere, capsys):
    code, out, err = run(capsys, elsewhere.argv("audit", "--role-arn", ROLE, "--external-id", "platform-7f3a"))
    report = json.loads(out)
    assert (code, by_status(report, "FAIL"), by_status(report, "WARN")) == (0, {}, {}), err
    assert {"site-id secret", "alarm bounce_rate", "alert topic", "rollout flag", "route53 dkim",
            "customerio-track-api"} <= {c["name"] for c in report["checks"]}
    [assumed] = assumed_roles(elsewhere.aws.url)
    assert (assumed["role_arn"], assumed["external_id"], assumed["session_name"]) == (
        ROLE, "platform-7f3a", "golive-audit-production")
    # The report says whose credentials it read with, for a merged view of many accounts: never the ID.
    assert report["aws"] == {"roleArn": ROLE, "roleSessionName": "golive-audit-production", "account": ACCOUNT}
    for value in (assumed["access_key_id"], assumed["secret_access_key"], assumed["session_token"],
                  "platform-7f3a"):
        assert value not in out + err
    code, out, _ = run(capsys, elsewhere.argv("audit", "--role-arn", ROLE, "--format", "text"))
    assert code == 0 and out.startswith(f"golive audit: stack production (environment production, region us, "
                                        f"as {ROLE})\n")


def test_without_the_role_the_runners_own_account_has_nothing_to_audit(elsewhere, capsys):
    code, out, _ = run(capsys, elsewhere.argv("audit"))
    report = json.loads(out)
    failing = by_status(report, "FAIL")
    assert code == 1 and {"site-id secret", "rollout flag", "alert topic"} <= set(failing)
    assert "aws" not in report  # the environment's credentials: the report names no identity
    assert assumed_roles(elsewhere.aws.url) == []


def test_smoke_reads_the_keys_with_the_assumed_role(elsewhere, capsys):
    code, out, err = run(capsys, elsewhere.argv("smoke", "--role-arn", ROLE, "--role-session-name", "nightly-prod"))
    assert (code, by_status(json.loads(out), "FAIL")) == (0, {}), err
    [assumed] = assumed_roles(elsewhere.aws.url)
    assert (assumed["session_name"], assumed["external_id"]) == ("nightly-prod", None)
    code, out, _ = run(capsys, elsewhere.argv("smoke"))
    assert code == 1 and "customerio-track-api" in by_status(json.loads(out), "FAIL")


def _profile(tmp_path, monkeypatch, name: str, key: dict) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[{name}]\naws_access_key_id = {key['AccessKeyId']}\n"
                           f"aws_secret_access_key = {key['SecretAccessKey']}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))  # none: the profile is the credentials'


def test_a_named_profile_audits_the_account_its_keys_belong_to(elsewhere, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    iam = elsewhere.aws.client("iam")
    iam.create_user(UserName="platform-auditor")
    key = iam.create_access_key(UserName="platform-auditor")["AccessKey"]
    monkeypatch.delenv("MOTO_ACCOUNT_ID")
    _profile(tmp_path, monkeypatch, "account-b", key)
    code, out, err = run(capsys, elsewhere.argv("audit", "--profile", "account-b"))
    report = json.loads(out)
    assert (code, by_status(report, "FAIL"), report["aws"]) == (0, {}, {"profile": "account-b"}), err
    assert key["SecretAccessKey"] not in out + err


@pytest.mark.parametrize(("extra", "needle"), [
    (["--role-arn", "arn:aws:iam::1111:role/golive-audit"], "--role-arn arn:aws:iam::1111:role/golive-audit: expected"),
    (["--role-arn", "golive-audit"], "--role-arn golive-audit: expected arn:aws:iam::ACCOUNT:role/NAME"),
    (["--external-id", "platform-7f3a"], "--external-id needs --role-arn"),
    (["--role-arn", ROLE, "--role-session-name", "has space"], "--role-session-name has space: 2 to 64"),
    (["--profile", "nowhere"], "--profile nowhere: no such profile"),
])
def test_unusable_identity_options_are_one_line_and_exit_2(elsewhere, capsys, extra, needle):
    code, out, err = run(capsys, elsewhere.argv("audit", *extra))
    assert (code, out) == (2, "") and err.count("\n") == 1 and needle in err, err
    assert assumed_roles(elsewhere.aws.url) == []


def test_a_refused_assume_role_is_one_line_exit_2_and_echoes_no_key(elsewhere, capsys, monkeypatch, tmp_path):
    """moto checks IAM (/moto-api/reset-auth): a user whose policy denies sts:AssumeRole is refused."""
    iam = elsewhere.aws.client("iam")
    iam.create_user(UserName="no-assume")
    iam.put_user_policy(UserName="no-assume", PolicyName="no-assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                                               {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="no-assume")["AccessKey"]
    _profile(tmp_path, monkeypatch, "no-assume", key)
    requests.post(f"{elsewhere.aws.url}/moto-api/reset-auth", data=b"0", timeout=5)
    try:
        code, out, err = run(capsys, elsewhere.argv("audit", "--profile", "no-assume", "--role-arn", ROLE,
                                                    "--external-id", "platform-7f3a"))
    finally:
        requests.post(f"{elsewhere.aws.url}/moto-api/reset-auth", data=b"inf", timeout=5)
    assert (code, out) == (2, "") and err.count("\n") == 1, err
    assert err.startswith(f"golive: error: --role-arn {ROLE}: cannot assume the role (")
    assert "may not call sts:AssumeRole" in err
    for value in (key["AccessKeyId"], key["SecretAccessKey"], "platform-7f3a"):
        assert value not in err


def test_an_unreachable_sts_is_one_line_exit_2(elsewhere, capsys):
    argv = elsewhere.argv("audit", "--role-arn", ROLE)
    argv[argv.index("--aws-endpoint") + 1] = "http://127.0.0.1:9"  # discard: nothing listens
    code, out, err = run(capsys, argv)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert "cannot assume the role (EndpointConnectionError; could not connect" in err


def test_rollout_moves_the_flag_of_the_other_account(elsewhere, capsys):
    """rollout shares the options: its flag, its gates and its smoke gate all use the one assumed role."""
    base = ["rollout", "status", "--stack", "production", "--program-dir", elsewhere.argv()[4],
            "--outputs", str(elsewhere.outputs), "--aws-endpoint", elsewhere.aws.url, "--aws-region", "us-east-1",
            "--format", "json"]
    code, out, err = run(capsys, [*base, "--role-arn", ROLE])
    assert code == 0 and json.loads(out)["stage"] == "0", err
    assert [r["session_name"] for r in assumed_roles(elsewhere.aws.url)] == ["golive-rollout-production"]
    code, out, err = run(capsys, base)
    assert code == 2 and "/customerio/production/rollout" in err  # the runner's own account has no flag
