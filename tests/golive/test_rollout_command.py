"""`golive rollout` end to end through the command line, against moto in server mode seeded as
`pulumi up` leaves production, the HTTPS Customer.io stand-in holding production's keys (the smoke
gate), and a copy of this repository's stack files (so a test can change `golive:rollout`).

Every refusal is shown to leave the flag's version where it was; the races between writers are
played out deterministically (a botocore hook lands another write at the worst moment) and with two
threads, and the flag's history never moves more than one stage up.
"""

from __future__ import annotations

import itertools
import json
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from golive import cli
from golive.operations.rollout import command
from golive.operations.rollout.store import label_for
from tests.fakes.aws_seed import PROD, REGION, STAGING, Seed, seed
from tests.fakes.customerio import CustomerIoStandIn
from tests.fakes.printed import assert_runnable

ROOT = Path(__file__).resolve().parents[2]
FLAG = "/customerio/production/rollout"
STAGING_FLAG = "/customerio/staging/rollout"
SECRETS = (*PROD.values(), *STAGING.values())


@dataclass
class World:
    aws: Seed
    cio: CustomerIoStandIn
    program: Path

    def argv(self, action: str, *extra: str) -> list[str]:
        args = ["rollout", action, *extra, "--stack", "production", "--program-dir", str(self.program),
                "--aws-endpoint", self.aws.url, "--aws-region", REGION, "--timeout", "2"]
        if action in ("advance", "set"):
            args += ["--customerio-track-url", self.cio.url, "--customerio-api-url", self.cio.url,
                     "--ca-bundle", str(self.cio.ca_bundle)]
        return args

    @property
    def ssm(self) -> Any:
        return self.aws.client("ssm")

    def versions(self, name: str = FLAG) -> list[dict[str, Any]]:
        pages = self.ssm.get_paginator("get_parameter_history").paginate(Name=name, MaxResults=50)
        return [v for page in pages for v in page["Parameters"]]

    def value(self, name: str = FLAG) -> str:
        return self.ssm.get_parameter(Name=name)["Parameter"]["Value"]

    def version(self, name: str = FLAG) -> int:
        return int(self.ssm.get_parameter(Name=name)["Parameter"]["Version"])

    def put(self, value: str, *, name: str = FLAG, action: str | None = "set") -> int:
        """Write as golive does (labelled, so it counts as settled); `action=None`: a write from outside golive."""
        version = int(self.ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)["Version"])
        if action:
            self.ssm.label_parameter_version(Name=name, ParameterVersion=version, Labels=[label_for(action, version)])
        return version

    def stack_config(self, **rollout: Any) -> None:
        """Set `golive:rollout` in the copied Pulumi.production.yaml."""
        path = self.program / "Pulumi.production.yaml"
        data = yaml.safe_load(path.read_text())
        data["config"]["golive:rollout"] = rollout
        path.write_text(yaml.safe_dump(data))

    def alarm(self, signal: str, state: str = "ALARM", reason: str = "over the threshold for 2 periods") -> None:
        self.aws.client("cloudwatch").set_alarm_state(AlarmName=self.aws.alarm_name(signal), StateValue=state,
                                                      StateReason=reason)


@pytest.fixture
def world(aws: str, customerio_server: CustomerIoStandIn, tmp_path: Path) -> World:
    seeded = seed(aws)
    customerio_server.allow_track(PROD["site-id"], PROD["track-api-key"], region="us")
    customerio_server.allow_app(PROD["app-api-key"])
    program = tmp_path / "program"
    program.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.production.yaml", "Pulumi.staging.yaml"):
        shutil.copy(ROOT / name, program / name)
    world = World(seeded, customerio_server, program)
    # Staging finished its own rollout: the pre-launch staging gate passes unless a test says otherwise.
    seeded.client("ssm").put_parameter(Name=STAGING_FLAG, Value="100", Type="String",
                                       Tags=[{"Key": "customerio:rollout-flag", "Value": "true"}])
    return world


def later(monkeypatch: pytest.MonkeyPatch, minutes: float) -> None:
    """Make `golive rollout` believe `minutes` have passed (dwell times, settling)."""
    monkeypatch.setattr(command, "_now", lambda: datetime.now(UTC) + timedelta(minutes=minutes))


