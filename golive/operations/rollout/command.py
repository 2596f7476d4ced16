"""`golive rollout status|advance|rollback|set STAGE|history --stack NAME`: the flag, moved by the plan.

The flag is the RolloutFlag component's SSM parameter (`/customerio/<environment>/rollout`, or the
stack's `rolloutParameter` output); the command reads and writes it through boto3, no deploy.

- `advance` moves one stage, after the gates: the flag settled (store.py), the dwell time at the
  current stage passed, no alarm of a rollback trigger of the current or next stage in ALARM, when
  leaving 0 in a production stack the staging gate (staging's own flag at 100), and the production
  smoke test (`golive smoke`'s checks). Every failing gate is named in the one refusal line.
- `set STAGE` sets a stage. Lower is always allowed, at once. Higher is one stage, after the same
  gates as advance (dwell time included): `set` is not a way around the plan's pace. `--force` (with
  a `--reason`, recorded in the flag's history as `set --force`) lifts the pace only - more than one
  stage up, no dwell time, as the plan's "resume from 10%" after a rollback needs - and never the
  trigger-alarm, staging and smoke gates. A flag holding a value outside the plan counts as 0.
- `rollback` sets 0 at once, whatever the gates say, and prints the checklist's follow-up steps. At 0
  already, it writes 0 again: an advance in flight then finds the flag moved and writes nothing.
- `history` lists the versions SSM keeps: who, when, from, to, and what golive recorded.
- `status` shows the stage, since when, what comes next, and the current triggers' alarm states; a
  flag holding a value outside the plan is reported with how to recover, and exits 1.

Every golive command a message suggests is a complete command line for the stack (golive/suggest.py).

There is no option to skip the smoke test from the command line: a stack that cannot run it
(staging without Customer.io keys, say) drops `smoke` from `golive:rollout.gates`, a reviewed
change to its config rather than a flag typed during an incident.

A refused command writes nothing and exits 2 with one line; a write that lost a race to another
writer is undone before the refusal (store.py).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from golive import argtypes
from golive.errors import GoliveError

if TYPE_CHECKING:  # golive.cli imports this module for its arguments: the rest loads when a command runs
    from datetime import datetime

    from checklist.plan import Plan
    from golive.clients.aws import Identity
    from golive.operations.audit.options import AuditOptions
    from golive.operations.rollout.aws import Clients
    from golive.operations.rollout.store import Flag

ACTIONS = ("status", "advance", "rollback", "set", "history")


class Refused(GoliveError):
    """A gate or the flag's state stops the command; nothing was written."""


