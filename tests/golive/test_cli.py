"""golive.cli: the process's entry point (what it does around `main` until the process ends), and what
golive says: its help, version, usage lines and error messages."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import golive as golive_package
from golive import cli
from golive.preview import program
from golive.preview.project import load_project


def _run_with_main(body: str) -> subprocess.CompletedProcess[str]:
    """Run `cli.run()` in a fresh interpreter, with `main` replaced by `body` (which returns the status)."""
    script = ("import atexit, gc, sys\n"
              "import golive.cli as cli\n"
              "def main():\n" + "".join(f"    {line}\n" for line in body.splitlines()) +
              "cli.main = main\n"
              "cli.run()\n"
              "print('not reached')\n")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)


def test_the_status_of_main_after_atexit_handlers_and_flushed_output():
    done = _run_with_main("atexit.register(lambda: print('atexit ran'))\n"
                          "sys.stdout.write('report without newline')\n"
                          "return 1")
    assert done.returncode == 1
    assert done.stdout == "report without newlineatexit ran\n"


def test_golive_collects_young_garbage_less_often():
    done = _run_with_main("print(gc.get_threshold()[0])\nreturn 0")
    assert done.returncode == 0
    assert int(done.stdout) == cli.GC_THRESHOLD0 > 700


# --- what golive says: help, version, usage lines, errors --------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def golive(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m golive ARGV...` as a user runs it, from the repository's root."""
    return subprocess.run([sys.executable, "-m", "golive", *argv], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


def usage_commands(usage: str) -> list[str]:
    """The commands golive's usage line offers: `{check,policies,...}`, its first set of choices."""
    return re.findall(r"\{([a-z,]+)\}", " ".join(usage.split()))[0].split(",")


def test_version_is_the_packages_and_the_packs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pack = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    done = golive("--version")
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == f"golive {project['version']}, policy pack golive-customerio {pack['version']}\n"
    assert golive_package.__version__ == project["version"]  # what an uninstalled checkout reports


def test_help_describes_golive_and_lists_every_command_with_its_help():
    done = golive("--help")
    assert done.returncode == 0
    flat = " ".join(done.stdout.split())
    assert " ".join(cli.DESCRIPTION.split()) in flat
    assert "argument parsing" not in flat and "exit status 2." not in flat  # not the module's docstring
    assert "--version" in flat
    for name, text in cli.COMMAND_HELP.items():
        assert f"{name} {text}" in flat
    assert usage_commands(done.stdout) == list(cli.COMMAND_HELP) and set(cli.COMMAND_HELP) == set(cli._COMMANDS)


@pytest.mark.parametrize("command", sorted(cli.COMMAND_HELP))
def test_the_usage_line_lists_every_command_whichever_is_run(command):
    assert usage_commands(cli._parser(command).format_usage()) == list(cli.COMMAND_HELP)


def test_declaring_one_command_leaves_the_others_modules_unloaded():
    """The speed of `golive check`: its parser must not import audit's or rollout's modules."""
    code = ("import sys\nfrom golive import cli\ncli._parser('check').parse_args(['check', '--stack', 'x'])\n"
            "print(sorted(m for m in sys.modules\n"
            "             if m.startswith(('golive.operations', 'golive.rollout', 'golive.adoption.waivers'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == "[]\n"


def test_an_extra_argument_is_refused_under_the_commands_own_usage():
    done = golive("check", "here", "there")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("usage: golive check ")
    assert done.stderr.splitlines()[-1] == "golive check: error: unrecognized arguments: there"
    done = golive("waivers", "add", "email-spf-record", "--resources", "x")
    assert done.returncode == 2 and done.stderr.startswith("usage: golive waivers add ")
    assert done.stderr.splitlines()[-1] == "golive waivers add: error: unrecognized arguments: --resources x"
    done = golive("bogus")
    assert done.returncode == 2 and usage_commands(done.stderr) == list(cli.COMMAND_HELP)


def test_a_config_error_in_the_program_has_one_prefix(capsys):
    code = cli.main(["check", str(ROOT), "--stack", "production", "--config", "golive:rotationDays=5000"])
    assert code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "golive: error: golive:rotationDays: expected a whole number from 1 to 1000, got 5000\n"


def test_a_program_stopped_before_it_started_is_not_placed_in_golives_code():
    done = golive("check", ".", "--stack", "production", "--timeout", "0.05")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("golive: error: program did not finish within 0.05s and was stopped"), line
    assert "golive/" not in line and "_exec.py" not in line


def test_golives_own_frames_are_never_the_programs_location():
    """This repository's program lives in golive's own folder: golive's files there are still golive's."""
    project = load_project(ROOT)
    exec_file, main_file = ROOT / "golive" / "preview" / "_exec.py", ROOT / "__main__.py"
    settings_file = ROOT / "components" / "settings.py"
    # A faulthandler dump of a program stopped while its interpreter was still loading the SDK ...
    dump = (f'Current thread 0x00007f (most recent call first):\n  File "{ROOT}/.venv/lib/python3.11/site-packages/'
            f'pulumi/__init__.py", line 20 in <module>\n  File "{exec_file}", line 186 in main\n'
            f'  File "{exec_file}", line 296 in <module>\n')
    assert program._stuck_at(dump, project) == ""
    # ... and of one stopped in its own code, called from golive's runner.
    dump = dump.replace("pulumi/__init__.py\", line 20 in <module>", f'x.py", line 1 in f\n  File "{main_file}", '
                        f"line 21 in <module>")
    assert program._stuck_at(dump, project) == "__main__.py:21"
    # An exception: the traceback shows the program's frames only, and the summary the innermost of them.
    frames = [(exec_file, 240), (exec_file, 236), (main_file, 21), (settings_file, 84),
              (ROOT / "golive" / "rollout" / "plan.py", 50)]
    report = {"kind": "exception", "type": "TypeError", "message": "'int' object is not iterable", "causes": [],
              "frames": [{"file": str(file), "line": line, "name": "f", "text": "x"} for file, line in frames]}
    message = program._exception_message(project, report)
    assert message.splitlines()[0] == (
        "program failed: TypeError: 'int' object is not iterable (components/settings.py:84)")
    assert "golive/" not in message and "_exec.py" not in message
    assert 'File "__main__.py", line 21' in message and 'File "components/settings.py", line 84' in message


def test_a_report_that_cannot_be_written_is_one_line_not_a_traceback(tmp_path, capsys):
    (tmp_path / "report.json").mkdir()  # a folder where the report should go
    code = cli.main(["check", str(ROOT), "--stack", "production", "--output", str(tmp_path / "report.json")])
    assert code == 2
    assert capsys.readouterr().err == (f"golive: error: --output {tmp_path / 'report.json'}: is a folder; "
                                       "give a file name\n")
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left behind
