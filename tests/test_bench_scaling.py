"""bench/scaling.py: the generated estates are the same size in both languages, Terraform split into
files checkov can parse, and a checkov run that scanned less than the whole estate is refused."""

from __future__ import annotations

import json
import re
import stat
import sys
from pathlib import Path

import pytest

from bench import scaling

ROOT = Path(__file__).resolve().parents[1]


def terraform_resources(folder: Path) -> dict[str, int]:
    return {f.name: len(re.findall(r'^resource "', f.read_text(), re.M)) for f in sorted(folder.glob("*.tf"))}


def test_each_language_gets_the_same_estate_and_no_tf_file_is_larger_than_checkov_parses(tmp_path):
    program, terraform = scaling.generate(600, tmp_path, ROOT / "bench")
    base = terraform_resources(ROOT / "bench" / "terraform")["main.tf"]
    per_file = terraform_resources(terraform)
    assert per_file.pop("main.tf") == base
    assert sorted(per_file) == ["estate-000.tf", "estate-001.tf", "estate-002.tf"]
    assert list(per_file.values()) == [250, 250, 75] and sum(per_file.values()) == 600 - scaling.BASE
    declared = re.findall(r"^aws\.\w+\.\w+\('", (program / "__main__.py").read_text(), re.M)
    assert len(declared) == 600 - scaling.BASE


def fake_checkov(tmp_path: Path, report: object) -> Path:
    script = tmp_path / "checkov"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(report)}\nEOF\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def summary(resources: int, errors: int = 0) -> dict[str, object]:
    return {"check_type": "terraform", "summary": {"passed": 1, "failed": 1, "resource_count": resources,
                                                   "parsing_errors": errors}}


def test_a_checkov_run_that_gave_up_on_a_file_is_not_a_comparison(tmp_path):
    checkov = fake_checkov(tmp_path, summary(0, errors=1))  # what checkov 3.3.30 printed for one 10,000-resource file
    with pytest.raises(scaling.CheckovScannedTooLittle, match=r"scanned 0 of 10000 resources .* \(1 parsing errors\)"):
        scaling.verify_checkov(checkov, tmp_path, 10000, tmp_path)
    scaling.verify_checkov(fake_checkov(tmp_path, summary(10000)), tmp_path, 10000, tmp_path)


def test_coverage_adds_up_every_framework_checkov_reports():
    assert scaling.checkov_coverage(json.dumps([summary(2400), summary(100, errors=2)])) == (2500, 2)
    assert scaling.checkov_coverage(json.dumps(summary(25))) == (25, 0)


def test_the_sampler_sums_the_peaks_of_a_tree_including_a_grandchild_that_has_ended(tmp_path):
    # A child that starts a grandchild which touches 200 MiB, frees it, and ends; then the child waits.
    grandchild = "x = bytearray(200 * 2**20); x[::4096] = b'1' * len(x[::4096]); import time; time.sleep(0.5)"
    child = (f"import subprocess, sys, time; subprocess.run([sys.executable, '-c', {grandchild!r}]); "
             "time.sleep(0.3)")
    _seconds, peak, _pss = scaling.measure([sys.executable, "-c", child], tmp_path)
    assert peak > 200 * 2**20  # the grandchild's peak was read before it ended, and summed with the child's
    assert peak < 400 * 2**20  # each process counted once
