"""golive installs like a Python tool: a plain wheel in a fresh virtualenv, outside the checkout, is enough
to run it, its default pack and the example program (the dependencies come from the package index)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The example program: what a user's checkout of it holds (its .venv is theirs to make).
PROGRAM_FILES = ("Pulumi.yaml", "Pulumi.production.yaml", "Pulumi.staging.yaml", "__main__.py", "components")
SKIP = shutil.ignore_patterns(".venv", "venv", "__pycache__", ".git", "build", "*.egg-info", ".bench")


def _run(*argv: str | Path, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _modules(folder: Path, package: str) -> set[str]:
    return {f"{package}/{p.relative_to(folder).as_posix()}" for p in folder.rglob("*.py")
            if "venv" not in p.parts and "__pycache__" not in p.parts}


def test_a_plain_install_in_a_fresh_virtualenv_runs_golive(tmp_path):
    source = tmp_path / "source"  # a clean copy: the build writes build/ and *.egg-info beside pyproject.toml
    shutil.copytree(ROOT, source, ignore=SKIP)
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                 tmp_path / "dist", source, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("golive-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    # every module of the tool and of the checklist core, and the pack's own files
    assert _modules(ROOT / "golive", "golive") <= shipped
    assert _modules(ROOT / "policies" / "checklist", "checklist") <= shipped
    assert {"golive/policypack/PulumiPolicy.yaml", "golive/policypack/__main__.py",
            "golive/policypack/requirements.txt"} <= shipped

    env = tmp_path / "env"
    assert _run(sys.executable, "-m", "venv", env, cwd=tmp_path).returncode == 0
    installed = _run(env / "bin" / "python", "-m", "pip", "install", "-q", wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    golive = env / "bin" / "golive"
    elsewhere = tmp_path / "elsewhere"  # not the checkout, not the program: nothing to import by accident
    elsewhere.mkdir()

    version = _run(golive, "--version", cwd=elsewhere)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith(f"golive {pyproject}, policy pack golive-customerio "), version.stdout

    helped = _run(golive, "--help", cwd=elsewhere)
    assert helped.returncode == 0, helped.stderr
    assert "rollout" in helped.stdout and "check" in helped.stdout

    listed = _run(golive, "policies", cwd=elsewhere)
    assert listed.returncode == 0, listed.stderr
    assert "customerio-" in listed.stdout

    program = tmp_path / "program"
    program.mkdir()
    for name in PROGRAM_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, program / name, ignore=SKIP)
        else:
            shutil.copy(ROOT / name, program / name)
    checked = _run(golive, "check", program, "--stack", "production", cwd=elsewhere, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "the preview would pass" in checked.stdout
    # the bundled pack ran on the install's own interpreter: no checkout, no pack virtualenv
    assert f"golive's interpreter {env}" in checked.stdout
