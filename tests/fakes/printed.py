"""The golive commands a message tells a person to run, read back with golive's own argument parser."""

from __future__ import annotations

import argparse
import re
import shlex

from golive import cli

COMMAND = re.compile(r"`(golive [^`]*)`")


def printed_commands(text: str) -> list[str]:
    """Every `golive ...` command quoted in backticks in `text`."""
    return COMMAND.findall(text)


def parse(command: str) -> argparse.Namespace:
    """The command as golive's parser reads it; an AssertionError naming it when the parser refuses it."""
    argv = shlex.split(command)[1:]
    try:
        return cli._parser(argv[0]).parse_args(argv)
    except SystemExit:
        raise AssertionError(f"golive's argument parser refuses the printed command `{command}`") from None


def assert_runnable(text: str, **expected: str) -> list[argparse.Namespace]:
    """Every golive command in `text` parses, and holds the `expected` option values (dest=value);
    at least one command is there."""
    commands = printed_commands(text)
    assert commands, f"no golive command printed in:\n{text}"
    parsed = []
    for command in commands:
        args = parse(command)
        for dest, value in expected.items():
            assert getattr(args, dest, None) == value, f"`{command}`: {dest} is not {value!r}"
        parsed.append(args)
    return parsed