def rollout(world: World, capsys: pytest.CaptureFixture[str], action: str, *extra: str) -> tuple[int, str, str]:
    code = cli.main(world.argv(action, *extra))
    captured = capsys.readouterr()
    for value in SECRETS:
        assert value not in captured.out + captured.err, "a credential value reached the output"
    return code, captured.out, captured.err


def history_values(world: World) -> list[tuple[str, str | None]]:
    """(value, golive action) per version, oldest first."""
    out = []
    for version in world.versions():
        action = next((label.split("-v")[0].removeprefix("golive-") for label in version.get("Labels", [])), None)
        out.append((version["Value"], action))
    return out


def never_skips(values: list[str]) -> bool:
    stages = ("0", "internal", "10", "50", "100")
    return all(stages.index(b) <= stages.index(a) + 1 for a, b in itertools.pairwise(values))




def runnable(world: World, text: str) -> list[Any]:
    """Every golive command in `text` parses as golive reads it and names this stack as the test's own
    command line found it."""
    return assert_runnable(text, stack="production", program_dir=str(world.program), aws_endpoint=world.aws.url,
                           aws_region=REGION)


def refused(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("golive: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# --- reading --------------------------------------------------------------------------------------------


def test_status_of_the_flag_pulumi_created(world, capsys):
    code, out, _ = rollout(world, capsys, "status")
    assert code == 0
    assert f"{FLAG} = 0 (stage 1 of 5: 0, internal, 10, 50, 100)" in out
    assert "next: internal" in out


def test_status_shows_the_triggers_of_the_stage(world, capsys):
    world.put("50")
    world.alarm("bounce_rate")
    code, out, _ = rollout(world, capsys, "status", "--format", "json")
    report = json.loads(out)
    assert code == 0
    assert (report["stage"], report["next"], report["dwellMinutesLeft"]) == ("50", "100", 60)
    assert report["triggers"] == {"api_error_rate": "OK", "bounce_rate": "ALARM"}
    assert report["what"] == "set"


def test_history_says_who_when_from_and_to(world, capsys, monkeypatch):
    later(monkeypatch, 61)
    assert rollout(world, capsys, "advance", "--reason", "launch day")[0] == 0
    assert rollout(world, capsys, "advance")[0] == 0
    assert rollout(world, capsys, "rollback", "--reason", "error spike")[0] == 0
    code, out, _ = rollout(world, capsys, "history", "--format", "json")
    rows = json.loads(out)["versions"]
    assert code == 0
    assert [(r["version"], r["from"], r["to"], r["what"]) for r in rows] == [
        (1, "(created)", "0", ""), (2, "0", "internal", "advance: launch-day"), (3, "internal", "10", "advance"),
        (4, "10", "0", "rollback: error-spike")]
    assert all(r["when"].endswith("UTC") and r["who"] for r in rows)
    code, out, _ = rollout(world, capsys, "history", "--limit", "2")
    assert code == 0 and "internal -> 10" in out and "10 -> 0" in out and "(created)" not in out


# --- advance --------------------------------------------------------------------------------------------


def test_advance_walks_the_plan_one_stage_at_a_time(world, capsys, monkeypatch):
    later(monkeypatch, 61)  # each stage's hour has passed when the next advance runs
    seen = []
    for expected in ("internal", "10", "50", "100"):
        code, out, err = rollout(world, capsys, "advance")
        assert code == 0, err
        assert f"advanced {FLAG}: " in out and f"-> {expected} (version" in out
        assert "smoke: customerio-track-api PASS" in out
        seen.append(world.value())
    assert seen == ["internal", "10", "50", "100"]
    before = world.version()
    code, _, err = rollout(world, capsys, "advance")
    refused(code, err, "is at 100, the last stage")
    assert world.version() == before
    assert history_values(world) == [("0", None), ("internal", "advance"), ("10", "advance"), ("50", "advance"),
                                     ("100", "advance")]


def test_advance_refuses_before_the_dwell_time(world, capsys, monkeypatch):
    world.put("internal")
    before = world.version()
    code, _, err = rollout(world, capsys, "advance")
    refused(code, err, "advance refused", "stays internal", "has been at internal for 0 min",
            "at least 60 min (golive:rollout.dwellMinutes)")
    assert world.version() == before
    later(monkeypatch, 59)
    refused(*rollout(world, capsys, "advance")[::2], "for 59 min")
    later(monkeypatch, 61)
    assert rollout(world, capsys, "advance")[0] == 0 and world.value() == "10"


def test_the_dwell_time_comes_from_stack_config(world, capsys, monkeypatch):
    world.stack_config(dwellMinutes={"internal": 5})
    world.put("internal")
    later(monkeypatch, 6)
    assert rollout(world, capsys, "advance")[0] == 0 and world.value() == "10"
    refused(*rollout(world, capsys, "advance")[::2], "at least 60 min")


@pytest.mark.parametrize(("stage", "signal", "blocks"), [
    ("internal", "api_error_rate", True),  # 10% is rolled back on the error rate
    ("internal", "bounce_rate", False),  # ... but not yet on the bounce rate
    ("10", "api_error_rate", True),
    ("10", "bounce_rate", True),  # 50% is rolled back on the bounce rate
    ("50", "bounce_rate", True),
    ("50", "queue_depth", False),  # not a rollback trigger
])
def test_advance_refuses_while_a_trigger_alarm_is_in_alarm(world, capsys, monkeypatch, stage, signal, blocks):
    world.put(stage)
    world.alarm(signal, reason="Threshold Crossed: 2 datapoints were greater than the threshold")
    later(monkeypatch, 61)
    before = world.version()
    code, _, err = rollout(world, capsys, "advance")
    if blocks:
        refused(code, err, f"stays {stage}", f"'{world.aws.alarm_name(signal)}' is in ALARM since",
                "Threshold Crossed: 2 datapoints", f"({signal} is a rollback trigger)")
        assert world.version() == before
    else:
        assert code == 0, err


def test_advance_refuses_when_a_trigger_has_no_alarm(world, capsys, monkeypatch):
    world.aws.client("cloudwatch").delete_alarms(AlarmNames=[world.aws.alarm_name("api_error_rate")])
    world.put("internal")
    later(monkeypatch, 61)
    before = world.version()
    refused(*rollout(world, capsys, "advance")[::2], "no alarm watches api_error_rate in production")
    assert world.version() == before


def test_advance_refuses_when_the_smoke_test_fails(world, capsys, monkeypatch):
    world.put("10")
    world.cio.revoke_app(PROD["app-api-key"])
    later(monkeypatch, 61)
    before = world.version()
    refused(*rollout(world, capsys, "advance")[::2], "stays 10", "smoke test failed: customerio-app-api")
    assert world.version() == before


def test_a_refusal_names_every_failing_gate(world, capsys):
    world.put("10")
    world.alarm("bounce_rate")
    world.cio.revoke_track(PROD["site-id"], PROD["track-api-key"])
    code, _, err = rollout(world, capsys, "advance")
    refused(code, err, "has been at 10 for 0 min", "bounce_rate is a rollback trigger",
            "smoke test failed: customerio-track-api")


def test_leaving_zero_needs_staging_rolled_out(world, capsys):
    world.put("50", name=STAGING_FLAG)
    refused(*rollout(world, capsys, "advance")[::2], f"{STAGING_FLAG} is at 50, not 100")
    world.put("100", name=STAGING_FLAG)
    world.aws.client("cloudwatch").set_alarm_state(AlarmName="cio-staging-bounce_rate-a1b2c3d", StateValue="ALARM",
                                                   StateReason="staging bounces")
    refused(*rollout(world, capsys, "advance")[::2], "staging: 'cio-staging-bounce_rate-a1b2c3d' is in ALARM")
    world.ssm.delete_parameter(Name=STAGING_FLAG)
    refused(*rollout(world, capsys, "advance")[::2], f"no staging flag {STAGING_FLAG}",
            "drop 'staging' from golive:rollout.gates")
    assert world.version() == 1
    world.stack_config(gates=["smoke"])
    assert rollout(world, capsys, "advance")[0] == 0 and world.value() == "internal"


def test_the_smoke_gate_can_be_dropped_in_stack_config_only(world, capsys, monkeypatch):
    world.put("10")
    world.cio.revoke_app(PROD["app-api-key"])
    later(monkeypatch, 61)
    world.stack_config(gates=["staging"])
    code, out, err = rollout(world, capsys, "advance")
    assert code == 0, err
    assert "smoke" not in out and world.value() == "50"


def test_a_write_from_outside_golive_settles_before_an_advance(world, capsys, monkeypatch):
    from golive.operations.rollout import store

    monkeypatch.setattr(store, "SETTLE_WAIT", 0.3)
    world.put("internal", action=None)  # e.g. the AWS console: no golive label
    before = world.version()
    refused(*rollout(world, capsys, "advance")[::2], "has not settled")
    assert world.version() == before
    later(monkeypatch, 61)  # older than SETTLE, and past the dwell time
    assert rollout(world, capsys, "advance")[0] == 0 and world.value() == "10"


# --- set and rollback ----------------------------------------------------------------------------------


def test_set_refuses_a_value_that_is_not_a_stage(world, capsys):
    for value in ("25", "", "off", "Internal", "10%"):
        refused(*rollout(world, capsys, "set", value)[::2], f"STAGE {value!r}: not a rollout stage",
                "0, internal, 10, 50, 100")
    assert world.version() == 1


def test_set_lower_needs_no_gate(world, capsys):
    world.put("50")
    world.alarm("api_error_rate")
    world.cio.revoke_app(PROD["app-api-key"])
    code, out, err = rollout(world, capsys, "set", "10", "--reason", "bounces look odd")
    assert code == 0, err
    assert f"set {FLAG}: 50 -> 10" in out
    assert history_values(world)[-1] == ("10", "set")


def test_set_more_than_one_stage_up_is_refused_without_force(world, capsys, monkeypatch):
    later(monkeypatch, 61)  # every gate holds: only the size of the step refuses
    for target in ("100", "50", "10"):
        code, _, err = rollout(world, capsys, "set", target)
        refused(code, err, f"set {target} refused", "stays 0", "one stage at a time")
        assert [a.stage for a in runnable(world, err)] == ["internal"]
    assert world.version() == 1 and world.value() == "0"
    world.put("10")
    refused(*rollout(world, capsys, "set", "100")[::2], "set 100 refused", "stays 10", "2 stages up",
            "`golive rollout set 50 --stack production")
    assert world.value() == "10"


def test_set_one_stage_up_runs_the_same_gates_as_advance(world, capsys, monkeypatch):
    world.put("internal")
    before = world.version()
    refused(*rollout(world, capsys, "set", "10")[::2], "set 10 refused", "stays internal",
            "has been at internal for 0 min")  # the dwell time, as advance
    later(monkeypatch, 61)
    world.alarm("api_error_rate")
    refused(*rollout(world, capsys, "set", "10")[::2], "set 10 refused", "api_error_rate is a rollback trigger")
    assert world.version() == before
    world.alarm("api_error_rate", "OK")
    code, out, err = rollout(world, capsys, "set", "10")
    assert code == 0, err
    assert world.value() == "10" and "dwell: at internal for" in out and "smoke:" in out
    code, out, _ = rollout(world, capsys, "set", "10")
    assert code == 0 and "already at 10; nothing written" in out and world.version() == before + 1


def test_set_force_jumps_past_the_pace_never_past_the_gates_and_history_says_why(world, capsys):
    world.put("0", action="rollback")
    before = world.version()
    code, _, err = rollout(world, capsys, "set", "10", "--force")
    refused(code, err, "--force needs --reason")
    world.alarm("api_error_rate")
    refused(*rollout(world, capsys, "set", "10", "--force", "--reason", "fix deployed")[::2], "set 10 refused",
            "api_error_rate is a rollback trigger")
    world.cio.revoke_app(PROD["app-api-key"])
    world.alarm("api_error_rate", "OK")
    refused(*rollout(world, capsys, "set", "10", "--force", "--reason", "fix deployed")[::2],
            "smoke test failed: customerio-app-api")
    assert world.version() == before
    world.cio.allow_app(PROD["app-api-key"])
    code, out, err = rollout(world, capsys, "set", "10", "--force", "--reason", "fix deployed")
    assert code == 0, err
    assert f"set {FLAG}: 0 -> 10" in out and "forced: fix deployed" in out and "dwell" not in out
    assert history_values(world)[-1] == ("10", "force")
    code, out, _ = rollout(world, capsys, "history", "--format", "json")
    assert json.loads(out)["versions"][-1]["what"] == "set --force: fix-deployed"


def test_rollback_sets_zero_at_once_and_prints_the_follow_up(world, capsys):
    world.put("50")
    world.alarm("bounce_rate")
    world.cio.revoke_app(PROD["app-api-key"])  # no gate applies to a rollback
    code, out, err = rollout(world, capsys, "rollback", "--reason", "bounce spike")
    assert code == 0, err
    assert f"rolled back {FLAG}: 50 -> 0" in out
    assert "1. Set feature flag to 0% (immediate - no deploy needed) [done]" in out
    assert "2. Pause all active campaigns in Customer.io dashboard" in out
    assert "5. Resume staged rollout from 10%: `golive rollout set 10 --stack production" in out
    resume = runnable(world, out)[0]
    assert (resume.action, resume.stage, resume.force, resume.reason) == ("set", "10", True,
                                                                          "resume from 10 after the fix")
    assert world.value() == "0" and history_values(world)[-1] == ("0", "rollback")
    before = world.version()
    code, out, _ = rollout(world, capsys, "rollback")
    assert code == 0 and f"{FLAG} was already at 0; wrote it again (version {before + 1})" in out
    assert "Follow-up" in out
    assert world.value() == "0" and history_values(world)[-1] == ("0", "rollback")


# --- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", [("status",), ("history",), ("advance",), ("rollback",), ("set", "10"),
                                    ("set", "0")])
