"""`python -m golive`: argument parsing and the one place errors become exit status 2.

Every error is one `golive: error: ...` line on standard error (argparse's own say `golive COMMAND:
error: ...` under the command's usage line); the message is the error's own words, which name the
file, key or value and never golive's own source lines.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from golive import argtypes
from golive.errors import GoliveError
from golive.packfolder import PACK_DIR as DEFAULT_PACK

FORMATS = ("text", "json", "sarif", "junit", "markdown", "html")


DESCRIPTION = ("The Customer.io go-live checklist as a Pulumi policy pack: check a program or a stack's state "
               "offline, list and explain the policies, keep waivers, verify what is deployed, store keys and "
               "move the staged rollout.")
EPILOG = ("`golive COMMAND --help` shows a command's options. Exit status: 0 all good, 1 something the "
          "checklist blocks (or a failed audit check), 2 bad input or an error, told in one line.")

# Every command, in the order `golive --help` lists them, with its one-line help.
COMMAND_HELP: dict[str, str] = {
    "check": "run a Pulumi program offline in preview mode and apply the pack",
    "stacks": "every Pulumi project under a folder and its stack configs (a CI matrix with --format json)",
    "policies": "list the pack's policies: level, severity, checklist section, why, default thresholds",
    "explain": "a policy: its checklist section, why, thresholds in force, how to fix and how to waive it",
    "waivers": "list, add and check the waivers in a pack config file",
    "fingerprints": "fingerprints of a non-production stack's credentials",
    "credentials": "store a Customer.io key in its secret, checked first",
    "audit": "verify the deployed setup against the checklist (AWS, live DNS, Customer.io)",
    "smoke": "the fast subset of the audit: can the stored keys reach Customer.io's Track and App APIs",
    "rollout": "the staged rollout flag: status, advance, rollback, set STAGE, history",
    "merge": "merge the JSON reports of many stacks (check, audit) into one report in any format",
}


class _Version(argparse.Action):
    """`--version`, worked out only when asked for: no other run reads package metadata."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **_: object) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0,
                         help="print golive's version and its policy pack's, and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        sys.stdout.write(version_text() + "\n")
        parser.exit()


def version_text() -> str:
    """golive's version as installed (pyproject.toml's `version`) and the default pack's (PulumiPolicy.yaml)."""
    from importlib import metadata

    from golive.adoption.waivers import PACK_NAME, pack_metadata

    try:
        version = metadata.version("golive")
    except metadata.PackageNotFoundError:  # a checkout run without `make setup`
        from golive import __version__ as version
    return f"golive {version}, policy pack {PACK_NAME} {pack_metadata(DEFAULT_PACK).get('version', '?')}"


