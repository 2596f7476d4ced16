"""Generated malformed JSON and YAML, thrown at every file each command reads: always exit status 2 with
exactly one line on standard error, never a traceback (an exception out of `cli.main`) and never a hang.

The commands run in-process (`cli.main`): a malformed file is refused before any program, pack or network
call starts, so each example takes milliseconds."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golive import cli

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / "tests" / "fixtures" / "state" / "shop-production.json"
ROTATION = "customerio-secret-rotation"

# --- what goes wrong in a file -------------------------------------------------------------------------

_nesting = st.integers(min_value=101, max_value=6000)
_huge_int = st.integers(min_value=4301, max_value=6000).map(lambda n: "7" * n)
_surrogate = st.integers(min_value=0xD800, max_value=0xDFFF).map(lambda c: f'"a\\u{c:04x}b"')


def _deep(open_: str, close: str) -> st.SearchStrategy[str]:
    return st.tuples(_nesting, st.booleans()).map(lambda t: open_ * t[0] + (close * t[0] if t[1] else ""))


# A bad value that makes any JSON document holding it malformed, wherever it sits.
JSON_VALUES = st.one_of(
    _deep("[", "]"),
    _deep('{"k": ', "}").map(lambda s: s if s.endswith("}") else s + "1"),
    _huge_int,
    _huge_int.map(lambda digits: "-" + digits),
    _surrogate,
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999", "nan", "undefined", "'single'",
                     "[1,]", '{"a" 1}', '"unterminated', "01", "{,}", "tru"]),
)

YAML_VALUES = st.one_of(
    _deep("[", "]"),
    _deep("{k: ", "}").map(lambda s: s if s.endswith("}") else s + "1"),
    _huge_int,
    _surrogate,
    st.sampled_from(["&a [*a]", "&a {k: *a}", "&a [1, [2, {k: *a}]]", "*undefined", "[unclosed", "{a: 1",
                     '"unterminated', "!!int notanumber", "!!python/object:os.system x", "{? [a, b]: 1}",
                     '"\\x"', "\tx", "a: b: c"]),
)


def _laughs(levels: int, indent: str) -> str:
    lines = [f"{indent}l0: &l0 [{', '.join(['lol'] * 10)}]"]
    lines += [f"{indent}l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def _json_doc(valid: dict[str, object]) -> st.SearchStrategy[bytes]:
    """A document that would be valid but for one bad value, or that is not UTF-8, or not JSON at all."""
    text = json.dumps(valid)
    injected = st.tuples(st.text(alphabet="abcxyz", min_size=1, max_size=5), JSON_VALUES).map(
        lambda kv: (text[:-1] + (", " if valid else "") + json.dumps("zz" + kv[0]) + ": " + kv[1] + "}").encode())
    truncated = st.integers(min_value=1, max_value=max(1, len(text) - 1)).map(lambda n: text[:n].encode())
    not_utf8 = st.tuples(st.integers(min_value=0, max_value=len(text)), st.sampled_from(
        [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"])).map(
        lambda t: text[:t[0]].encode() + t[1] + text[t[0]:].encode())
    return st.one_of(injected, truncated, not_utf8)


def _yaml_doc(valid: str) -> st.SearchStrategy[bytes]:
    """A document that would be valid but for one bad value or an alias bomb, or that is not UTF-8."""
    keys = st.text(alphabet="abcxyz", min_size=1, max_size=5)
    injected = st.tuples(keys, YAML_VALUES).map(lambda kv: f"{valid}zz{kv[0]}: {kv[1]}\n".encode())
    laughs = st.tuples(keys, st.integers(min_value=4, max_value=8)).map(
        lambda kl: f"{valid}zz{kl[0]}:\n{_laughs(kl[1], '  ')}".encode())
    not_utf8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"]).map(
        lambda bad: valid.encode() + b"zz: " + bad + b"\n")
    return st.one_of(injected, laughs, not_utf8)


# --- every file each command reads --------------------------------------------------------------------

PULUMI_YAML = "name: demo\nruntime: python\n"
STACK_YAML = "config:\n  aws:region: us-east-1\n"
PACK_CONFIG = {ROTATION: {"maxDays": 30}}
BASELINE = {"format": "golive-baseline", "version": 1, "project": "shop", "stack": "production", "findings": []}


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> Callable[[str, bytes], tuple[Path, Path]]:
    """A project folder (trivial program) and a file, reset for each example: (project, file)."""
    base = tmp_path_factory.mktemp("malformed")

    def reset(name: str, content: bytes) -> tuple[Path, Path]:
        folder = base / "demo"
        folder.mkdir(exist_ok=True)
        (folder / "__main__.py").write_text("import pulumi\n")
        (folder / "Pulumi.yaml").write_text(PULUMI_YAML)
        (folder / "Pulumi.production.yaml").write_text(STACK_YAML)
        target = folder / name if name.startswith("Pulumi.") else base / name
        target.write_bytes(content)
        return folder, target

    return reset


def _refused(argv: list[str]) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli.main(argv)
        except SystemExit as exited:  # argparse: not expected for a file's content
            code = exited.code
    lines = err.getvalue().splitlines()
    assert code == 2, (argv, err.getvalue())
    assert len(lines) == 1 and lines[0].startswith("golive: error: "), (argv, err.getvalue())
    assert "Traceback" not in err.getvalue()


# (file name, its malformed content, the commands that read it: argv with {dir} and {file})
CASES = {
    "pulumi-yaml": ("Pulumi.yaml", _yaml_doc(PULUMI_YAML), [
        ["check", "{dir}", "--stack", "production"],
        ["rollout", "status", "--stack", "production", "--program-dir", "{dir}"],
        ["credentials", "put", "track-api-key", "--stack", "production", "--program-dir", "{dir}"],
        ["audit", "--stack", "production", "--program-dir", "{dir}"],
        ["check", "--state", str(STATE), "{dir}"],
    ]),
    "stack-config": ("Pulumi.production.yaml", _yaml_doc(STACK_YAML), [
        ["check", "{dir}", "--stack", "production"],
        ["rollout", "status", "--stack", "production", "--program-dir", "{dir}"],
        ["audit", "--stack", "production", "--program-dir", "{dir}"],
    ]),
    "pack-config": ("policy-config.json", _json_doc(PACK_CONFIG), [
        ["check", "{dir}", "--stack", "production", "--policy-pack-config", "{file}"],
        ["waivers", "list", "--policy-pack-config", "{file}"],
        ["waivers", "add", ROTATION, "--reason", "r", "--owner", "o", "--expires", "2099-01-01",
         "--policy-pack-config", "{file}"],
        ["explain", ROTATION, "--policy-pack-config", "{file}"],
        ["fingerprints", "--stack", "staging", "--merge", "{file}", "--aws-endpoint", "http://127.0.0.1:9"],
    ]),
    "baseline": ("baseline.json", _json_doc(BASELINE), [
        ["check", "--state", str(STATE), "--baseline", "{file}"],
    ]),
    "state": ("state.json", _json_doc(json.loads(STATE.read_text())), [
        ["check", "--state", "{file}"],
    ]),
    "invoke-results-yaml": ("invokes.yaml", _yaml_doc("aws:x/getY:getY: {}\n"), [
        ["check", "{dir}", "--stack", "production", "--invoke-results", "{file}"],
    ]),
    "invoke-results-json": ("invokes.json", _json_doc({"aws:x/getY:getY": {}}), [
        ["check", "{dir}", "--stack", "production", "--invoke-results", "{file}"],
    ]),
    "stack-outputs": ("outputs.json", _json_doc({"rolloutParameter": "/x"}), [
        ["audit", "--stack", "production", "--program-dir", "{dir}", "--outputs", "{file}"],
    ]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_malformed_file_is_one_line_and_exit_2(case, place):
    name, documents, commands = CASES[case]

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(content=documents, which=st.sampled_from(commands))
    def check(content: bytes, which: list[str]) -> None:
        folder, file = place(name, content)
        _refused([arg.format(dir=folder, file=file) for arg in which])

    check()