def test_a_stack_without_a_flag(world, capsys, action):
    world.ssm.delete_parameter(Name=FLAG)
    refused(*rollout(world, capsys, *action)[::2], f"no rollout flag {FLAG}", "pulumi up")


def test_a_flag_holding_a_value_that_is_not_a_stage(world, capsys, monkeypatch):
    world.put("10")
    world.put("25", action=None)
    later(monkeypatch, 61)
    before = world.version()
    # status reports it, as a finding: exit 1, the value, and how to recover (complete commands)
    code, out, err = rollout(world, capsys, "status")
    assert (code, err) == (1, "")
    assert f"{FLAG} = '25': '25' is not a rollout stage (0, internal, 10, 50, 100)" in out
    recover = runnable(world, out)
    assert [(a.action, a.stage if a.action == "set" else None) for a in recover] == [("rollback", None),
                                                                                    ("set", "10")]
    assert recover[1].force and recover[1].reason
    code, out, _ = rollout(world, capsys, "status", "--format", "json")
    report = json.loads(out)
    assert (code, report["stage"], report["valid"]) == (1, "25", False)
    assert report["recover"][0].startswith("golive rollout rollback --stack production")
    # advance refuses it, with the same ways back
    code, _, err = rollout(world, capsys, "advance")
    refused(code, err, f"{FLAG} holds '25', which is not a rollout stage", "`golive rollout rollback --stack "
            "production")
    runnable(world, err)
    assert world.version() == before
    code, out, _ = rollout(world, capsys, "rollback")  # what the message says to do, and it repairs the flag
    assert code == 0 and "25 -> 0" in out and world.value() == "0"


