"""What one audit check found: `[PASS|FAIL|WARN|SKIP] name: detail`, as the checklist's audit prints it."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class Status(enum.Enum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"  # not run, at the command line's request; the detail says why


@dataclass(frozen=True)
class AuditResult:
    """One line of the audit. `detail` says what was seen and, on FAIL or WARN, what to fix;
    it never holds a credential (a site ID shows at most its first 4 characters)."""

    name: str
    status: Status
    detail: str
    section: str = ""  # the checklist section, e.g. "§1 credentials"
    policy: str = ""  # the catalog policy whose level bounds the status (audit/levels.py); "" for none

    def line(self) -> str:
        return f"[{self.status.value}] {self.name}: {self.detail}"


def passed(name: str, detail: str, section: str = "") -> AuditResult:
    return AuditResult(name, Status.PASS, detail, section)


def warned(name: str, detail: str, section: str = "") -> AuditResult:
    return AuditResult(name, Status.WARN, detail, section)


def failed(name: str, detail: str, section: str = "") -> AuditResult:
    return AuditResult(name, Status.FAIL, detail, section)


def skipped(name: str, detail: str, section: str = "") -> AuditResult:
    return AuditResult(name, Status.SKIP, detail, section)


@dataclass(frozen=True)
class Check:
    """A unit the audit runs concurrently with the others: it does its own I/O (every call with a
    timeout) and returns its lines. It should not raise; if it does, the runner turns the error
    into a FAIL line naming the check, with the exception's type and text (which therefore must
    never carry a credential)."""

    name: str
    section: str
    run: Callable[[], list[AuditResult]]


def mask_site_id(site_id: str) -> str:
    """The most of a site ID any output may show: its first 4 characters."""
    return (site_id[:4] + "…") if site_id else "(empty)"
