"""Many stacks in one run (issue 16 point 6): `golive check --all-stacks` over N generated stacks of the
25-resource bench program vs N separate `golive check` runs, one after another as a script would run
them; the peak memory of the one run (its whole process tree); and the merged report's size and render
time in each format.

N is 200; GOLIVE_BENCH_STACKS=N makes it quicker (the ratio holds from a few dozen stacks on).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "bench" / "program"
STACKS_ENV = "GOLIVE_BENCH_STACKS"


def generate(folder: Path, stacks: int) -> list[str]:
    """The bench program with `stacks` stack files, each a production stack of its own."""
    shutil.copytree(PROGRAM, folder, ignore=shutil.ignore_patterns("Pulumi.*.yaml", "__pycache__"))
    config = (PROGRAM / "Pulumi.production.yaml").read_text()
    names = [f"production-{i:03d}" for i in range(stacks)]
    for name in names:
        (folder / f"Pulumi.{name}.yaml").write_text(config)
    return names


def _tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:  # ended while being read
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * page
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo += children.get(current, [])
    return total


def run_sampled(command: list[str]) -> tuple[float, int, int]:
    """(wall seconds, exit status, peak resident memory of the process tree) of one command."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = process.wait()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    return seconds, code, peak


def bench_fleet() -> None:
    stacks = int(os.environ.get(STACKS_ENV) or 200)
    golive = [sys.executable, "-m", "golive", "check"]
    with tempfile.TemporaryDirectory(prefix="golive-fleet-") as tmp:
        folder = Path(tmp) / "estate"
        names = generate(folder, stacks)
        merged = Path(tmp) / "merged.json"
        subprocess.run([*golive, str(folder), "--stack", names[0]], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=ROOT)  # untimed: a cold disk cache weighs on the first run
        one, code, peak = run_sampled([*golive, str(folder), "--all-stacks", "--format", "json", "-o", str(merged)])
        if code not in (0, 1):
            raise SystemExit(f"golive check --all-stacks exited {code}")
        start = time.perf_counter()
        for name in names:
            subprocess.run([*golive, str(folder), "--stack", name, "--format", "json"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, cwd=ROOT)
        separate = time.perf_counter() - start
        from golive.adoption.fleet import default_jobs

        print(f"{stacks} stacks of 25 resources: one --all-stacks run {one:.1f} s ({default_jobs()} jobs), "
              f"{stacks} separate golive check runs {separate:.1f} s: ratio {one / separate:.2f}; "
              f"peak memory of the one run (its process tree) {peak / 2**20:.0f} MiB")
        report_sizes(merged)


def report_sizes(merged: Path) -> None:
    from golive.adoption.fleet import render
    from golive.analysis.report import merged as merging

    reports = merging.read(str(merged))
    for fmt in ("json", "sarif", "junit", "markdown", "html", "text"):
        start = time.perf_counter()
        # A fresh report each time: the CheckResults it reads back are cached on it.
        text = render(fmt, merging.MergedReport([merging.StackReport(r.project, r.stack, r.source, r.command,
                                                                             r.document, r.error) for r in reports]))
        seconds = time.perf_counter() - start
        print(f"    merged {fmt} of {len(reports)} stacks: {len(text.encode()) / 2**10:,.0f} KiB, rendered in "
              f"{seconds:.2f} s")
    json.loads(merged.read_text())  # the file itself parses back


if __name__ == "__main__":
    bench_fleet()