def test_missing_aws_credentials(world, capsys, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for action in (("status",), ("rollback",), ("set", "0")):
        refused(*rollout(world, capsys, *action)[::2], "no AWS credentials found")
    monkeypatch.undo()
    assert world.version() == 1


def test_a_stack_without_a_stack_file(world, capsys):
    argv = world.argv("status")
    argv[argv.index("production")] = "prod-eu"
    code = cli.main(argv)
    refused(code, capsys.readouterr().err, "no Pulumi.prod-eu.yaml")


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "inf"])
def test_a_timeout_that_is_not_a_positive_number_of_seconds(world, capsys, timeout):
    argv = world.argv("status")
    argv[argv.index("--timeout") + 1] = timeout
    with pytest.raises(SystemExit) as exited:  # refused by argparse, before anything is read or called
        cli.main(argv)
    assert exited.value.code == 2
    assert f"argument --timeout: '{timeout}'" in capsys.readouterr().err.splitlines()[-1]


def test_a_malformed_plan_in_stack_config(world, capsys):
    world.stack_config(dwellMinutes={"10": "an hour"})
    refused(*rollout(world, capsys, "rollback")[::2], "golive:rollout.dwellMinutes.10: expected a number")
    assert world.version() == 1


# --- concurrent writers ----------------------------------------------------------------------------------


