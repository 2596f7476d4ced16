"""The pack folder stays publishable: packed as `pulumi policy publish` packs it, installed as the engine
installs a published pack, and run.

What the CLI does (pulumi/pulumi, pkg/backend/httpstate/policypack.go and
sdk/go/common/util/archive/archive.go): for a Python pack, `archive.TGZ(dir, "package", true)` - every
regular file under the pack folder (symlinks followed) below a `package/` prefix, except `.git` and what a
.gitignore ignores: the folder's own and those of every folder above it, up to the file system's root,
matched by github.com/sabhiram/go-gitignore (its pattern translation is reproduced in `_pattern`). The
engine's install extracts the archive, keeps the `virtualenv` PulumiPolicy.yaml names (`venv` when it names
none), and creates that virtualenv from the pack's requirements.txt.

Here the copy made that way is run by `golive check --policy-pack` on a program that breaks a rule, and
must find what the pack folder itself finds.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from golive import cli

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies"
PLAIN = ROOT / "tests" / "fixtures" / "programs" / "cio_plain"


def _pattern(line: str) -> re.Pattern[str] | None:
    """go-gitignore's getPatternFromLine (v0.0.0-20210923224102-525f6e181f06, the one pulumi pins), for
    the patterns without `!` that a pack's ignore files hold."""
    line = line.rstrip("\r").strip(" ")
    if not line or line.startswith("#") or line.startswith("!"):
        return None
    if re.search(r"([^/+])/.*\*\.", line) and line[0] != "/":
        line = "/" + line
    line = line.replace(".", r"\.")
    magic = "#$~"
    if line.startswith("/**/"):
        line = line[1:]
    line = line.replace("/**/", "(/|/.+/)")
    line = line.replace("**/", f"(|.{magic}/)")
    line = line.replace("/**", f"(|/.{magic})")
    line = line.replace(r"\*", "\\" + magic)
    line = line.replace("*", "([^/]*)")
    line = line.replace("?", r"\?").replace(magic, "*")
    expr = line + ("(|.*)$" if line.endswith("/") else "(|/.*)$")
    expr = "^(|/)" + expr[1:] if expr.startswith("/") else "^(|.*/)" + expr
    return re.compile(expr)


def _ignorers(folder: Path) -> list[tuple[str, list[re.Pattern[str]]]]:
    """(root, patterns) of each .gitignore the packer reads: the folder's and every ancestor's."""
    found = []
    for place in (folder, *folder.parents):
        ignore = place / ".gitignore"
        if ignore.is_file():
            patterns = [p for p in map(_pattern, ignore.read_text().splitlines()) if p is not None]
            found.append((str(place), patterns))
    return found


def _ignored(path: str, ignorers: list[tuple[str, list[re.Pattern[str]]]]) -> bool:
    return any(p.search(path.removeprefix(root)) for root, patterns in ignorers for p in patterns)


def pack_as_published(folder: Path) -> bytes:
    """archive.TGZ(folder, "package", useDefaultExcludes=true). One shortcut: a folder whose every file
    would be ignored (its path matches a pattern ending in `(|/.*)`) is not walked."""
    ignorers = _ignorers(folder.resolve())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for here, folders, files in os.walk(folder.resolve(), followlinks=True):
            folders[:] = sorted(d for d in folders if not (here == str(folder.resolve()) and d == ".git")
                                and not _ignored(os.path.join(here, d, ""), ignorers))
            for name in sorted(files):
                full = os.path.join(here, name)
                if _ignored(full, ignorers) or not os.path.isfile(full):
                    continue
                tar.add(full, arcname="package/" + os.path.relpath(full, folder.resolve()), recursive=False)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The pack as the service stores it, installed as the engine installs a published pack."""
    archive = pack_as_published(PACK)
    where = tmp_path_factory.mktemp("published")
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = tar.getnames()
        tar.extractall(where, filter="data")
    package = where / "package"
    project = yaml.safe_load((package / "PulumiPolicy.yaml").read_text())
    venv = package / project["runtime"].get("options", {}).get("virtualenv", "venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-r", str(package / "requirements.txt")], check=True, timeout=900)
    return package, names


def test_the_archive_holds_the_pack_and_nothing_of_a_checkout(installed):
    _, names = installed
    assert {"package/PulumiPolicy.yaml", "package/requirements.txt", "package/__main__.py",
            "package/checklist/__init__.py", "package/checklist/rules/__init__.py"} <= set(names)
    leaked = [n for n in names if n.startswith("package/venv/") or "__pycache__" in n or n.endswith(".pyc")]
    assert leaked == []  # the checkout's policies/venv and byte code stay home (the repository's .gitignore)
    assert all(n.startswith("package/") for n in names)


def _events(pack: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[tuple[str, str, str]], str]:
    code = cli.main(["check", str(PLAIN), "--stack", "production", "--config", "cio-plain:break=flag-25",
                     "--policy-pack", str(pack), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    return code, sorted((e["policyName"], e["enforcementLevel"], e["resourceUrn"]) for e in report["policyEvents"]), \
        report.get("packPython", "")


def test_the_published_copy_runs_and_finds_what_the_pack_folder_finds(installed, capsys):
    package, _ = installed
    code, published, _ = _events(package, capsys)
    expected_code, expected, _ = _events(PACK, capsys)
    assert ("rollout-flag-stage", "mandatory") in {(p, level) for p, level, _ in published}
    assert (code, published) == (expected_code, expected) == (1, expected)
