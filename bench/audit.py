"""The audit against local servers: moto (AWS), NSD (DNS) and the HTTPS Customer.io stand-in, seeded
with the example production setup as the tests seed it (tests/fakes/*_seed.py).

Goals (issue 4): the whole `golive audit` command under 2 s, and the checks' concurrent run no slower
than the slowest single check plus 20% - each figure measured here, in the same run.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trustme

ROOT = Path(__file__).resolve().parent.parent


_MOTO = """
import sys, time
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"http://{host}:{port}", flush=True)
sys.stdin.read() if not sys.stdin.isatty() else time.sleep(1e9)
"""


@dataclass
class World:
    aws: str
    dns: tuple[str, int]
    cio: str
    bundle: Path
    outputs: Path
    target: Any  # the AuditTarget, with the direct endpoints

    def at(self, aws: str, dns: tuple[str, int], cio: str) -> tuple[list[str], Any]:
        """The audit's command line and target with the given endpoints."""
        from golive.operations.audit.target import Endpoints
        from tests.fakes.aws_seed import REGION

        argv = ["audit", "--stack", "production", "--program-dir", str(ROOT), "--outputs", str(self.outputs),
                "--aws-endpoint", aws, "--aws-region", REGION, "--dns-server", f"{dns[0]}:{dns[1]}",
                "--customerio-track-url", cio, "--customerio-api-url", cio, "--ca-bundle", str(self.bundle)]
        endpoints = Endpoints(aws_url=aws, aws_region=REGION, dns_server=dns[0], dns_port=dns[1], track_url=cio,
                              api_url=cio, ca_bundle=str(self.bundle))
        return argv, replace(self.target, endpoints=endpoints)


