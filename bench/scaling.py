"""`golive check` against checkov as the stack grows: the same resources as a generated Pulumi program
and as generated Terraform, at each size, in one interleaved run.

Each size starts from the 25-resource production setup of bench/program (bench/terraform for checkov)
and adds an unrelated estate of S3 buckets, security groups, IAM roles and Lambda functions, one
declaration per resource in both languages (a Terraform `count` would be one resource to checkov).

Peak memory is the sum, over every process of a run (the tool and all it starts), of that process's
own peak resident set (VmHWM in /proc/PID/status). A sampler walks the run's process tree
(/proc/PID/task/TID/children) every 50 ms and reads each process's VmHWM every 10 ms; VmHWM only
grows, so the last reading before a process ends is its peak up to that moment (a process that
starts and ends between two walks is missed: the tools' such processes are small). (getrusage's
RUSAGE_CHILDREN gives the largest single child, not a sum, and sees only reaped children.)
A tool that forks workers (checkov does) has their shared pages counted once per worker in that sum,
so the table also gives the peak, over the run, of the processes' summed proportional set size (Pss
in /proc/PID/smaps_rollup, shared pages split among their sharers), sampled less often.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

# 1,000 is there for its 10x partner, 10,000.
SIZES = (25, 250, 1000, 2500, 10000)
QUICK_SIZES = (25, 250)
BASE = 25  # resources in bench/program and bench/terraform
FILE_RESOURCES = 250  # resources per generated .tf file
# The sampler shares the host's two cores with the tools it measures: walking the tree every 5 ms and
# summing Pss every 50 ms took a quarter of a core from them, most of it smaps_rollup, which walks a
# process's page tables under its memory map lock (milliseconds for a process of 600 MB). VmHWM is
# read every SAMPLE_SECONDS, the tree walked for new processes every WALK_EVERY samples, Pss summed
# every PSS_EVERY (once a second after the first two, five times a second before: the Pss column is a
# coarser figure than the peak).
SAMPLE_SECONDS = 0.01
WALK_EVERY = 5
PSS_EVERY = 100


def _filler_python(i: int) -> str:
    kind = i % 4
    if kind == 0:
        return (f"aws.s3.Bucket('bucket-{i}', bucket='estate-bucket-{i}', force_destroy=False, "
                f"tags={{'team': 'team-{i % 17}', 'cost-center': '{i % 9}'}})\n")
    if kind == 1:
        return (f"aws.ec2.SecurityGroup('sg-{i}', description='web', vpc_id='vpc-0123456789', ingress=["
                + ", ".join(f"{{'from_port': {p}, 'to_port': {p}, 'protocol': 'tcp', "
                            f"'cidr_blocks': ['10.0.0.0/8']}}" for p in (80, 443))
                + "])\n")
    if kind == 2:
        return (f"aws.iam.Role('role-{i}', assume_role_policy=ASSUME, "
                f"tags={{'team': 'team-{i % 17}'}})\n")
    return (f"aws.lambda_.Function('fn-{i}', runtime='python3.12', handler='app.handler', role=ROLE_ARN, "
            f"memory_size=256, environment={{'variables': {{'LOG_LEVEL': 'info', 'TABLE': 'table-{i}', "
            f"'API_URL': 'https://track.customer.io'}}}})\n")


def _filler_terraform(i: int) -> str:
    kind = i % 4
    if kind == 0:
        return (f'resource "aws_s3_bucket" "bucket_{i}" {{\n  bucket        = "estate-bucket-{i}"\n'
                f'  force_destroy = false\n  tags          = {{ team = "team-{i % 17}", '
                f'"cost-center" = "{i % 9}" }}\n}}\n\n')
    if kind == 1:
        ingress = "".join(f'  ingress {{\n    from_port   = {p}\n    to_port     = {p}\n    protocol    = "tcp"\n'
                          f'    cidr_blocks = ["10.0.0.0/8"]\n  }}\n' for p in (80, 443))
        return (f'resource "aws_security_group" "sg_{i}" {{\n  description = "web"\n'
                f'  vpc_id      = "vpc-0123456789"\n{ingress}}}\n\n')
    if kind == 2:
        return (f'resource "aws_iam_role" "role_{i}" {{\n  assume_role_policy = local.assume\n'
                f'  tags               = {{ team = "team-{i % 17}" }}\n}}\n\n')
    return (f'resource "aws_lambda_function" "fn_{i}" {{\n  function_name = "fn-{i}"\n  runtime       = "python3.12"\n'
            f'  handler       = "app.handler"\n  role          = local.role_arn\n  memory_size   = 256\n'
            f'  filename      = "app.zip"\n  environment {{\n    variables = {{ LOG_LEVEL = "info", '
            f'TABLE = "table-{i}", API_URL = "https://track.customer.io" }}\n  }}\n}}\n\n')


ASSUME = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",'
          '"Principal":{"Service":"lambda.amazonaws.com"}}]}')
ROLE_ARN = "arn:aws:iam::123456789012:role/estate"


def generate(resources: int, root: Path, bench_dir: Path) -> tuple[Path, Path]:
    """A Pulumi program and a Terraform folder of `resources` resources each, under `root`.

    The program is one file, the harder case for golive. The Terraform estate is split into files of
    FILE_RESOURCES resources, as real estates are: checkov gives up on a file its HCL parser cannot
    read within 10 s (twice, then it scans nothing of it), which one file of 10,000 resources is."""
    program, terraform = root / f"program-{resources}", root / f"terraform-{resources}"
    shutil.copytree(bench_dir / "program", program)
    terraform.mkdir()
    extra = range(max(0, resources - BASE))
    with open(program / "__main__.py", "a", encoding="utf-8") as out:
        out.write(f"\nASSUME = {ASSUME!r}\nROLE_ARN = {ROLE_ARN!r}\n")
        out.writelines(_filler_python(i) for i in extra)
    with open(terraform / "main.tf", "w", encoding="utf-8") as out:
        out.write((bench_dir / "terraform" / "main.tf").read_text(encoding="utf-8"))
        out.write(f"\nlocals {{\n  assume   = {json.dumps(ASSUME)}\n  role_arn = {json.dumps(ROLE_ARN)}\n}}\n")
    for first in range(0, len(extra), FILE_RESOURCES):
        with open(terraform / f"estate-{first // FILE_RESOURCES:03d}.tf", "w", encoding="utf-8") as out:
            out.writelines(_filler_terraform(i) for i in extra[first:first + FILE_RESOURCES])
    return program, terraform


class CheckovScannedTooLittle(RuntimeError):
    """checkov ran but did not scan every resource: its time would not be a comparison."""


def checkov_coverage(report: str) -> tuple[int, int]:
    """(resource_count, parsing_errors) from checkov's `-o json` output (one framework or a list)."""
    data = json.loads(report)
    summaries = [d["summary"] for d in (data if isinstance(data, list) else [data])]
    return sum(s["resource_count"] for s in summaries), sum(s["parsing_errors"] for s in summaries)


