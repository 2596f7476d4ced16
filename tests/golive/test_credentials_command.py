"""`golive credentials put|stage` against moto in server mode and the Customer.io stand-in over real TLS.

The secrets are created empty first, as `pulumi up` creates them. Every credential below is
distinctive; each test checks that none of them reaches standard output, standard error or an
exception text, and that a refused value leaves the secret exactly as it was.
"""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from checklist import catalog
from golive import cli
from golive.clients import customerio
from tests.fakes.customerio import CustomerIoStandIn

ROOT = Path(__file__).resolve().parents[2]
STAGED = "GOLIVE_STAGED"

SITE = "5173c0ffee9a2d4b6e"
TRACK = "trk-prod-51d3e0a7c9b2f846"
NEW_SITE = "71d0e3a9f4b2c85e60"
NEW_TRACK = "trk-prod-c3a85f0e2b97d41a"
EU_TRACK = "trk-eu-3d7a1c9e0f5b82c4"
APP = "app-prod-8e4b1c07d2f9a635"
STAGING_SITE = "0a1b2c3d4e5f60718293"
STAGING_TRACK = "trk-stg-6e0b4f2a9c1d7355"
STAGING_APP = "app-stg-2a9d6f0c83b1e574"
VALUES = (SITE, TRACK, NEW_SITE, NEW_TRACK, EU_TRACK, APP, STAGING_SITE, STAGING_TRACK, STAGING_APP)


def assert_clean(*texts: str) -> None:
    """No credential, and no more than 4 characters of a site ID, in any of `texts`."""
    joined = "\n".join(texts)
    for value in VALUES:
        assert value not in joined
        assert value[:8] not in joined, "more than 4 characters of a credential"


@dataclass
class Rig:
    aws: str
    cio: CustomerIoStandIn
    program: Path
    sm: Any

    def args(self, action: str, name: str, *extra: str, stack: str | None = "production") -> list[str]:
        argv = ["credentials", action, name, "--program-dir", str(self.program), "--aws-endpoint", self.aws,
                "--customerio-track-url", self.cio.url, "--customerio-api-url", self.cio.url,
                "--ca-bundle", str(self.cio.ca_bundle), "--timeout", "2", *extra]
        return argv + (["--stack", stack] if stack else [])

    def create(self, environment: str, kind: str, value: str | None = None, region: str = "us") -> None:
        request: dict[str, Any] = {
            "Name": f"customerio/{environment}/{kind}",
            "Tags": [{"Key": catalog.CREDENTIAL_TAG, "Value": kind}, {"Key": catalog.REGION_TAG, "Value": region}]}
        if value is not None:
            request["SecretString"] = value
        self.sm.create_secret(**request)

    def state(self, environment: str, kind: str) -> tuple[dict[str, list[str]], str | None]:
        """The secret's versions with their labels, and its AWSCURRENT value."""
        name = f"customerio/{environment}/{kind}"
        versions = {k: sorted(v) for k, v in self.sm.describe_secret(SecretId=name).get("VersionIdsToStages",
                                                                                          {}).items()}
        try:
            current = self.sm.get_secret_value(SecretId=name)["SecretString"]
        except self.sm.exceptions.ResourceNotFoundException:
            current = None
        return versions, current

    def value(self, kind: str, stage: str, environment: str = "production") -> str:
        return self.sm.get_secret_value(SecretId=f"customerio/{environment}/{kind}", VersionStage=stage)[
            "SecretString"]