@contextlib.contextmanager
def local_world(tmp: Path) -> Iterator[World]:
    """The servers up, each in a process of its own as real services are, and seeded."""
    from golive.operations.audit.target import build
    from golive.preview.project import load_project, load_stack_config
    from tests.fakes.aws_seed import PROD, seed
    from tests.fakes.customerio import CustomerIoStandIn, TlsFiles
    from tests.fakes.dns_seed import compliant, route53_seed
    from tests.fakes.nsd import NsdServer

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # moto's: any value signs
        os.environ[name] = "testing"
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    moto = subprocess.Popen([sys.executable, "-c", _MOTO], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    aws = (moto.stdout.readline() if moto.stdout else "").strip()
    (tmp / "nsd").mkdir()
    nsd = NsdServer(tmp / "nsd")
    nsd.start()
    ca = trustme.CA()
    bundle = tmp / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    # The stand-in runs on a thread of the bench's process, which only waits while the audit runs.
    cio = CustomerIoStandIn(TlsFiles(ca, bundle, ca.issue_cert("127.0.0.1", "localhost"))).start()
    try:
        target = build("production", load_stack_config(load_project(ROOT), "production").values,
                       "Pulumi.production.yaml")
        seeded = seed(aws)
        route53_seed(aws, target)
        nsd.serve(*compliant(target).values())
        cio.allow_track(PROD["site-id"], PROD["track-api-key"])
        cio.allow_app(PROD["app-api-key"])
        outputs = tmp / "outputs.json"
        outputs.write_text(json.dumps({"secretArns": seeded.arns, "alertTopicArn": seeded.topic}))
        yield World(aws, nsd.address, cio.url, bundle, outputs,
                    replace(target, secret_ids=dict(seeded.arns), alert_topic_arn=seeded.topic))
    finally:
        cio.stop()
        nsd.stop()
        moto.kill()
        moto.wait()


@contextlib.contextmanager
def delayed(world: World, delay: float) -> Iterator[tuple[str, tuple[str, int], str]]:
    """The world's endpoints behind bench/latency.py's forwarders: `delay` seconds each way."""
    aws = urlsplit(world.aws)
    cio = urlsplit(world.cio)
    proxy = subprocess.Popen([sys.executable, "-m", "bench.latency", str(delay), f"tcp:{aws.hostname}:{aws.port}",
                              f"dns:{world.dns[0]}:{world.dns[1]}", f"tcp:{cio.hostname}:{cio.port}"],
                             cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ports = [int(p) for p in (proxy.stdout.readline() if proxy.stdout else "").split()]
        yield f"http://127.0.0.1:{ports[0]}", ("127.0.0.1", ports[1]), f"https://127.0.0.1:{ports[2]}"
    finally:
        proxy.kill()
        proxy.wait()


def measure(target_file: str, repeat: int) -> dict[str, object]:
    """In a process of its own, as `golive audit` runs (the servers live in the bench's process): each
    check alone, then all of them concurrently, medians in seconds."""
    import pickle

    from golive.operations.audit.run import plan, run_checks

    target = pickle.loads(Path(target_file).read_bytes())
    run_checks(plan(target))  # first use loads botocore's models and dnspython: not what is measured
    if os.environ.get("GOLIVE_BENCH_PROFILE"):
        import cProfile

        cProfile.runctx("for c in plan(target): c.run()", globals(), {"plan": plan, "target": target},
                        os.environ["GOLIVE_BENCH_PROFILE"])
    alone: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for check in plan(target):
        times, cpus = [], []
        for _ in range(repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            check.run()
            times.append(time.perf_counter() - start)
            cpus.append(time.process_time() - start_cpu)
        alone[check.name] = statistics.median(times)
        cpu[check.name] = statistics.median(cpus)
    if os.environ.get("GOLIVE_BENCH_VERBOSE"):
        for name in alone:
            print(f"  {name:40s} {alone[name] * 1000:6.1f} ms wall {cpu[name] * 1000:6.1f} ms cpu", file=sys.stderr)
    together = []
    for _ in range(repeat):
        start = time.perf_counter()
        run_checks(plan(target))
        together.append(time.perf_counter() - start)
    return {"alone": alone, "together": statistics.median(together)}


DELAY = 0.010  # each way: a 20 ms round trip, as to a cloud API in a nearby region


def _measure_in_child(target: Any, repeat: int, tmp: Path) -> dict[str, Any] | None:
    import pickle

    target_file = tmp / "target.pickle"
    target_file.write_bytes(pickle.dumps(target))
    probe = subprocess.run([sys.executable, "-c", "import json; from bench.audit import measure; "
                            f"print(json.dumps(measure({str(target_file)!r}, {repeat})))"],
                           cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if probe.returncode != 0:
        print("audit bench: the measuring process failed (its error is above)")
        return None
    return json.loads(probe.stdout.strip().splitlines()[-1])


def _report(label: str, measured: dict[str, Any], judged: bool) -> None:
    alone, concurrent = measured["alone"], measured["together"]
    slowest = max(alone, key=alone.__getitem__)
    ratio = concurrent / alone[slowest]
    verdict = (" (goal <= 1.2) " + ("OK" if ratio <= 1.2 else "MISSED")) if judged else " (for reference)"
    print(f"audit {label}, {len(alone)} checks concurrently: {concurrent:.3f} s vs slowest check alone "
          f"({slowest}) {alone[slowest]:.3f} s; all alone one after another {sum(alone.values()):.3f} s: "
          f"ratio {ratio:.2f}{verdict}")


def bench_audit(repeat: int) -> None:
    from golive.operations.audit.result import Status
    from golive.operations.audit.run import plan, run_checks

    with tempfile.TemporaryDirectory(prefix="golive-bench-audit-") as tmp_name, local_world(Path(tmp_name)) as world:
        tmp = Path(tmp_name)
        _, direct_target = world.at(world.aws, world.dns, world.cio)
        results = run_checks(plan(direct_target))
        bad = [r.line() for r in results if r.status is not Status.PASS]
        if bad:
            print("audit bench: the seeded setup does not pass:\n  " + "\n  ".join(bad))
            return
        with delayed(world, DELAY) as (aws, dns, cio):
            argv, target = world.at(aws, dns, cio)
            slow = _measure_in_child(target, repeat, tmp)
            whole = []
            for _ in range(repeat):
                start = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "golive", *argv], cwd=ROOT, capture_output=True,
                                      text=True)
                whole.append(time.perf_counter() - start)
                if done.returncode != 0:
                    print(f"audit bench: golive audit exited {done.returncode}:\n{done.stdout}{done.stderr}")
                    return
        direct = _measure_in_child(direct_target, repeat, tmp)
    if slow is None or direct is None:
        return
    _report(f"with a {DELAY * 2000:.0f} ms round trip to each service", slow, judged=True)
    _report("on bare loopback (pure CPU: nothing to overlap)", direct, judged=False)
    wall = statistics.median(whole)
    print(f"golive audit command, end to end, {DELAY * 2000:.0f} ms round trips: {wall:.2f} s (median of {repeat}; "
          f"goal < 2 s) {'OK' if wall < 2 else 'MISSED'}")