def verify_checkov(checkov: Path, terraform: Path, resources: int, cwd: Path) -> None:
    """Run checkov once on `terraform` and make sure it parsed every file and scanned every resource."""
    done = subprocess.run([str(checkov), "-d", str(terraform), "--quiet", "--compact", "-o", "json"], cwd=cwd,
                          capture_output=True, text=True)
    scanned, errors = checkov_coverage(done.stdout)
    if scanned != resources or errors:
        raise CheckovScannedTooLittle(f"checkov scanned {scanned} of {resources} resources in {terraform} "
                                      f"({errors} parsing errors)")


def _children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as handle:
                found.extend(int(p) for p in handle.read().split())
        except OSError:
            pass
    return found


def _field_kib(path: str, name: str) -> int | None:
    """A `Name:   123 kB` line of a /proc file, in KiB; None when the process or the line is gone."""
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith(name):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _peak_kib(pid: int) -> int | None:
    return _field_kib(f"/proc/{pid}/status", "VmHWM:")


def _pss_kib(pid: int) -> int:
    return _field_kib(f"/proc/{pid}/smaps_rollup", "Pss:") or 0


class PeakSampler:
    """The peak resident set of each process in a tree, summed: see the module docstring."""

    def __init__(self, root_pid: int) -> None:
        self.root_pid = root_pid
        self.peaks: dict[int, int] = {}
        self.pss_peak = 0  # KiB
        self._pids: list[int] = []
        self._samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        if self._samples % WALK_EVERY == 0:
            # The walk reads a children file per thread (a gRPC process has dozens): the dear part.
            todo, self._pids = [self.root_pid], []
            while todo:
                pid = todo.pop()
                self._pids.append(pid)
                todo.extend(_children(pid))
        for pid in self._pids:
            peak = _peak_kib(pid)
            if peak is not None and peak > self.peaks.get(pid, 0):
                self.peaks[pid] = peak
        self._samples += 1
        # smaps_rollup walks the page tables: dear for a large process, which only long runs have.
        if self._samples % (PSS_EVERY if self._samples > 2 * PSS_EVERY else PSS_EVERY // 5) == 0:
            self.pss_peak = max(self.pss_peak, sum(map(_pss_kib, self._pids)))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_SECONDS)

    @property
    def total_bytes(self) -> int:
        return sum(self.peaks.values()) * 1024


