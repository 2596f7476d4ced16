"""`golive audit` and `golive smoke` end to end: this repository's production stack config, verified
against moto (AWS), a real NSD (DNS) and the HTTPS Customer.io stand-in, through the command line.

The seeded world is what `pulumi up` and `golive credentials put` leave behind (tests/fakes/*_seed.py).
It passes; each fault the issue names fails exactly its check, with a message that says what to fix.
"""

from __future__ import annotations

import json
import shlex
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from golive import cli
from golive.operations.audit.result import AuditResult, Check, Status, failed, passed
from golive.operations.audit.run import run_checks
from golive.operations.audit.target import build
from golive.preview.project import load_project, load_stack_config
from tests.fakes.aws_seed import PROD, REGION, STAGING, Seed, seed
from tests.fakes.customerio import CustomerIoStandIn
from tests.fakes.dns_seed import compliant, route53_seed
from tests.fakes.nsd import Blackhole, NsdServer

ROOT = Path(__file__).resolve().parents[2]
SECRETS = (*PROD.values(), *STAGING.values())


@dataclass
class World:
    aws: Seed
    dns: NsdServer | Blackhole
    cio: CustomerIoStandIn
    outputs: Path

    def argv(self, command: str = "audit", *extra: str) -> list[str]:
        host, port = self.dns.address
        args = [command, "--stack", "production", "--program-dir", str(ROOT), "--outputs", str(self.outputs),
                "--aws-endpoint", self.aws.url, "--aws-region", REGION,
                "--customerio-track-url", self.cio.url, "--customerio-api-url", self.cio.url,
                "--ca-bundle", str(self.cio.ca_bundle), "--timeout", "2", "--format", "json"]
        if command == "audit":
            args += ["--dns-server", f"{host}:{port}"]
        return args + list(extra)


@pytest.fixture
def world(aws: str, nsd: NsdServer, customerio_server: CustomerIoStandIn, tmp_path: Path) -> World:
    target = build("production", load_stack_config(load_project(ROOT), "production").values, "Pulumi.production.yaml")
    seeded = seed(aws)
    route53_seed(aws, target)
    nsd.serve(*compliant(target).values())
    customerio_server.allow_track(PROD["site-id"], PROD["track-api-key"], region="us")
    customerio_server.allow_app(PROD["app-api-key"])
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"secretArns": seeded.arns, "alertTopicArn": seeded.topic,
                                   "rolloutParameter": "/customerio/production/rollout", "region": "us",
                                   "sendingSubdomain": target.subdomain}))
    return World(seeded, nsd, customerio_server, outputs)


def audit(world: World, capsys: pytest.CaptureFixture[str], *argv: str, command: str = "audit") -> tuple[int, dict]:
    code = cli.main(world.argv(command, *argv))
    captured = capsys.readouterr()
    for value in SECRETS:
        assert value not in captured.out + captured.err, "a credential value reached the output"
    return code, json.loads(captured.out)


def by_status(report: dict, status: str) -> dict[str, str]:
    return {c["name"]: c["detail"] for c in report["checks"] if c["status"] == status}


def test_the_deployed_compliant_setup_passes(world, capsys):
    code, report = audit(world, capsys)
    assert (code, by_status(report, "FAIL"), by_status(report, "WARN")) == (0, {}, {})
    names = {c["name"] for c in report["checks"]}
    assert {"customerio-track-api", "customerio-app-api", "customerio-can-spam", "spf", "dkim", "dmarc",
            "return-path mx", "link tracking", "route53 dkim", "alarm bounce_rate", "alert topic",
            "rollout flag", "track-api-key differs from staging"} <= names
    assert report["summary"] == {"pass": len(report["checks"]), "warn": 0, "fail": 0, "skip": 0}
    assert not world.cio.suppress_called


