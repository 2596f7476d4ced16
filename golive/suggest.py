"""The commands golive prints for a person to run, as complete command lines for the stack at hand.

A fix that reads `golive credentials put app-api-key` fails as typed: that command needs the stack
(and, when the printing command was given them, the program folder and a private AWS or Customer.io
endpoint). Every golive command a message suggests is built here from the command's words and the
options that located the stack in the command that prints it, keeping only those the suggested
command accepts, and quoted for a POSIX shell.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence

# Options that say which stack, and where its services are: dest -> flag, in printing order.
FLAGS: dict[str, str] = {
    "stack": "--stack",
    "program_dir": "--program-dir",
    "environment": "--environment",
    "outputs": "--outputs",
    "aws_endpoint": "--aws-endpoint",
    "aws_region": "--aws-region",
    "region": "--region",
    "customerio_track_url": "--customerio-track-url",
    "customerio_api_url": "--customerio-api-url",
    "ca_bundle": "--ca-bundle",
    "compare_with": "--compare-with",
    # Whose AWS credentials (golive.clients.aws.Identity): a fix must act in the account the audit read.
    "profile": "--profile",
    "role_arn": "--role-arn",
    "external_id": "--external-id",
    "role_session_name": "--role-session-name",
}
_DEFAULTS: dict[str, object] = {"program_dir": "."}

# Which of them each suggested command accepts (golive/cli.py, golive/operations/rollout/command.py).
_IDENTITY: tuple[str, ...] = ("profile", "role_arn", "external_id", "role_session_name")
CREDENTIALS: tuple[str, ...] = ("stack", "program_dir", "environment", "aws_endpoint", "aws_region",
                                "customerio_track_url", "customerio_api_url", "ca_bundle", "compare_with", *_IDENTITY)
ROLLOUT: tuple[str, ...] = ("stack", "program_dir", "outputs", "aws_endpoint", "aws_region", *_IDENTITY)
# `advance` and `set` also run the smoke test, so they take the Customer.io endpoints.
ROLLOUT_GATED: tuple[str, ...] = (*ROLLOUT, "region", "customerio_track_url", "customerio_api_url", "ca_bundle")

Given = Mapping[str, str | Sequence[str]]


def given(args: object) -> dict[str, str | list[str]]:
    """The options of FLAGS that `args` (argparse's namespace, or a command's options such as
    AuditOptions) holds a value for (other than the default)."""
    found: dict[str, str | list[str]] = {}
    for dest in FLAGS:
        value = getattr(args, dest, None)
        if value is None or value == _DEFAULTS.get(dest) or value == []:
            continue
        found[dest] = [str(v) for v in value] if isinstance(value, list | tuple) else str(value)
    return found


def golive(words: Iterable[str], options: Given, accepts: Sequence[str]) -> str:
    """`golive COMMAND ARGS --stack ... [FLAGS]`: `words` (the command, its arguments, then any flags of
    its own) with the options of `options` that the command `accepts` after the arguments."""
    words = list(words)
    split = next((i for i, word in enumerate(words) if word.startswith("--")), len(words))
    argv = ["golive", *words[:split]]
    for dest in FLAGS:
        if dest not in accepts or dest not in options:
            continue
        value = options[dest]
        for one in [value] if isinstance(value, str) else value:
            argv += [FLAGS[dest], one]
    return shlex.join([*argv, *words[split:]])


def aws(words: Iterable[str], *, region: str | None = None, endpoint: str | None = None) -> str:
    """An `aws` CLI command line aimed at the same region and endpoint golive used."""
    argv = ["aws", *words]
    if region:
        argv += ["--region", region]
    if endpoint:
        argv += ["--endpoint-url", endpoint]
    return shlex.join(argv)