class _Parser(argparse.ArgumentParser):
    """argparse's parser, but a refused value (`--timeout nan`, `--aws-endpoint 'not a url'`, a choice
    not offered) is one line naming the option and the value, as every other bad input is. A call that
    is wrong in shape (an unknown command, a missing or extra argument) keeps the usage line above it."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("argument ") and not message.startswith("argument command:"):
            self.exit(2, f"{self.prog}: error: {message}\n")
        super().error(message)


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every command, with the arguments of all of them (None), of `only`, or of none ("").

    Only the command being run needs its arguments: declaring `audit` and `rollout` imports their
    modules, and `check` runs on a stopwatch. The others are still named, so that usage lines and
    `--help` list every command."""
    parser = _Parser(prog="golive", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in COMMAND_HELP.items():
        command = commands.add_parser(name, help=text, description=f"{text[0].upper()}{text[1:]}.")
        if only is None or only == name:
            _DECLARE[name](command)
    return parser


def _declare_check(check: argparse.ArgumentParser) -> None:
    check.add_argument("program_dir", nargs="?", default=None,
                       help="folder holding Pulumi.yaml (default: .; with --state, only for the stack's config)")
    check.add_argument("--stack", "-s", action="append",
                       help="stack name; config comes from Pulumi.<stack>.yaml (with --state: optional, must agree). "
                            "Repeated, or a pattern (prod*, project/*): each matching stack, one merged report")
    check.add_argument("--all-stacks", action="store_true",
                       help="check every stack of every Pulumi project under the folder (recursively) and every "
                            "--state file, in parallel, into one merged report; exit 2 if any could not be checked, "
                            "else 1 if any has a mandatory finding")
    check.add_argument("--jobs", "-j", type=int, metavar="N",
                       help="stacks checked at once with --all-stacks (default: the cores golive may use)")
    check.add_argument("--compare", metavar="PREV.json",
                       help="a previous JSON report (one stack's or merged): say what is new, fixed and unchanged")
    check.add_argument("--policy-pack", default=str(DEFAULT_PACK), help="policy pack folder (default: policies/)")
    check.add_argument("--policy-pack-config", help="JSON file as for pulumi preview --policy-pack-config")
    check.add_argument("--format", choices=FORMATS, default="text")
    check.add_argument("--output", "-o", help="write the report here instead of standard output")
    check.add_argument("--config", "-c", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value (repeatable), as pulumi config set would")
    check.add_argument("--invoke-results", metavar="FILE",
                       help="JSON or YAML results for provider functions (data sources), by token")
    check.add_argument("--timeout", type=argtypes.seconds, default=300.0,
                       help="seconds the program may run (default 300)")
    check.add_argument("--state", metavar="FILE", action="append",  # given twice: refused by check.run
                       help="check a `pulumi stack export` file (the stack as deployed; - for standard input) "
                            "instead of running the program; with --all-stacks, repeatable")
    check.add_argument("--baseline", metavar="FILE", help="report only findings that are not in this baseline")
    check.add_argument("--write-baseline", metavar="FILE", help="save this run's findings as a baseline")


def _declare_stacks(stacks: argparse.ArgumentParser) -> None:
    stacks.add_argument("root", nargs="?", default=".", help="folder to search for Pulumi.yaml (default: .)")
    stacks.add_argument("--format", choices=("text", "json"), default="text")
    stacks.add_argument("--output", "-o", help="write the list here instead of standard output")


def _declare_policies(policies: argparse.ArgumentParser) -> None:
    policies.add_argument("--format", choices=("text", "json"), default="text")


def _declare_explain(explain: argparse.ArgumentParser) -> None:
    explain.add_argument("policy", metavar="POLICY")
    explain.add_argument("--policy-pack-config", metavar="FILE", help="show the thresholds and waivers this file sets")
    explain.add_argument("--stack", "-s", help="say whether this stack counts as production")


def _declare_waivers(waivers: argparse.ArgumentParser) -> None:
    actions = waivers.add_subparsers(dest="action", required=True)
    file_help = "the pack config file (default: policy-config.json)"
    listing = actions.add_parser("list", help="every waiver in the file with its status today")
    listing.add_argument("--policy-pack-config", default="policy-config.json", metavar="FILE", help=file_help)
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.add_argument("--tree", metavar="DIR",
                         help="every pack config under DIR instead: each waiver, the stacks it covers, expired and "
                              "stale first")
    listing.add_argument("--report", dest="reports", action="append", metavar="REPORT.json",
                         help="with --tree: a golive check JSON report (one stack's or merged), to tell the stacks "
                              "each waiver hides findings in and where it is stale (repeatable)")
    add = actions.add_parser("add", help="add a waiver to a policy (a reason, an owner, at most 90 days)")
    add.add_argument("policy", metavar="POLICY")
    # Not required by argparse: golive says what is missing in one line, as for any other bad waiver.
    add.add_argument("--reason", help="why the finding is accepted, and what ends it")
    add.add_argument("--owner", help="who answers for it (a handle, team or e-mail; no colon)")
    add.add_argument("--expires", metavar="YYYY-MM-DD", help="last day it applies (UTC), at most 90 days ahead")
    add.add_argument("--stack", dest="stacks", action="append", metavar="PATTERN",
                     help="stack-name pattern (repeatable; default: every stack)")
    add.add_argument("--resource", dest="resources", action="append", metavar="PATTERN",
                     help="resource URN, type or name pattern (repeatable; default: every finding of the policy)")
    add.add_argument("--id", help="a name for the waiver in reports (default: #<its place in the list>)")
    add.add_argument("--policy-pack-config", default="policy-config.json", metavar="FILE", help=file_help)
    add.add_argument("--program-dir", default=".",
                     help="folder holding Pulumi.yaml: each --resource pattern is checked against the resources "
                          "of its stacks that the waiver covers (default: .)")
    check = actions.add_parser("check", help="run golive check and report active, expired and stale waivers")
    check.add_argument("program_dir", nargs="?", default=".", help="folder holding Pulumi.yaml (default: .)")
    check.add_argument("--stack", "-s", required=True, help="stack name; config comes from Pulumi.<stack>.yaml")
    check.add_argument("--policy-pack-config", default="policy-config.json", metavar="FILE", help=file_help)
    check.add_argument("--policy-pack", default=str(DEFAULT_PACK), help="policy pack folder (default: policies/)")
    check.add_argument("--config", "-c", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value (repeatable), as pulumi config set would")
    check.add_argument("--invoke-results", metavar="FILE",
                       help="JSON or YAML results for provider functions (data sources), by token")
    check.add_argument("--timeout", type=argtypes.seconds, default=300.0,
                       help="seconds the program may run (default 300)")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--output", "-o", help="write the report here instead of standard output")


def _declare_fingerprints(prints: argparse.ArgumentParser) -> None:
    prints.add_argument("--stack", "-s", required=True, help="the non-production stack")
    prints.add_argument("--environment", help="environment in the secret names (default: the stack name)")
    prints.add_argument("--merge", metavar="FILE", help="merge into this policy-pack config file instead of printing")
    argtypes.add_aws_endpoint(prints, region_default="the environment's")


def _declare_credentials(creds: argparse.ArgumentParser) -> None:
    actions = creds.add_subparsers(dest="action", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("name", metavar="NAME",
                        help="site-id, track-api-key or app-api-key (or the secret's name customerio/<env>/<kind>)")
    common.add_argument("--stack", "-s", help="stack whose config gives the environment and regions")
    common.add_argument("--program-dir", default=".", help="folder holding Pulumi.yaml (default: .)")
    common.add_argument("--environment", help="environment in the secret name (default: golive:environment)")
    common.add_argument("--compare-with", action="append", metavar="ENV",
                        help="non-production environment whose key must differ (repeatable; default: staging "
                             "for a production environment)")
    argtypes.add_aws_endpoint(common, region_default="the stack's aws:region")
    argtypes.add_customerio_endpoints(common)
    common.add_argument("--timeout", type=argtypes.seconds, default=10.0,
                        help="seconds to wait for each Customer.io answer (default 10)")
    from golive.clients.aws import add_identity_options  # boto3: only for the command that needs it

    add_identity_options(common)
    actions.add_parser("put", parents=[common], help="read a key on standard input and make it the current value")
    actions.add_parser("stage", parents=[common],
                       help="read a key on standard input and stage it (GOLIVE_STAGED) for the next rotation")


def _declare_audit(audit: argparse.ArgumentParser) -> None:
    from golive.operations.audit.command import add_arguments

    add_arguments(audit, smoke=False)


def _declare_smoke(smoke: argparse.ArgumentParser) -> None:
    from golive.operations.audit.command import add_arguments

    add_arguments(smoke, smoke=True)


def _declare_merge(merge: argparse.ArgumentParser) -> None:
    from golive.adoption.fleet import add_merge_arguments

    add_merge_arguments(merge)


def _declare_rollout(rollout: argparse.ArgumentParser) -> None:
    from golive.operations.rollout.command import add_arguments

    add_arguments(rollout)


_DECLARE: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "check": _declare_check, "stacks": _declare_stacks, "policies": _declare_policies, "explain": _declare_explain,
    "waivers": _declare_waivers,
    "fingerprints": _declare_fingerprints, "credentials": _declare_credentials, "audit": _declare_audit,
    "smoke": _declare_smoke, "rollout": _declare_rollout, "merge": _declare_merge,
}


def _fingerprints(args: argparse.Namespace) -> int:
    from golive.operations import fingerprints

    return fingerprints.run(args)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # golive takes no option with a value before the command, so the first command name is the command.
    parser = _parser(next((word for word in argv if word in _COMMANDS), ""))
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the command's own parser, with its own usage line, not golive's
        _innermost(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return _COMMANDS[args.command](args)
    except GoliveError as err:
        print(f"golive: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Terminated as stop:
        return 128 + stop.signum


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised where golive is, as SIGINT raises KeyboardInterrupt: every `with`
    and `finally` on the way out ends its children and removes its temporary files, as on Ctrl-C
    (a BaseException, so that no `except Exception` on the way stops it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: object) -> None:
    # Once: a second signal must not cut the cleanup the first one started short.
    for other in _TERMINATING:
        signal.signal(other, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise Terminated(signum)


# What CI cancellation, `timeout` and `docker stop` send (SIGTERM), and a closed terminal (SIGHUP).
_TERMINATING = (signal.SIGTERM, signal.SIGHUP)


def _catch_termination() -> None:
    for signum in _TERMINATING:
        if signal.getsignal(signum) == signal.SIG_DFL:  # one ignored on purpose (nohup) stays ignored
            signal.signal(signum, _terminate)


def _innermost(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the (sub)command `args` came from: `golive waivers add`'s for `golive waivers add ...`."""
    while True:
        chosen = [action.choices[getattr(args, action.dest)] for action in parser._actions
                  if isinstance(action, argparse._SubParsersAction) and getattr(args, action.dest, None)]
        if not chosen:
            return parser
        parser = chosen[0]


# Young-generation threshold of golive's own process (CPython's default is 700).
GC_THRESHOLD0 = 100_000


def run() -> None:
    """Entry point of `golive ...` (the console script) and of `python -m golive`."""
    # What golive allocates is mostly modules it imports (gRPC, protobuf, the validators) and the
    # graph it keeps, all long-lived: at 700, a `golive check` ran dozens of young collections that
    # found little garbage, on the CPU core the policy pack needs (figures: docs/benchmarks.md).
    import gc

    gc.set_threshold(GC_THRESHOLD0, *gc.get_threshold()[1:])
    _catch_termination()
    if next((word for word in sys.argv[1:] if word in _COMMANDS), "") in _RUN_CHILDREN:
        _adopt_orphans()
    try:
        code = main()
    except Terminated as stop:  # before main's own `try` (parsing, imports) or after it
        code = 128 + stop.signum
    except KeyboardInterrupt:
        code = 130
    for signum in (*_TERMINATING, signal.SIGINT):  # the outcome is known: what is left is only to end
        signal.signal(signum, signal.SIG_IGN)
    # Leave the heap to the operating system. golive's output is written and its files are closed by
    # now; what interpreter shutdown would still do is join threads, run atexit handlers (both done
    # here, in its order), then tear down every module gRPC, protobuf and jsonschema loaded, with
    # collections over all of it: time at the end of every `golive check`, for nothing.
    import atexit
    import threading

    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    _end_children()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away (EPIPE), or a closed stream
            pass
    os._exit(code if isinstance(code, int) else 1)


def _end_children() -> None:
    """Nothing golive started outlives it: the program's and the pack's processes are ended by the
    run, and this ends whatever is left below golive's process - a daemon of theirs re-parented to
    golive (`_adopt_orphans`) or a child a signal caught half-started."""
    if "golive.preview.process" in sys.modules:  # no command that started a process: nothing to end
        from golive.preview.process import end_descendants

        end_descendants(os.getpid())


# The commands that start a program or a policy pack.
_RUN_CHILDREN = ("check", "waivers")


def _adopt_orphans() -> None:
    """Make golive's process a child subreaper (Linux): a descendant of the program or the pack whose
    parent exits is re-parented to golive rather than to init, so `_end_children` finds it.
    Only for the commands that run children, and only in golive's own process (not where `main` is
    called in another's, as by tests: there the program's and the pack's own trees hold them)."""
    from golive.preview.process import set_subreaper

    set_subreaper()


def _check(args: argparse.Namespace) -> int:
    from golive.adoption import check  # imported per command: `check` should not pay for boto3, nor `--help` for gRPC

    # The command line's edge: below it, check takes options (compare_report is read from --compare).
    fields = [name for name in check.CheckOptions.__slots__ if name != "compare_report"]
    return check.run(check.CheckOptions(**{name: getattr(args, name) for name in fields}))


def _stacks(args: argparse.Namespace) -> int:
    from golive.adoption import stacks

    return stacks.run(args)


def _credentials(args: argparse.Namespace) -> int:
    from golive.operations import store_credential  # boto3 and requests load only for this command

    return store_credential.run(args)


def _audit(args: argparse.Namespace, *, smoke: bool = False) -> int:
    from dataclasses import fields

    from golive.operations.audit import command
    from golive.operations.audit.options import AuditOptions

    # The command line's edge: below it the audit takes options, not argparse's namespace. The
    # smoke test's parser has no --dns-server, --compare-with, ...: those keep their defaults.
    given = {f.name: getattr(args, f.name) for f in fields(AuditOptions) if hasattr(args, f.name)}
    return command.run(AuditOptions(**given), report_format=args.format, output=args.output, smoke=smoke)


def _smoke(args: argparse.Namespace) -> int:
    return _audit(args, smoke=True)


def _rollout(args: argparse.Namespace) -> int:
    from golive.operations.rollout import command

    return command.run(args)


def _merge(args: argparse.Namespace) -> int:
    from golive.adoption import fleet

    return fleet.merge(args)


def _waivers(args: argparse.Namespace) -> int:
    from golive.adoption import waivers

    return waivers.run(args)


def _explain(args: argparse.Namespace) -> int:
    from golive.adoption import explain

    return explain.run(args)


def _policies(args: argparse.Namespace) -> int:
    from golive.adoption import policies

    return policies.run(args)


_COMMANDS = {"check": _check, "stacks": _stacks, "policies": _policies, "explain": _explain, "waivers": _waivers,
             "fingerprints": _fingerprints, "credentials": _credentials, "audit": _audit, "smoke": _smoke,
             "rollout": _rollout, "merge": _merge}
