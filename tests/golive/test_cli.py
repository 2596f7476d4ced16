"""golive.cli.run, the process's entry point: what it does around `main` until the process ends."""

from __future__ import annotations

import subprocess
import sys

from golive import cli


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