def on_command_clients(monkeypatch: pytest.MonkeyPatch, event: str, hook: Any) -> None:
    """Register a botocore event hook on the SSM clients `golive rollout` makes (not the tests' own)."""
    from golive.operations.rollout.aws import Clients

    make = Clients.make

    def hooked(self: Clients, service: str) -> Any:
        client = make(self, service)
        if service == "ssm":
            client.meta.events.register(event, hook)
        return client

    monkeypatch.setattr(Clients, "make", hooked)


@pytest.fixture
def serialized_ssm(monkeypatch):
    """SSM applies a parameter's writes one at a time and numbers them in that order; moto's server
    handles requests on threads without a lock, so give its PutParameter the one SSM has."""
    from moto.ssm.models import SimpleSystemManagerBackend

    lock = threading.Lock()
    put = SimpleSystemManagerBackend.put_parameter

    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return put(self, *args, **kwargs)

    monkeypatch.setattr(SimpleSystemManagerBackend, "put_parameter", locked)


def committed(world: World, since: int) -> list[str]:
    """The values that stood from version `since` on: every version but the writes that lost a race."""
    return [value for value, action in history_values(world)[since - 1:] if action != "lost"]


def test_a_write_during_the_gates_makes_the_command_write_nothing(world, capsys, monkeypatch):
    world.put("10")
    later(monkeypatch, 61)
    fired = []

    def during_gates(params: dict, **_: Any) -> None:
        if params.get("Name") == FLAG and not fired:  # the re-read right before the write
            fired.append(world.put("0", action="rollback"))

    on_command_clients(monkeypatch, "before-parameter-build.ssm.GetParameter", during_gates)
    refused(*rollout(world, capsys, "advance")[::2], "changed while the checks ran", "nothing was written")
    assert fired and world.version() == fired[0] and world.value() == "0"


