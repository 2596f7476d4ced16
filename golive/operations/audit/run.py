"""Run the audit's checks concurrently and collect their lines in a stable order.

Each check does its own network calls, every one with a timeout, so the whole audit takes about as
long as its slowest check. A check that raises anyway becomes a FAIL line naming it: one broken
check never hides the others.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TextIO

from golive.operations.audit.options import AuditOptions, target_for
from golive.operations.audit.result import AuditResult, Check, Status, failed
from golive.operations.audit.target import AuditTarget

# What `golive smoke` runs: can production reach Customer.io with the keys it holds.
SMOKE_SECTIONS = ("customerio-connectivity",)


def audit(options: AuditOptions, *, smoke: bool = False,
          progress: Callable[[int, int], None] | None = None) -> tuple[AuditTarget, list[AuditResult]]:
    """The audit (or, `smoke`, the smoke test) of the stack `options` names: its target, and every
    check's lines in report order. What `golive audit`, `golive smoke` and the rollout's smoke gate run."""
    target = target_for(options, "smoke" if smoke else "audit")
    return target, run_checks(plan(target, smoke=smoke), progress=progress)


def plan(target: AuditTarget, *, smoke: bool = False) -> list[Check]:
    """The checks for the target, in report order. The audit's lines are held to their catalog
    policy's level (levels.py); the smoke test's are the checklist's §6 script, which fails on any
    failure in any stack."""
    from golive.operations.audit import aws, customerio, dns, route53

    if smoke:
        return customerio.connectivity_checks(target)
    checks = [
        *aws.checks(target),
        *customerio.checks(target),
        *dns.checks(target),
        dns.route53_check(target, lambda: route53.route53_records(target)),
    ]
    return [_bounded(target, check) for check in checks]


def _bounded(target: AuditTarget, check: Check) -> Check:
    from golive.operations.audit.levels import bound

    return Check(check.name, check.section, lambda: bound(target, check.run()))


def _guarded(check: Check) -> list[AuditResult]:
    try:
        lines = check.run()
    except Exception as err:  # a bug or an unforeseen error in one check: report it, keep the others
        return [failed(check.name, f"the check itself failed: {type(err).__name__}: {err}", check.section)]
    return lines or [failed(check.name, "the check returned nothing", check.section)]


def run_checks(checks: Sequence[Check], *, progress: Callable[[int, int], None] | None = None) -> list[AuditResult]:
    """All checks at once, one thread each (they wait on the network, not the CPU)."""
    if not checks:
        return []
    done, lock = 0, threading.Lock()
    results: list[list[AuditResult]] = [[] for _ in checks]

    def one(index: int) -> None:
        nonlocal done
        results[index] = _guarded(checks[index])
        with lock:
            done += 1
            if progress is not None:
                progress(done, len(checks))

    with ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="golive-audit") as pool:
        list(pool.map(one, range(len(checks))))
    return [line for lines in results for line in lines]


def terminal_progress(stream: TextIO = sys.stderr) -> Callable[[int, int], None] | None:
    """A one-line counter on a terminal; nothing when output goes to a file or a CI log."""
    if not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        stream.write(f"\r  checks: {done}/{total} done{end}")
        stream.flush()

    return show


def exit_code(results: Sequence[AuditResult]) -> int:
    return 1 if any(r.status is Status.FAIL for r in results) else 0