def measure(command: list[str], cwd: Path) -> tuple[float, int, int]:
    """Wall seconds, summed peak memory and peak summed Pss (bytes) of one run of `command`."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with PeakSampler(proc.pid) as sampler:
        # The root's own peak, read while it is a zombie would be too late (its memory is gone).
        while proc.poll() is None:
            time.sleep(SAMPLE_SECONDS)
    return time.perf_counter() - start, sampler.total_bytes, sampler.pss_peak * 1024


@dataclass
class Row:
    resources: int
    ours: float
    theirs: float
    ours_memory: int
    theirs_memory: int
    ours_pss: int
    theirs_pss: int


def _repeats(resources: int, repeat: int) -> int:
    # The largest sizes take tens of seconds a run: fewer repeats, still interleaved.
    return repeat if resources <= 2500 else max(1, min(repeat, 3))


def run_table(golive: list[str], checkov: Path, bench_dir: Path, work: Path, sizes: tuple[int, ...],
              repeat: int) -> list[Row]:
    rows = []
    for resources in sizes:
        program, terraform = generate(resources, work, bench_dir)
        ours_cmd = [*golive, "check", str(program), "--stack", "production"]
        theirs_cmd = [str(checkov), "-d", str(terraform), "--quiet", "--compact"]
        times: dict[str, list[float]] = {"ours": [], "theirs": []}
        memory: dict[str, list[int]] = {"ours": [], "theirs": []}
        pss: dict[str, list[int]] = {"ours": [], "theirs": []}
        # Untimed runs first, to warm caches; checkov's also proves it scans every resource.
        subprocess.run(ours_cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        verify_checkov(checkov, terraform, resources, work)
        for _ in range(_repeats(resources, repeat)):
            # Interleaved, so a host that slows down mid-run weighs on both tools alike.
            for key, command in (("ours", ours_cmd), ("theirs", theirs_cmd)):
                seconds, peak, peak_pss = measure(command, work)
                times[key].append(seconds)
                memory[key].append(peak)
                pss[key].append(peak_pss)
        rows.append(Row(resources, statistics.median(times["ours"]), statistics.median(times["theirs"]),
                        max(memory["ours"]), max(memory["theirs"]), max(pss["ours"]), max(pss["theirs"])))
        print_row(rows[-1])
    return rows


def print_row(row: Row) -> None:
    ratio = row.ours / row.theirs
    print(f"  {row.resources:>6,} resources: golive {row.ours:7.2f} s ({row.ours / row.resources * 1000:6.2f} ms/res,"
          f" {row.ours_memory / 1e9:.3f} GB, Pss {row.ours_pss / 1e9:.3f} GB)  checkov {row.theirs:7.2f} s "
          f"({row.theirs / row.resources * 1000:6.2f} ms/res, {row.theirs_memory / 1e9:.3f} GB, "
          f"Pss {row.theirs_pss / 1e9:.3f} GB)  ratio {ratio:.3f} (goal <= 0.5) {'OK' if ratio <= 0.5 else 'MISSED'}",
          flush=True)


def print_growth(rows: list[Row]) -> None:
    by_size = {r.resources: r for r in rows}
    for small in by_size:
        big = by_size.get(small * 10)
        if big is None:
            continue
        growth = big.ours / by_size[small].ours
        print(f"  10x growth {small:,} -> {big.resources:,}: golive {growth:.2f}x the time "
              f"(goal <= 10x) {'OK' if growth <= 10 else 'MISSED'}, checkov "
              f"{big.theirs / by_size[small].theirs:.2f}x")
    top = by_size.get(10000)
    if top is not None:
        ok = top.ours_memory < 0.775e9
        print(f"  peak memory at 10,000 resources: {top.ours_memory / 1e9:.3f} GB (goal < 0.775 GB) "
              f"{'OK' if ok else 'MISSED'}")