def test_a_rollback_between_the_reread_and_the_write_is_never_undone(world, capsys, monkeypatch, serialized_ssm):
    from checklist.plan import Plan
    from golive.operations.rollout.store import Flag

    start = world.put("10")
    later(monkeypatch, 61)
    rolled = []

    def rollback_first(**_: Any) -> None:
        if not rolled:  # the advance's own PutParameter is about to go out: a rollback lands first
            flag = Flag(world.ssm, FLAG, Plan(), timeout=2)
            rolled.append(flag.write("0", flag.head(), "rollback"))

    on_command_clients(monkeypatch, "before-call.ssm.PutParameter", rollback_first)
    code, _, err = rollout(world, capsys, "advance")
    refused(code, err, "advance refused: another writer moved", "version 3 (0, rollback", "this write (version 4) "
            "was undone by version 5", "the flag is 0")
    assert rolled[0].won and world.value() == "0"
    assert history_values(world)[1:] == [("10", "set"), ("0", "rollback"), ("50", "lost"), ("0", "undo")]
    assert never_skips(committed(world, start))


def test_an_advance_that_lost_to_another_advance_is_refused_and_the_flag_moved_once(world, capsys, monkeypatch,
                                                                                  serialized_ssm):
    from checklist.plan import Plan
    from golive.operations.rollout.store import Flag

    world.put("10")
    later(monkeypatch, 61)
    other = []

    def other_advance_first(**_: Any) -> None:
        if not other:
            flag = Flag(world.ssm, FLAG, Plan(), timeout=2)
            other.append(flag.write("50", flag.head(), "advance"))

    on_command_clients(monkeypatch, "before-call.ssm.PutParameter", other_advance_first)
    refused(*rollout(world, capsys, "advance")[::2], "another writer moved", "version 3 (50, advance",
            "this write (version 4) put the value that was already there", "the flag is 50")
    assert world.value() == "50"
    assert history_values(world)[1:] == [("10", "set"), ("50", "advance"), ("50", "duplicate")]
    assert never_skips([value for value, _ in history_values(world)][1:])