def _now() -> datetime:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from golive.clients.aws import add_identity_options

    actions = parser.add_subparsers(dest="action", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", "-s", required=True, help="the stack whose flag to read or move")
    common.add_argument("--program-dir", default=".", help="folder holding Pulumi.yaml and Pulumi.<stack>.yaml")
    common.add_argument("--outputs", metavar="FILE", help="`pulumi stack output --json` (names the flag)")
    argtypes.add_aws_endpoint(common, region_default="the stack's aws:region")
    common.add_argument("--timeout", type=argtypes.seconds, default=5.0,
                        help="seconds for any one network call (default 5)")
    add_identity_options(common)
    writing = argparse.ArgumentParser(add_help=False)
    writing.add_argument("--reason", help="why; recorded with the version (history shows it)")
    gated = argparse.ArgumentParser(add_help=False)
    gated.add_argument("--region", choices=("us", "eu"), help="Customer.io region for the smoke test")
    argtypes.add_customerio_endpoints(gated)
    formats = argparse.ArgumentParser(add_help=False)
    formats.add_argument("--format", choices=("text", "json"), default="text")

    actions.add_parser("status", parents=[common, formats], help="the stage, since when, what comes next")
    actions.add_parser("advance", parents=[common, writing, gated], help="move one stage, after the plan's gates")
    actions.add_parser("rollback", parents=[common, writing], help="set 0 at once; prints the follow-up steps")
    stage = actions.add_parser("set", parents=[common, writing, gated],
                               help="set a stage (lower at once; one stage higher after the same gates as advance)")
    stage.add_argument("stage", metavar="STAGE", help="0, internal, 10, 50 or 100")
    stage.add_argument("--force", action="store_true",
                       help="go more than one stage up, or before the dwell time; needs --reason (recorded in "
                            "history); the trigger-alarm, staging and smoke gates still apply")
    history = actions.add_parser("history", parents=[common, formats], help="the flag's versions: who, when, from, to")
    history.add_argument("--limit", type=int, help="only the newest N versions")


class Context:
    """What every action needs: the stack's plan and environment, the flag's name, where AWS is.
    (A plain class: a dataclass would load `dataclasses` for every golive command line.)"""

    def __init__(self, args: argparse.Namespace, stack: str, environment: str, production: bool, plan: Plan,
                 flag_name: str, timeout: float, endpoint: str | None, region: str | None,
                 identity: Identity) -> None:
        self.args = args
        self.stack = stack
        self.environment = environment
        self.production = production
        self.plan = plan
        self.flag_name = flag_name
        self.timeout = timeout
        self.endpoint = endpoint
        self.region = region
        self.identity = identity  # assumed once: the flag, the gates and the smoke test all use it
        self._clients: Clients | None = None

    def client(self, service: str) -> Any:
        from golive.operations.rollout.aws import Clients

        if self._clients is None:
            self._clients = Clients(self.endpoint, self.region, self.timeout, self.identity)
        return self._clients.get(service)

    def flag(self) -> Flag:
        from golive.operations.rollout.store import Flag

        return Flag(self.client("ssm"), self.flag_name, self.plan, timeout=self.timeout)

    def golive(self, *words: str) -> str:
        """A `golive rollout ...` command line for this stack, as complete as this command's own."""
        from golive import suggest

        accepts = suggest.ROLLOUT_GATED if words[:1] in (("advance",), ("set",)) else suggest.ROLLOUT
        return suggest.golive(("rollout", *words), suggest.given(self.args), accepts)


def context(args: argparse.Namespace) -> Context:
    from checklist import catalog
    from checklist.plan import PlanError, from_stack_config
    from golive.clients.aws import assume, identity_from
    from golive.operations.audit.target import load_outputs
    from golive.preview.project import load_project, load_stack_config

    if not math.isfinite(args.timeout) or args.timeout <= 0:
        raise Refused(f"--timeout {args.timeout:g}: expected a positive number of seconds")
    if getattr(args, "force", False) and not (args.reason or "").strip():
        raise Refused("--force needs --reason: say why the plan's pace is set aside (history keeps it)")
    project = load_project(args.program_dir)
    config = load_stack_config(project, args.stack, require_file=True)
    where = config.file.name if config.file else f"Pulumi.{args.stack}.yaml"
    try:
        plan = from_stack_config(config.values, where)
    except PlanError as err:
        raise Refused(str(err)) from None
    if getattr(args, "stage", None) is not None and not plan.is_stage(args.stage):
        raise Refused(f"STAGE {args.stage!r}: not a rollout stage; expected one of {', '.join(plan.stages)}")
    environment = config.values.get("golive:environment") or config.stack
    name = load_outputs(args.outputs).get("rolloutParameter") or catalog.ROLLOUT_PARAMETER_NAME.format(
        environment=environment)
    region = args.aws_region or config.values.get("aws:region")
    identity = assume(identity_from(args, "rollout"), endpoint_url=args.aws_endpoint, region=region,
                      timeout=args.timeout)
    return Context(args, config.stack, environment, _is_production(config.stack) or _is_production(environment),
                   plan, str(name), args.timeout, args.aws_endpoint, region, identity)


def _is_production(name: str) -> bool:
    from checklist.recognize import is_production  # the pack's own patterns

    return is_production(name)


def run(args: argparse.Namespace) -> int:
    ctx = context(args)
    return {"status": status, "advance": advance, "rollback": rollback, "set": set_stage,
            "history": history}[args.action](ctx)


# --- reading ------------------------------------------------------------------------------------------


def _recovery(ctx: Context, versions: Sequence[Any]) -> list[str]:
    """How to put a stage back in a flag that holds something else: roll back to 0 at once, or return
    to the stage that stood before (a jump from 0, as the value counts, so forced and gated)."""
    zero = ctx.plan.stages[0]
    ways = [f"`{ctx.golive('rollback')}` sets {zero} at once"]
    before = next((v.value for v in reversed(versions[:-1]) if v.action != "lost" and ctx.plan.is_stage(v.value)),
                  None)
    if before is not None and before != zero:
        reason = f"restore {before} after the flag held a value outside the plan"
        ways.append(f"`{ctx.golive('set', before, '--force', '--reason', reason)}` returns to {before}, "
                    "the stage before it, after the gates")
    return ways


def _not_a_stage(ctx: Context, versions: Sequence[Any]) -> Refused:
    value = versions[-1].value
    return Refused(f"{ctx.flag_name} holds {value!r}, which is not a rollout stage ({', '.join(ctx.plan.stages)}): "
                   + "; or ".join(_recovery(ctx, versions)))


def _who(version: Any) -> str:
    return version.user if version.user and version.user != "N/A" else "unknown"


def _when(moment: datetime | None) -> str:
    from datetime import UTC

    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if moment else "unknown"


def _what(version: Any) -> str:
    if version.action is None:
        return ""
    action = "set --force" if version.action == "force" else version.action
    return action + (f": {version.reason}" if version.reason else "")


def status(ctx: Context) -> int:
    from golive.operations.rollout import gates

    plan, flag = ctx.plan, ctx.flag()
    versions = flag.history()
    head = versions[-1]
    if not plan.is_stage(head.value):
        return _status_not_a_stage(ctx, versions)
    now = _now()
    since = gates.stage_since(versions)
    following = plan.next_stage(head.value)
    triggers = plan.triggers_at(head.value)
    try:
        found = gates.signal_alarms(ctx.client("cloudwatch"), ctx.environment, triggers, ctx.timeout)
        states = {s: sorted({str(a.get("StateValue")) for a in found.get(s, [])}) or ["no alarm"] for s in triggers}
    except GoliveError as err:
        states = {s: [f"unknown ({err})"] for s in triggers}
    waited = (now - since).total_seconds() if since else None
    left = plan.dwell(head.value).total_seconds() - (waited or 0)
    report = {
        "parameter": ctx.flag_name, "stage": head.value, "valid": True, "position": plan.rank(head.value) + 1,
        "stages": list(plan.stages), "version": head.version, "modifiedBy": _who(head),
        "modified": _when(head.modified), "what": _what(head), "since": _when(since),
        "next": following, "dwellMinutesLeft": max(0, round(left / 60)) if following else None,
        "triggers": {s: "/".join(v) for s, v in states.items()},
    }
    if ctx.args.format == "json":
        import json

        print(json.dumps(report, indent=2))
        return 0
    lines = [f"{ctx.flag_name} = {head.value} (stage {report['position']} of {len(plan.stages)}: "
             f"{', '.join(plan.stages)})",
             f"  version {head.version}, {report['modified']} by {report['modifiedBy']}"
             + (f" ({report['what']})" if report["what"] else ""),
             f"  at {head.value} since {report['since']}" + (f" ({waited / 60:.0f} min)" if waited is not None else "")]
    if following is None:
        lines.append("  the last stage: nothing to advance")
    elif left > 0:
        lines.append(f"  next: {following}, in {left / 60:.0f} min (the plan's dwell at {head.value}), after the gates")
    else:
        lines.append(f"  next: {following}; `{ctx.golive('advance')}` checks the gates")
    lines.append(f"  rollback triggers at {head.value}: "
                 + (", ".join(f"{s} {'/'.join(v)}" for s, v in states.items()) or "none (error reports, by people)"))
    print("\n".join(lines))
    return 0


def _status_not_a_stage(ctx: Context, versions: Sequence[Any]) -> int:
    """The status of a flag holding a value outside the plan: what it holds, since when, how to recover;
    exit 1, as a finding (the command itself worked)."""
    head = versions[-1]
    problem = (f"{head.value!r} is not a rollout stage ({', '.join(ctx.plan.stages)}); applications enable "
               "nobody at it (the flag fails closed)")
    recover = _recovery(ctx, versions)
    if ctx.args.format == "json":
        import json

        print(json.dumps({"parameter": ctx.flag_name, "stage": head.value, "valid": False, "problem": problem,
                          "recover": [way.split("`")[1] for way in recover], "version": head.version,
                          "modifiedBy": _who(head), "modified": _when(head.modified), "what": _what(head)},
                         indent=2))
        return 1
    what = f" ({_what(head)})" if _what(head) else ""
    print("\n".join([f"{ctx.flag_name} = {head.value!r}: {problem}",
                      f"  version {head.version}, {_when(head.modified)} by {_who(head)}{what}",
                      *(f"  recover: {way}" for way in recover)]))
    return 1


def history(ctx: Context) -> int:
    versions = ctx.flag().history()
    rows = []
    for i, version in enumerate(versions):
        before = versions[i - 1].value if i else ("(created)" if version.version == 1 else "(older)")
        rows.append({"version": version.version, "when": _when(version.modified), "who": _who(version),
                     "from": before, "to": version.value, "what": _what(version)})
    if ctx.args.limit is not None:
        if ctx.args.limit <= 0:
            raise Refused(f"--limit {ctx.args.limit}: expected a positive number of versions")
        rows = rows[-ctx.args.limit:]
    if ctx.args.format == "json":
        import json

        print(json.dumps({"parameter": ctx.flag_name, "versions": rows}, indent=2))
        return 0
    print(f"{ctx.flag_name}: {len(versions)} version(s) kept by SSM")
    for row in rows:
        what = f"  {row['what']}" if row["what"] else ""
        print(f"  v{row['version']:<4} {row['when']}  {row['from']} -> {row['to']}  by {row['who']}{what}")
    return 0


# --- writing ------------------------------------------------------------------------------------------


def _settled_history(ctx: Context, flag: Any, versions: list[Any]) -> list[Any]:
    """The history once its newest version is settled (store.py, point 5), or a refusal."""
    import time

    deadline = time.monotonic() + _settle_wait()
    while True:
        head = versions[-1]
        if flag.settled(head, _now()):
            return versions
        if time.monotonic() >= deadline:
            if head.action == "lost":
                raise Refused(f"{ctx.flag_name} version {head.version} ({head.value}) lost a race and was not undone: "
                              + "; or ".join(_recovery(ctx, versions)))
            raise Refused(f"{ctx.flag_name} version {head.version} ({head.value!r}, {_when(head.modified)}) has not "
                          "settled: a golive write may still be in flight, or it was written outside golive; "
                          "try again in a few seconds")
        time.sleep(0.2)
        versions = flag.history()


def _settle_wait() -> float:
    from golive.operations.rollout.store import SETTLE_WAIT

    return SETTLE_WAIT


def _gates(ctx: Context, versions: Sequence[Any], target: str, *, check_dwell: bool) -> list[Any]:
    """Every gate that applies to widening the flag from its newest version to `target`; all are run,
    so that a refusal names every reason at once."""
    from golive.operations.rollout import gates

    plan, head = ctx.plan, versions[-1]
    results = []
    if check_dwell:
        results.append(gates.dwell(plan, versions, _now()))
    # The triggers of every stage from here to the target: a forced jump passes the ones between too.
    passed = plan.stages[max(plan.rank(head.value), 0):plan.rank(target) + 1]
    signals = tuple(dict.fromkeys(s for stage in (head.value, *passed) for s in plan.triggers_at(stage)))
    cloudwatch = ctx.client("cloudwatch")
    results.append(gates.alarms(cloudwatch, ctx.environment, signals, ctx.timeout))
    leaving_zero = head.value == plan.stages[0] or not plan.is_stage(head.value)
    if "staging" in plan.gates and leaving_zero:
        if ctx.production and ctx.environment != plan.staging_environment:
            results.append(gates.staging(ctx.client("ssm"), cloudwatch, plan, ctx.timeout))
    if "smoke" in plan.gates:
        results.append(gates.smoke(_smoke_options(ctx)))
    return results


def _smoke_options(ctx: Context) -> AuditOptions:
    """What `golive smoke` would be given for this stack: the rollout's own options, at its AWS region."""
    from golive.operations.audit.options import AuditOptions

    args = ctx.args
    return AuditOptions(stack=args.stack, program_dir=args.program_dir, outputs=args.outputs, region=args.region,
                        aws_endpoint=args.aws_endpoint, aws_region=ctx.region,
                        customerio_track_url=args.customerio_track_url, customerio_api_url=args.customerio_api_url,
                        ca_bundle=args.ca_bundle, timeout=args.timeout,
                        profile=args.profile, role_arn=args.role_arn, external_id=args.external_id,
                        role_session_name=args.role_session_name, aws_identity=ctx.identity)


def _refuse_if_failed(ctx: Context, verb: str, current: str, results: Sequence[Any]) -> None:
    failing = [r.detail for r in results if not r.ok]
    if failing:
        raise Refused(f"{verb} refused, {ctx.flag_name} stays {current}: " + "; ".join(failing))


def _report(ctx: Context, written: Any, before: str, verb: str, command: str) -> None:
    for warning in written.warnings:
        print(f"golive: warning: {warning}", file=sys.stderr)
    if written.stood:
        raced = f" (it raced {len(written.raced)} other write(s) and stands)" if written.raced else ""
        print(f"{verb} {ctx.flag_name}: {before} -> {written.target} (version {written.version}){raced}")
        return
    others = ", ".join(f"version {v.version} ({v.value}{', ' + v.action if v.action else ''} by {_who(v)})"
                       for v in written.raced) or "a later write"
    if written.restores:
        undone = f"; this write (version {written.version}) was undone by version {written.restores[-1]}"
    elif written.final.version != written.version:
        undone = f"; this write (version {written.version}) was superseded by version {written.final.version}"
    else:
        undone = f"; this write (version {written.version}) put the value that was already there"
    raise Refused(f"{command} refused: another writer moved {ctx.flag_name} while this one wrote: {others}{undone}, "
                  f"and the flag is {written.final.value}")


def advance(ctx: Context) -> int:
    plan, flag = ctx.plan, ctx.flag()
    versions = flag.history()
    if not plan.is_stage(versions[-1].value):
        raise _not_a_stage(ctx, versions)
    versions = _settled_history(ctx, flag, versions)
    head = versions[-1]
    if not plan.is_stage(head.value):
        raise _not_a_stage(ctx, versions)
    target = plan.next_stage(head.value)
    if target is None:
        raise Refused(f"{ctx.flag_name} is at {head.value}, the last stage: nothing to advance")
    results = _gates(ctx, versions, target, check_dwell=True)
    _refuse_if_failed(ctx, "advance", head.value, results)
    written = flag.write(target, head, "advance", ctx.args.reason)
    _report(ctx, written, head.value, "advanced", "advance")
    for result in results:
        print(f"  {result.name}: {result.detail}")
    return 0


def _steps_up(plan: Plan, current: str, target: str) -> int:
    """How many stages `target` is above `current` (0 or less: not wider); a value outside the plan
    counts as the first stage, as a race's resolution counts it (store.py)."""
    return plan.rank(target) - max(plan.rank(current), 0)


def set_stage(ctx: Context) -> int:
    plan, flag, target, force = ctx.plan, ctx.flag(), ctx.args.stage, ctx.args.force
    versions = flag.history()
    head = versions[-1]
    if head.value == target:
        print(f"{ctx.flag_name} is already at {target}; nothing written")
        return 0
    results = []
    if _steps_up(plan, head.value, target) > 0:
        versions = _settled_history(ctx, flag, versions)
        head = versions[-1]
        if head.value == target:
            print(f"{ctx.flag_name} is already at {target}; nothing written")
            return 0
    steps = _steps_up(plan, head.value, target)
    if steps > 1 and not force:
        following = plan.next_stage(plan.stages[max(plan.rank(head.value), 0)])
        raise Refused(f"set {target} refused, {ctx.flag_name} stays {head.value}: {target} is {steps} stages up and "
                      f"the plan widens one stage at a time: `{ctx.golive('set', str(following))}` (the same gates "
                      "as advance); to jump, add --force and a --reason, which the flag's history keeps")
    if steps > 0:
        results = _gates(ctx, versions, target, check_dwell=not force)
        _refuse_if_failed(ctx, f"set {target}", head.value, results)
    action = "force" if force and steps > 0 else "set"
    written = flag.write(target, head, action, ctx.args.reason)
    _report(ctx, written, head.value, "set", f"set {target}")
    if action == "force":
        print(f"  forced: {ctx.args.reason.strip()} (the pace set aside, recorded in history; the gates held)")
    for result in results:
        print(f"  {result.name}: {result.detail}")
    return 0


def rollback(ctx: Context) -> int:
    from golive.operations.rollout.store import FlagMoved

    plan, flag = ctx.plan, ctx.flag()
    zero = plan.stages[0]
    written = None
    # A rollback is not refused because the flag moved: it reads again and writes. It writes even when
    # the flag already holds 0: an advance whose gates passed against this version may be about to
    # write, and only a new version makes its compare-and-set fail (store.py) - a rollback that wrote
    # nothing would let it through after saying the flag was at 0.
    for _ in range(5):
        head = flag.head()
        try:
            written = flag.write(zero, head, "rollback", ctx.args.reason)
        except FlagMoved:
            continue
        _report_rollback(ctx, written, head.value)
        break
    else:
        from golive import suggest

        command = suggest.aws(("ssm", "put-parameter", "--name", ctx.flag_name, "--value", zero, "--overwrite"),
                              region=ctx.region, endpoint=ctx.endpoint)
        raise Refused(f"{ctx.flag_name} kept changing under five rollback attempts: set it with `{command}`")
    _print_steps(ctx)
    if written is not None and written.final.value != zero:
        return 2
    return 0


def _report_rollback(ctx: Context, written: Any, before: str) -> None:
    for warning in written.warnings:
        print(f"golive: warning: {warning}", file=sys.stderr)
    if before == written.target:
        print(f"{ctx.flag_name} was already at {before}; wrote it again (version {written.version}), so that no "
              "advance checked against the version before can land")
    else:
        print(f"rolled back {ctx.flag_name}: {before} -> {written.target} (version {written.version})")
    if written.final.value != written.target:
        later = written.final
        print(f"golive: error: version {later.version} came after the rollback and set {later.value}: "
              f"check `{ctx.golive('history')}` and roll back again if that was not meant", file=sys.stderr)


def _print_steps(ctx: Context) -> None:
    steps = ctx.plan.rollback_steps
    print("Follow-up (checklist §7, Rollback Procedure):")
    for number, step in enumerate(steps, 1):
        done = " [done]" if number == 1 else ""
        hint = ""
        if number == len(steps):
            resume = next(s for s in ctx.plan.stages if s.isdigit() and s != ctx.plan.stages[0])
            # From 0 that is a jump past the internal stage: forced, with the reason history will show.
            command = ctx.golive("set", resume, "--force", "--reason", f"resume from {resume} after the fix")
            hint = f": `{command}` once the fix passed staging (the gates still apply)"
        print(f"  {number}. {step}{done}{hint}")