def test_the_command_line_and_the_rollout_gate_share_the_audits_function_api(world, capsys):
    """Below the command line the audit takes AuditOptions: what it returns is what `golive audit`
    reports, and the rollout's smoke gate runs `golive smoke` from the same options."""
    from dataclasses import replace

    from golive.operations.audit.options import AuditOptions
    from golive.operations.audit.run import audit as run_audit
    from golive.operations.rollout import gates

    host, port = world.dns.address
    options = AuditOptions(stack="production", program_dir=str(ROOT), outputs=str(world.outputs),
                           aws_endpoint=world.aws.url, aws_region=REGION, customerio_track_url=world.cio.url,
                           customerio_api_url=world.cio.url, ca_bundle=str(world.cio.ca_bundle), timeout=2,
                           dns_server=f"{host}:{port}")
    target, results = run_audit(options)
    code, report = audit(world, capsys)
    assert target.stack == "production" and code == 0
    assert sorted((r.name, r.status.value, r.detail) for r in results) == sorted(
        (c["name"], c["status"], c["detail"]) for c in report["checks"])

    smoke = replace(options, dns_server=None)
    assert gates.smoke(smoke).ok
    world.cio.revoke_app(PROD["app-api-key"])
    gate = gates.smoke(smoke)
    assert not gate.ok and "customerio-app-api" in gate.detail


def test_dns_timeout_fails_the_dns_checks_only(world, capsys, dns_blackhole):
    world.dns = dns_blackhole
    code, report = audit(world, capsys)
    failing = by_status(report, "FAIL")
    assert code == 1
    assert {"spf", "dkim", "link tracking"} <= set(failing)
    assert all(n in ("spf", "dkim", "link tracking") or n.startswith("route53") for n in failing), failing
    assert "timed out" in failing["spf"]
    # What could not be read is at worst a finding of its policy: advice for DMARC and the return path.
    warned = by_status(report, "WARN")
    assert {"dmarc", "return-path mx"} <= set(warned) and "timed out" in warned["dmarc"]


def test_throttling_then_success_passes(world, capsys):
    world.cio.fail_next(2, 429, api="track")
    code, report = audit(world, capsys, command="smoke")
    assert code == 0 and set(by_status(report, "PASS")) == {"customerio-track-api", "customerio-app-api"}
    assert len(world.cio.requests_to("/api/v1/accounts/region")) == 3


def test_a_wrong_region_fails_the_track_check_naming_both(world, capsys):
    world.cio.allow_track(PROD["site-id"], PROD["track-api-key"], region="eu")
    code, report = audit(world, capsys)
    assert (code, set(by_status(report, "FAIL"))) == (1, {"customerio-track-api"})
    detail = by_status(report, "FAIL")["customerio-track-api"]
    assert "region eu" in detail and "configured for us" in detail and PROD["site-id"][:4] in detail


def test_a_secret_with_no_value_fails_its_lines_and_the_api_check(world, capsys):
    world.aws.drop_value("app-api-key")
    code, report = audit(world, capsys)
    failing = by_status(report, "FAIL")
    assert code == 1
    assert "customerio-app-api" in failing and "golive credentials put" in failing["customerio-app-api"]
    assert all("app-api-key" in n or n in ("customerio-app-api", "customerio-can-spam") for n in failing), failing


def test_an_alarm_in_alarm_state_fails_the_audit(world, capsys):
    world.aws.client("cloudwatch").set_alarm_state(AlarmName=world.aws.alarm_name("bounce_rate"),
                                                   StateValue="ALARM", StateReason="bounce rate 7% over 2 periods")
    code, report = audit(world, capsys)
    failing = by_status(report, "FAIL")
    assert (code, set(failing)) == (1, {"alarm bounce_rate"})
    assert "bounce rate 7% over 2 periods" in failing["alarm bounce_rate"]


def test_a_campaign_email_without_unsubscribe_or_address_fails_can_spam(world, capsys):
    world.cio.set_campaigns(
        [{"id": 7, "name": "Spring sale", "active": True, "state": "running"},
         {"id": 8, "name": "Old draft", "active": False, "state": "draft"}],
        {7: [{"id": 71, "type": "email", "name": "Sale email", "body": "<p>50% off</p>"},
             {"id": 72, "type": "webhook", "name": "Ping"}],
         8: [{"id": 81, "type": "email", "name": "Draft", "body": "<p>nothing</p>"}]})
    code, report = audit(world, capsys)
    failing = by_status(report, "FAIL")
    assert (code, set(failing)) == (1, {"customerio-can-spam"})
    assert "Spring sale" in failing["customerio-can-spam"] and "Old draft" not in failing["customerio-can-spam"]
    assert "unsubscribe" in failing["customerio-can-spam"] and "postal address" in failing["customerio-can-spam"]