@pytest.fixture
def rig(aws: str, customerio_server: CustomerIoStandIn, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Rig:
    """Production secrets as `pulumi up` leaves them (empty), staging ones holding staging's keys."""
    monkeypatch.setattr(customerio, "BACKOFF", 0.01)
    program = tmp_path / "program"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: golive\nruntime: python\n")
    (program / "Pulumi.production.yaml").write_text(
        "config:\n  aws:region: us-east-1\n  golive:environment: production\n  golive:customerioRegion: us\n")
    (program / "Pulumi.prod-eu.yaml").write_text(
        "config:\n  aws:region: us-east-1\n  golive:environment: production\n  golive:customerioRegion: eu\n")
    rig = Rig(aws, customerio_server, program, boto3.client("secretsmanager", endpoint_url=aws))
    for kind in catalog.CREDENTIAL_KINDS:
        rig.create("production", kind)
    rig.create("staging", "site-id", STAGING_SITE)
    rig.create("staging", "track-api-key", STAGING_TRACK)
    rig.create("staging", "app-api-key", STAGING_APP)
    customerio_server.allow_track(SITE, TRACK, region="us", environment_id=1)
    customerio_server.allow_track(NEW_SITE, NEW_TRACK, region="us", environment_id=1)
    customerio_server.allow_track(SITE, NEW_TRACK, region="us", environment_id=1)  # a new key, same site ID
    customerio_server.allow_track(SITE, EU_TRACK, region="eu", environment_id=9)
    customerio_server.allow_track(STAGING_SITE, STAGING_TRACK, region="us", environment_id=2)
    customerio_server.allow_app(APP)
    customerio_server.allow_app(STAGING_APP)
    return rig


def run(rig: Rig, argv: list[str], value: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The CLI in-process, with `value` on standard input."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(value))
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert_clean(out, err)
    return code, out, err


def run_process(rig: Rig, argv: list[str], value: str) -> subprocess.CompletedProcess[str]:
    """The real command line: `python -m golive ...` with the value piped on standard input."""
    done = subprocess.run([sys.executable, "-m", "golive", *argv], input=value, capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert_clean(done.stdout, done.stderr)
    return done


def put_pair(rig: Rig) -> None:
    """The production site ID and Track API key, stored as a completed setup would have them."""
    rig.sm.put_secret_value(SecretId="customerio/production/site-id", SecretString=SITE)
    rig.sm.put_secret_value(SecretId="customerio/production/track-api-key", SecretString=TRACK)


# --- the real command line ---------------------------------------------------------------------------


def test_put_track_key_through_the_command_line(rig: Rig) -> None:
    rig.sm.put_secret_value(SecretId="customerio/production/site-id", SecretString=SITE)
    done = run_process(rig, rig.args("put", "track-api-key"), TRACK + "\n")
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    versions, current = rig.state("production", "track-api-key")
    [version] = versions
    assert current == TRACK and versions[version] == ["AWSCURRENT"]
    assert line.startswith("customerio/production/track-api-key: stored ")
    assert catalog.fingerprint(TRACK) in line and version in line and "Track API" in line
    assert done.stderr == ""


def test_stage_through_the_command_line(rig: Rig) -> None:
    put_pair(rig)
    before_versions, before_current = rig.state("production", "track-api-key")
    done = run_process(rig, rig.args("stage", "track-api-key"), NEW_TRACK)
    assert done.returncode == 0, done.stderr
    versions, current = rig.state("production", "track-api-key")
    assert current == before_current == TRACK
    [new] = set(versions) - set(before_versions)
    assert versions[new] == [STAGED] and {k: versions[k] for k in before_versions} == before_versions
    assert rig.value("track-api-key", STAGED) == NEW_TRACK
    assert new in done.stdout and catalog.fingerprint(NEW_TRACK) in done.stdout and STAGED in done.stdout


def test_rejected_key_through_the_command_line_is_one_line_and_changes_nothing(rig: Rig) -> None:
    put_pair(rig)
    before = rig.state("production", "track-api-key")
    done = run_process(rig, rig.args("put", "track-api-key"), "trk-prod-rejected0000000")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("golive: error: ") and done.stderr.count("\n") == 1
    assert "401" in done.stderr and "Traceback" not in done.stderr and "trk-prod-rejected" not in done.stderr
    assert rig.state("production", "track-api-key") == before


# --- put, one kind at a time -------------------------------------------------------------------------


def test_put_site_id_before_any_track_key_is_stored_unverified(rig: Rig, monkeypatch, capsys) -> None:
    code, out, _ = run(rig, rig.args("put", "site-id"), f"  {SITE}\n", monkeypatch, capsys)
    assert code == 0 and "not verified yet" in out and "customerio/production/track-api-key" in out
    assert rig.state("production", "site-id")[1] == SITE
    assert rig.cio.requests == []
    # ...and the Track API key put next is verified against it.
    code, out, _ = run(rig, rig.args("put", "track-api-key"), TRACK, monkeypatch, capsys)
    assert code == 0 and "authenticated with the Track API" in out
    assert [(r.path, r.authenticated) for r in rig.cio.requests] == [("/api/v1/accounts/region", True)]


def test_put_site_id_is_verified_with_the_track_key_in_use(rig: Rig, monkeypatch, capsys) -> None:
    rig.sm.put_secret_value(SecretId="customerio/production/track-api-key", SecretString=TRACK)
    code, out, _ = run(rig, rig.args("put", "site-id"), SITE, monkeypatch, capsys)
    assert code == 0 and "authenticated with the Track API" in out and "region us" in out
    assert rig.state("production", "site-id")[1] == SITE


def test_put_site_id_the_track_key_in_use_rejects_is_refused(rig: Rig, monkeypatch, capsys) -> None:
    put_pair(rig)
    before = rig.state("production", "site-id")
    code, _, err = run(rig, rig.args("put", "site-id"), NEW_SITE, monkeypatch, capsys)
    assert code == 2 and "break the pair in use" in err and "71d0…" in err
    assert rig.state("production", "site-id") == before


def test_put_app_key(rig: Rig, monkeypatch, capsys) -> None:
    code, out, _ = run(rig, rig.args("put", "app-api-key"), APP, monkeypatch, capsys)
    assert code == 0 and out.count("\n") == 1 and "authenticated with the App API" in out
    assert rig.state("production", "app-api-key")[1] == APP
    assert [r.path for r in rig.cio.requests] == ["/v1/campaigns"]


def test_put_app_key_on_a_plan_limited_account_counts_as_authenticated(rig: Rig, monkeypatch, capsys) -> None:
    rig.cio.plan_limited = True
    code, out, _ = run(rig, rig.args("put", "app-api-key"), APP, monkeypatch, capsys)
    assert code == 0 and "403" in out and "plan limit" in out
    assert rig.state("production", "app-api-key")[1] == APP


def test_putting_the_current_value_again_stores_nothing(rig: Rig, monkeypatch, capsys) -> None:
    put_pair(rig)
    before = rig.state("production", "track-api-key")
    code, out, _ = run(rig, rig.args("put", "track-api-key"), TRACK, monkeypatch, capsys)
    assert code == 0 and "already the current value" in out
    assert rig.state("production", "track-api-key") == before


# --- stage ---------------------------------------------------------------------------------------------


def test_stage_labels_only_golive_staged_and_replaces_an_earlier_stage(rig: Rig, monkeypatch, capsys) -> None:
    put_pair(rig)
    rig.sm.put_secret_value(SecretId="customerio/production/app-api-key", SecretString=APP)
    rig.cio.allow_app("app-prod-first0stage0000")
    rig.cio.allow_app("app-prod-second0stage000")
    before_versions, _ = rig.state("production", "app-api-key")
    assert run(rig, rig.args("stage", "app-api-key"), "app-prod-first0stage0000", monkeypatch, capsys)[0] == 0
    assert run(rig, rig.args("stage", "app-api-key"), "app-prod-second0stage000", monkeypatch, capsys)[0] == 0
    versions, current = rig.state("production", "app-api-key")
    assert current == APP
    assert sorted(versions[v][0] if versions[v] else "" for v in set(versions) - set(before_versions)) == ["",
                                                                                                            STAGED]
    assert rig.value("app-api-key", STAGED) == "app-prod-second0stage000"


def test_the_rotation_function_finds_the_staged_value(rig: Rig, monkeypatch, capsys) -> None:
    spec = importlib.util.spec_from_file_location("golive_rotation_handler_for_credentials",
                                                  ROOT / "components" / "lambdas" / "rotation" / "handler.py")
    assert spec and spec.loader
    handler = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, handler)
    spec.loader.exec_module(handler)
    put_pair(rig)
    assert run(rig, rig.args("stage", "track-api-key"), NEW_TRACK, monkeypatch, capsys)[0] == 0
    # createSecret's own lookup: the version carrying its staging label, read by version id.
    name = "customerio/production/track-api-key"
    versions = rig.sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    staged = handler._labelled(versions, handler.STAGED)
    assert staged and handler._value(rig.sm, name, version_id=staged) == NEW_TRACK
    assert handler._value(rig.sm, name, stage=handler.CURRENT) == TRACK


def test_stage_both_halves_of_a_new_track_pair(rig: Rig, monkeypatch, capsys) -> None:
    put_pair(rig)
    # The new site ID first: the key in use rejects it, as it must, so it is staged with a note.
    code, out, _ = run(rig, rig.args("stage", "site-id"), NEW_SITE, monkeypatch, capsys)
    assert code == 0 and "not verified yet" in out
    # The new key is verified with the staged site ID.
    code, out, _ = run(rig, rig.args("stage", "track-api-key"), NEW_TRACK, monkeypatch, capsys)
    assert code == 0 and "(GOLIVE_STAGED)" in out
    assert rig.value("site-id", STAGED) == NEW_SITE and rig.value("track-api-key", STAGED) == NEW_TRACK
    assert rig.state("production", "site-id")[1] == SITE and rig.state("production", "track-api-key")[1] == TRACK


def test_stage_needs_a_current_value(rig: Rig, monkeypatch, capsys) -> None:
    # Secrets Manager would make the first version current whatever its labels: that is `put`'s job.
    code, _, err = run(rig, rig.args("stage", "app-api-key"), APP, monkeypatch, capsys)
    assert code == 2 and "golive credentials put app-api-key" in err
    assert rig.state("production", "app-api-key") == ({}, None)


def test_stage_of_the_key_in_use_is_refused(rig: Rig, monkeypatch, capsys) -> None:
    put_pair(rig)
    before = rig.state("production", "track-api-key")
    code, _, err = run(rig, rig.args("stage", "track-api-key"), TRACK, monkeypatch, capsys)
    assert code == 2 and "already in use" in err
    assert rig.state("production", "track-api-key") == before


def test_stage_by_secret_name_as_the_rotation_asks_without_a_stack(rig: Rig, monkeypatch, capsys) -> None:
    put_pair(rig)
    argv = rig.args("stage", "customerio/production/track-api-key", "--aws-region", "us-east-1", stack=None)
    code, out, _ = run(rig, argv, NEW_TRACK + "\n", monkeypatch, capsys)
    assert code == 0 and "authenticated with the Track API" in out and "(AWSCURRENT)" in out
    assert rig.value("track-api-key", STAGED) == NEW_TRACK


# --- refusals that leave the secret as it was --------------------------------------------------------


@pytest.mark.parametrize(("value", "message"), [
    ("", "empty value"),
    ("  \n\t\n", "empty value"),
    ("trk-prod with-a-space", "whitespace"),
    ("trk-prod-first\ntrk-prod-second", "whitespace"),
])
def test_values_that_cannot_be_keys(rig: Rig, monkeypatch, capsys, value: str, message: str) -> None:
    code, _, err = run(rig, rig.args("put", "app-api-key"), value, monkeypatch, capsys)
    assert code == 2 and message in err and "with-a-space" not in err and "trk-prod-second" not in err
    assert rig.state("production", "app-api-key") == ({}, None)
    assert rig.cio.requests == []


def test_track_key_rejected_by_customerio(rig: Rig, monkeypatch, capsys) -> None:
    put_pair(rig)
    before = rig.state("production", "track-api-key")
    rig.cio.revoke_track(SITE, NEW_TRACK)
    code, _, err = run(rig, rig.args("put", "track-api-key"), NEW_TRACK, monkeypatch, capsys)
    assert code == 2 and "401 Unauthorized" in err and "5173…" in err and "nothing was stored" in err
    assert rig.state("production", "track-api-key") == before


def test_app_key_rejected_by_customerio(rig: Rig, monkeypatch, capsys) -> None:
    code, _, err = run(rig, rig.args("put", "app-api-key"), "app-prod-revoked00000000", monkeypatch, capsys)
    assert code == 2 and "App API: 401" in err and "revoked0" not in err
    assert rig.state("production", "app-api-key") == ({}, None)


def test_key_of_a_workspace_in_the_other_region(rig: Rig, monkeypatch, capsys) -> None:
    rig.sm.put_secret_value(SecretId="customerio/production/site-id", SecretString=SITE)
    code, _, err = run(rig, rig.args("put", "track-api-key"), EU_TRACK, monkeypatch, capsys)
    assert code == 2 and "region eu" in err and "says us" in err and "Pulumi.production.yaml" in err
    assert rig.state("production", "track-api-key") == ({}, None)


def test_config_region_must_agree_with_the_secret_tag(rig: Rig, monkeypatch, capsys) -> None:
    code, _, err = run(rig, rig.args("put", "app-api-key", stack="prod-eu"), APP, monkeypatch, capsys)
    assert code == 2 and "customerio:region=us" in err and "pulumi up" in err
    assert rig.state("production", "app-api-key") == ({}, None)


def test_staging_key_is_refused_in_production(rig: Rig, monkeypatch, capsys) -> None:
    rig.sm.put_secret_value(SecretId="customerio/production/site-id", SecretString=STAGING_SITE)
    code, _, err = run(rig, rig.args("put", "track-api-key"), STAGING_TRACK, monkeypatch, capsys)
    assert code == 2 and catalog.fingerprint(STAGING_TRACK) in err and "customerio/staging/track-api-key" in err
    assert rig.state("production", "track-api-key") == ({}, None)
    assert rig.cio.requests == []  # refused before Customer.io is asked


def test_compare_with_is_repeatable_and_skips_missing_environments(rig: Rig, monkeypatch, capsys) -> None:
    rig.create("qa", "app-api-key", APP)
    argv = rig.args("put", "app-api-key", "--compare-with", "nowhere", "--compare-with", "qa")
    code, _, err = run(rig, argv, APP, monkeypatch, capsys)
    assert code == 2 and "customerio/qa/app-api-key" in err
    # Only the named environments are compared: staging's key passes when staging is not among them.
    code, _, _ = run(rig, rig.args("put", "app-api-key", "--compare-with", "nowhere"), STAGING_APP,
                     monkeypatch, capsys)
    assert code == 0 and rig.state("production", "app-api-key")[1] == STAGING_APP


def test_missing_secret(rig: Rig, monkeypatch, capsys) -> None:
    code, _, err = run(rig, rig.args("put", "app-api-key", "--environment", "prod-new"), APP, monkeypatch, capsys)
    assert code == 2 and "customerio/prod-new/app-api-key does not exist" in err and "pulumi up" in err


def test_track_key_before_any_site_id(rig: Rig, monkeypatch, capsys) -> None:
    code, _, err = run(rig, rig.args("put", "track-api-key"), TRACK, monkeypatch, capsys)
    assert code == 2 and "store the site ID first" in err
    assert rig.state("production", "track-api-key") == ({}, None)


# --- Customer.io faults ----------------------------------------------------------------------------------


def test_429_then_success(rig: Rig, monkeypatch, capsys) -> None:
    rig.cio.fail_next(1, 429, api="app")
    code, _, _ = run(rig, rig.args("put", "app-api-key"), APP, monkeypatch, capsys)
    assert code == 0 and rig.state("production", "app-api-key")[1] == APP
    assert [r.status for r in rig.cio.requests] == [429, 200]


def test_unanswered_429s_and_5xx_change_nothing(rig: Rig, monkeypatch, capsys) -> None:
    put_pair(rig)
    before = rig.state("production", "track-api-key")
    rig.cio.fail_next(3, 503)
    code, _, err = run(rig, rig.args("put", "track-api-key"), NEW_TRACK, monkeypatch, capsys)
    assert code == 2 and "503" in err and "could not verify" in err
    assert rig.state("production", "track-api-key") == before


def test_slow_customerio_is_a_clear_error_within_the_timeout(rig: Rig, monkeypatch, capsys) -> None:
    rig.cio.slow(5)
    started = time.monotonic()
    argv = [*rig.args("put", "app-api-key"), "--timeout", "0.4"]
    code, _, err = run(rig, argv, APP, monkeypatch, capsys)
    assert time.monotonic() - started < 3
    assert code == 2 and "no answer" in err and "0.4 s" in err
    assert rig.state("production", "app-api-key") == ({}, None)


def test_a_terminal_is_read_without_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    from golive.operations import store_credential

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts: list[str] = []
    monkeypatch.setattr(store_credential.getpass, "getpass", lambda prompt: prompts.append(prompt) or f" {APP} ")
    assert store_credential.read_value(Terminal(), "App API key for customerio/production/app-api-key: ") == APP
    assert prompts == ["App API key for customerio/production/app-api-key: "]


# --- what the command tells a person to run -------------------------------------------------------------


def printed(rig: Rig, err: str, **expected: str) -> list[str]:
    """The golive commands in `err`, each parsed by golive's own parser with this rig's options."""
    from tests.fakes.printed import assert_runnable, printed_commands

    assert_runnable(err, program_dir=str(rig.program), aws_endpoint=rig.aws, customerio_api_url=rig.cio.url,
                    ca_bundle=str(rig.cio.ca_bundle), **expected)
    return printed_commands(err)


def test_the_commands_a_refusal_prints_run_as_printed(rig: Rig, monkeypatch, capsys) -> None:
    import shlex

    code, _, err = run(rig, rig.args("put", "track-api-key"), TRACK, monkeypatch, capsys)
    [first] = printed(rig, err, stack="production", name="site-id")
    assert code == 2 and shlex.split(first)[1:4] == ["credentials", "put", "site-id"]
    assert run(rig, shlex.split(first)[1:], SITE, monkeypatch, capsys)[0] == 0
    assert run(rig, rig.args("put", "track-api-key"), TRACK, monkeypatch, capsys)[0] == 0
    # Named by its secret, without a stack: the command printed names the secret too.
    argv = rig.args("stage", "customerio/production/app-api-key", "--aws-region", "us-east-1", stack=None)
    code, _, err = run(rig, argv, APP, monkeypatch, capsys)
    [put] = printed(rig, err, stack=None, name="customerio/production/app-api-key", aws_region="us-east-1")
    assert code == 2 and run(rig, shlex.split(put)[1:], APP, monkeypatch, capsys)[0] == 0