def test_two_advances_at_once_move_the_flag_one_stage(world, capsys, monkeypatch, serialized_ssm):
    world.put("10")
    later(monkeypatch, 61)
    # Both commands have passed their gates and re-read version 2 before either writes.
    barrier = threading.Barrier(2, timeout=20)
    waited = threading.local()

    def together(**_: Any) -> None:
        if not getattr(waited, "done", False):
            waited.done = True
            barrier.wait()

    on_command_clients(monkeypatch, "before-call.ssm.PutParameter", together)
    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(cli.main(world.argv("advance")))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    err = capsys.readouterr().err
    assert sorted(codes) == [0, 2], err
    assert "advance refused: another writer moved" in err
    assert world.value() == "50"
    values = [value for value, _ in history_values(world)]
    assert values[1:] == ["10", "50", "50"] and never_skips(values[1:])
    assert [action for _, action in history_values(world)][2:] == ["advance", "duplicate"]
    # The loser's duplicate of 50 is a base like any other: the plan goes on from it, one hour later.
    waited.done = True  # this thread writes alone
    monkeypatch.setattr(command, "_now", lambda: datetime.now(UTC) + timedelta(minutes=122))
    assert rollout(world, capsys, "advance")[0] == 0 and world.value() == "100"


def test_many_writers_at_once_never_skip_a_stage(world, capsys, monkeypatch, serialized_ssm):
    """Three advances, two rollbacks and a set to internal from six threads, released together, three times over."""
    later(monkeypatch, 61)
    world.stack_config(gates=[])  # the race is about the flag; the gates are tested above
    barrier = threading.Barrier(6, timeout=20)  # cyclic: each round's six first writes meet here
    waited = threading.local()  # each round runs new threads, so each thread waits once

    def together(**_: Any) -> None:
        if not getattr(waited, "done", False):
            waited.done = True
            barrier.wait()

    on_command_clients(monkeypatch, "before-call.ssm.PutParameter", together)
    for _ in range(3):
        start = world.put("10")
        runs = [world.argv("advance")] * 3 + [world.argv("rollback")] * 2 + [world.argv("set", "internal")]
        threads = [threading.Thread(target=cli.main, args=(argv,)) for argv in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        capsys.readouterr()
        assert world.value() == "0"  # the rollbacks stand, whatever order SSM took the writes in
        assert never_skips(committed(world, start))
        # A write that lost is undone by its writer or superseded by a later one: never the last word.
        assert history_values(world)[-1][1] != "lost"


@pytest.mark.parametrize("moment", [
    "before-parameter-build.ssm.GetParameter",  # after the advance read the flag and passed its gates
    "before-call.ssm.PutParameter",  # after its last read, as its write goes out
])
def test_a_rollback_at_zero_wins_over_an_advance_in_flight(world, capsys, monkeypatch, serialized_ssm, moment):
    """The advance has checked its gates against 0; a rollback runs to its end before the advance writes.
    A rollback that left 0 alone ("already at 0") let that advance move the flag a moment later."""
    rolled: list[tuple[int, str]] = []

    def rollback_now(**_: Any) -> None:
        if not rolled:
            rolled.append((0, ""))  # the rollback's own calls pass this hook too
            code = cli.main(world.argv("rollback", "--reason", "incident"))
            rolled[0] = (code, capsys.readouterr().out)

    on_command_clients(monkeypatch, moment, rollback_now)
    code, _, err = rollout(world, capsys, "advance")
    assert rolled[0][0] == 0 and "already at 0" in rolled[0][1]
    refused(code, err)  # "changed while the checks ran", or its write undone: the flag stays at 0
    assert world.value() == "0"
    assert history_values(world)[-1][0] == "0" and ("0", "rollback") in history_values(world)
    assert "internal" not in committed(world, 1)


def test_a_flag_at_ssms_version_limit_still_rolls_back(world, capsys):
    world.ssm.label_parameter_version(Name=FLAG, ParameterVersion=1, Labels=["golive-set-v1"])
    for i in range(99):
        world.put("10" if i % 2 else "50", action=None)
    assert len(world.versions()) == 100
    code, _, err = rollout(world, capsys, "rollback")
    assert code == 0, err
    assert world.value() == "0" and world.version() == 101
    assert history_values(world)[-1] == ("0", "rollback")