def test_write_test_identifies_and_deletes_a_profile_and_never_suppresses(world, capsys):
    code, report = audit(world, capsys, "--write-test")
    assert code == 0 and "customerio-write-test" in by_status(report, "PASS")
    writes = [r for r in world.cio.requests if r.method in ("PUT", "DELETE")]
    assert [r.method for r in writes] == ["PUT", "DELETE"] and writes[0].path == writes[1].path
    assert world.cio.customers == {} and not world.cio.suppress_called
    # A second run works as well: nothing was blocked for good.
    assert audit(world, capsys, "--write-test")[0] == 0


def test_reports_as_text_and_junit(world, capsys):
    argv = [a for a in world.argv() if a not in ("--format", "json")]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "[PASS] customerio-track-api: site ID" in text and "Summary: " in text and "0 failed" in text
    assert cli.main([*world.argv(), "--format", "junit"]) == 0
    suite = ET.fromstring(capsys.readouterr().out.split("\n", 1)[1])
    assert int(suite.get("tests")) > 30 and suite.get("failures") == "0"


@pytest.mark.parametrize(("argv", "needle"), [
    (["audit", "--stack", "nosuch", "--program-dir", str(ROOT)], "Pulumi.nosuch.yaml"),
    (["audit", "--stack", "production", "--program-dir", str(ROOT), "--dns-server", "ns.invalid"],
     "--dns-server ns.invalid: cannot resolve ns.invalid"),
    (["audit", "--stack", "production", "--program-dir", str(ROOT), "--dns-server", "[ns.example.com]:53"],
     "--dns-server [ns.example.com]:53"),
    (["audit", "--stack", "production", "--program-dir", str(ROOT), "--no-staging", "--compare-with", "staging"],
     "--no-staging and --compare-with staging"),
    (["audit", "--stack", "production", "--program-dir", str(ROOT), "--outputs", "/nonexistent.json"],
     "--outputs /nonexistent.json"),
    (["smoke", "--stack", "production", "--program-dir", str(ROOT), "--ca-bundle", "/nonexistent.pem"],
     "--ca-bundle /nonexistent.pem"),
    (["smoke", "--stack", "production", "--program-dir", str(ROOT), "--ca-bundle", str(ROOT / "Pulumi.yaml")],
     f"--ca-bundle {ROOT / 'Pulumi.yaml'}: no PEM certificates"),
])
def test_bad_input_is_one_line_and_exit_2(argv, needle, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err


def test_checks_run_concurrently_and_a_broken_one_is_reported_not_raised():
    def slow(name: str) -> Check:
        return Check(name, "", lambda: (time.sleep(0.3), [passed(name, "ok")])[1])

    def broken() -> list[AuditResult]:
        raise RuntimeError("boom")

    start = time.perf_counter()
    results = run_checks([slow("a"), Check("b", "§x", broken), slow("c"), slow("d")])
    assert time.perf_counter() - start < 0.9  # four 0.3 s checks, not 1.2 s
    assert [r.name for r in results] == ["a", "b", "c", "d"]  # report order, not finishing order
    assert results[1] == failed("b", "the check itself failed: RuntimeError: boom", "§x")
    assert results[1].status is Status.FAIL


def test_progress_shows_on_a_terminal_only():
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert run_checks_progress(io.StringIO()) == ""
    shown = run_checks_progress(Tty())
    assert shown.endswith("\r  checks: 3/3 done\n") and "checks: 1/3 done" in shown


def run_checks_progress(stream) -> str:
    from golive.operations.audit.run import terminal_progress

    run_checks([Check(n, "", lambda n=n: [passed(n, "ok")]) for n in "abc"], progress=terminal_progress(stream))
    return stream.getvalue()


# --- issue 13: levels from the catalog, complete fixes, the command line's options ----------------------


def test_a_missing_return_path_mx_or_dmarc_is_advice_as_in_the_checklist(world, capsys):
    target = build("production", load_stack_config(load_project(ROOT), "production").values, "Pulumi.production.yaml")
    zones = compliant(target)
    zones["example.com"].remove(target.subdomain.split(".")[0], "MX").remove("_dmarc")
    world.dns.serve(*zones.values())
    code, report = audit(world, capsys)
    warned = by_status(report, "WARN")
    assert (code, by_status(report, "FAIL")) == (0, {})
    assert "no MX at" in warned["return-path mx"] and "(advisory: the catalog's level for email-return-path)" in \
        warned["return-path mx"]
    assert "no TXT at _dmarc.example.com" in warned["dmarc"] and "email-dmarc-record" in warned["dmarc"]
    policies = {c["name"]: c["policy"] for c in report["checks"]}
    assert (policies["return-path mx"], policies["dmarc"], policies["spf"]) == (
        "email-return-path", "email-dmarc-record", "email-spf-record")
    assert policies["site-id secret"] == policies["customerio-track-api"] == "customerio-track-api-credentials"
    assert policies["customerio-can-spam"] is None


def test_every_audit_line_takes_its_level_from_its_catalog_policy(world, capsys):
    from checklist import catalog
    from golive.operations.audit import levels

    world.aws.drop_value("app-api-key")
    world.aws.client("ssm").put_parameter(Name="/customerio/production/rollout", Value="25", Overwrite=True)
    world.cio.set_campaigns([{"id": 7, "name": "Sale", "active": True}],
                            {7: [{"id": 71, "type": "email", "name": "Sale email", "body": "<p>50% off</p>"}]})
    code, report = audit(world, capsys, "--write-test")
    assert code == 1
    for check in report["checks"]:
        policy = check["policy"]
        assert policy in catalog.POLICY_BY_NAME or (policy is None and check["name"] in levels.OWN_LEVEL), check
        if check["status"] == "FAIL" and policy is not None:
            assert catalog.POLICY_BY_NAME[policy].level == "mandatory", check
    failing = by_status(report, "FAIL")
    assert {"app-api-key secret", "customerio-app-api", "rollout flag"} <= set(failing)


def test_a_non_production_stack_reports_its_findings_as_advice(world, capsys):
    # staging's domain is not served here (REFUSED), its flag and outputs do not exist: all advice, as in the pack
    world.cio.allow_track(STAGING["site-id"], STAGING["track-api-key"], region="us")
    world.cio.allow_app(STAGING["app-api-key"])
    argv = world.argv()
    argv[argv.index("production")] = "staging"
    del argv[argv.index("--outputs"):argv.index("--outputs") + 2]
    code = cli.main(argv)
    report = json.loads(capsys.readouterr().out)
    warned = by_status(report, "WARN")
    assert (code, by_status(report, "FAIL")) == (0, {})
    assert "REFUSED" in warned["spf"] and "(advisory: staging is not a production stack)" in warned["spf"]
    assert "rollout flag" in warned


def test_every_fix_the_audit_prints_runs_as_printed(world, capsys, monkeypatch):
    import io

    from tests.fakes.printed import assert_runnable, printed_commands

    world.aws.drop_value("app-api-key")
    world.aws.client("ssm").put_parameter(Name="/customerio/production/rollout", Value="25", Overwrite=True)
    code, report = audit(world, capsys)
    details = "\n".join(c["detail"] for c in report["checks"] if c["status"] != "PASS")
    assert code == 1
    parsed = assert_runnable(details, stack="production", program_dir=str(ROOT), aws_endpoint=world.aws.url,
                             aws_region=REGION)
    commands = dict(zip(printed_commands(details), parsed, strict=True))
    put = next(c for c, a in commands.items() if a.command == "credentials" and a.action == "put")
    rollback = next(c for c, a in commands.items() if a.command == "rollout" and a.action == "rollback")
    assert "--customerio-api-url" in put and "--ca-bundle" in put and "--outputs" in rollback
    # Run them as printed: the key goes in on standard input, the flag back to a stage.
    monkeypatch.setattr("sys.stdin", io.StringIO(PROD["app-api-key"]))
    assert cli.main(shlex.split(put)[1:]) == 0, capsys.readouterr().err
    assert cli.main(shlex.split(rollback)[1:]) == 0, capsys.readouterr().err
    capsys.readouterr()
    code, report = audit(world, capsys)
    assert (code, by_status(report, "FAIL")) == (0, {})


def test_an_unauthorized_key_names_the_command_that_replaces_it(world, capsys):
    from tests.fakes.printed import assert_runnable

    world.cio.revoke_app(PROD["app-api-key"])
    code, report = audit(world, capsys, command="smoke")
    detail = by_status(report, "FAIL")["customerio-app-api"]
    [put] = assert_runnable(detail, stack="production", program_dir=str(ROOT))
    assert (code, put.command, put.action, put.name) == (1, "credentials", "put",
                                                         "customerio/production/app-api-key")


def test_no_staging_skips_the_comparison_and_says_so(world, capsys):
    code, report = audit(world, capsys, "--no-staging")
    skipped = by_status(report, "SKIP")
    assert code == 0 and report["summary"]["skip"] == 3
    assert set(skipped) == {f"{kind} differs from staging" for kind in ("site-id", "track-api-key", "app-api-key")}
    assert all("--no-staging" in detail and "not compared with customerio/staging/" in detail
               for detail in skipped.values())
    argv = [a for a in world.argv() if a not in ("--format", "json")]
    assert cli.main([*argv, "--no-staging"]) == 0
    text = capsys.readouterr().out
    assert "[SKIP] app-api-key differs from staging: not compared" in text and "3 skipped" in text
    assert cli.main([*world.argv(), "--no-staging", "--format", "junit"]) == 0
    suite = ET.fromstring(capsys.readouterr().out.split("\n", 1)[1])
    assert suite.get("skipped") == "3" and len(suite.findall(".//skipped")) == 3


def test_dns_server_takes_a_host_name(world, capsys):
    _, port = world.dns.address
    argv = world.argv()
    argv[argv.index("--dns-server") + 1] = f"localhost:{port}"
    code = cli.main(argv)
    report = json.loads(capsys.readouterr().out)
    assert (code, by_status(report, "FAIL")) == (0, {})
    assert {"spf", "dkim", "dmarc"} <= set(by_status(report, "PASS"))


def test_ca_bundle_adds_to_the_default_trust_store(world, capsys, monkeypatch, tmp_path):
    import trustme

    from tests.fakes.customerio import TlsFiles

    # The App API's stand-in is trusted by the default store (REQUESTS_CA_BUNDLE, as for requests); the
    # Track API's is signed by another CA, which --ca-bundle adds.
    other = trustme.CA()
    bundle = tmp_path / "other-ca.pem"
    other.cert_pem.write_to_path(str(bundle))
    track = CustomerIoStandIn(TlsFiles(other, bundle, other.issue_cert("127.0.0.1"))).start()
    try:
        track.allow_track(PROD["site-id"], PROD["track-api-key"], region="us")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(world.cio.ca_bundle))
        argv = world.argv("smoke")
        argv[argv.index("--customerio-track-url") + 1] = track.url
        argv[argv.index("--ca-bundle") + 1] = str(bundle)
        code = cli.main(argv)
        report = json.loads(capsys.readouterr().out)
        assert (code, set(by_status(report, "PASS"))) == (0, {"customerio-track-api", "customerio-app-api"})
    finally:
        track.stop()


def test_a_timeout_below_a_tenth_of_a_second_is_shown_as_given(world, capsys, dns_blackhole):
    world.dns = dns_blackhole
    argv = world.argv()
    argv[argv.index("--timeout") + 1] = "0.05"
    cli.main(argv)
    report = json.loads(capsys.readouterr().out)
    assert "DNS timed out after 0.05 s" in by_status(report, "FAIL")["spf"]
