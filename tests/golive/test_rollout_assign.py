"""should_use_cio against the checklist's own TypeScript logic, run by Node.js; the stage semantics.

The vectors are not stored: each run writes the seed's `shouldUseCio` as plain JavaScript
(`crypto.createHash('md5')`, as the TypeScript compiles to) and asks `node` for its answers over
thousands of ids, unicode, emoji, lone surrogates and the empty string included. Without Node the
test fails: a skipped comparison would claim an agreement nobody checked.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checklist import catalog
from golive.rollout import Plan, bucket, enabled_for, is_internal, should_use_cio

SEED_JS = r"""
const { createHash } = require("crypto");
const fs = require("fs");

// The checklist's TypeScript (§7 Staged Rollout Plan), types removed.
function shouldUseCio(userId, rolloutPercent) {
  // Deterministic - same user always gets same result
  const hash = createHash("md5").update(userId).digest("hex");
  const bucket = parseInt(hash.substring(0, 8), 16) % 100;
  return bucket < rolloutPercent;
}

const ids = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const percents = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
const out = ids.map((id) => {
  const hash = createHash("md5").update(id).digest("hex");
  return [parseInt(hash.substring(0, 8), 16) % 100, percents.map((p) => shouldUseCio(id, p))];
});
process.stdout.write(JSON.stringify(out));
"""
PERCENTS = [0, 1, 5, 10, 12.5, 33, 50, 99, 100, -1, 101]


def node_answers(ids: list[str], tmp: Path) -> list:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js (`node`) is needed to compare should_use_cio with the checklist's TypeScript; "
                    "install it (apt-get install nodejs)")
    script, ids_file, percents_file = tmp / "seed.js", tmp / "ids.json", tmp / "percents.json"
    script.write_text(SEED_JS, encoding="utf-8")
    # ensure_ascii: lone surrogates travel as \ud800 escapes, which JSON.parse turns back into them.
    ids_file.write_text(json.dumps(ids, ensure_ascii=True), encoding="ascii")
    percents_file.write_text(json.dumps(PERCENTS), encoding="ascii")
    done = subprocess.run([node, str(script), str(ids_file), str(percents_file)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def edge_ids() -> list[str]:
    return [
        "", "a", "0", "00000000", "user-1", "USER-1", " user-1 ", "\t\n", "\x00", "a\x00b",
        "ü", "Müller", "日本語のユーザー", "русский", "עברית", "😀", "👨‍👩‍👧‍👦", "🏳️‍🌈", "e\u0301", "\ufeffbom",
        "\U0010ffff", "\ufffd", "\ud800", "x\udfffy", "\ud83d\ude00", "\ude00\ud83d", "a" * 10_000, "🙂" * 1000,
        "alice@example.com", "Alice@Example.COM", "123456789", "-1", "1e3", "null", "undefined", "[object Object]",
    ]


def generated_ids(count: int) -> list[str]:
    rng = random.Random(20261128)
    ids: list[str] = []
    alphabet = [chr(c) for c in (*range(0x20, 0x7f), *range(0xa0, 0x250), *range(0x4e00, 0x4e80),
                                 *range(0x1f600, 0x1f650), 0x200d, 0xfe0f)]
    for i in range(count):
        kind = i % 5
        if kind == 0:
            ids.append(str(uuid.UUID(int=rng.getrandbits(128))))
        elif kind == 1:
            ids.append(f"user-{rng.randrange(10**9)}")
        elif kind == 2:
            ids.append(f"{rng.getrandbits(40):x}@example{rng.randrange(50)}.com")
        elif kind == 3:
            ids.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40))))
        else:
            ids.append(str(rng.randrange(-10**12, 10**12)))
    return ids


def test_every_answer_matches_the_seed_typescript_run_by_node(tmp_path):
    ids = edge_ids() + generated_ids(4000)
    answers = node_answers(ids, tmp_path)
    assert len(answers) == len(ids)
    mismatches = []
    for user_id, (js_bucket, js_answers) in zip(ids, answers, strict=True):
        ours = [should_use_cio(user_id, p) for p in PERCENTS]
        if bucket(user_id) != js_bucket or ours != js_answers:
            mismatches.append((user_id[:40], js_bucket, bucket(user_id)))
    assert not mismatches, mismatches[:10]
    # The ids spread over the buckets as a hash should: every bucket is hit.
    assert {b for b, _ in answers} == set(range(100))


# Text with lone surrogates as well, which hypothesis' text() leaves out.
ANY_TEXT = st.text(st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr)), max_size=30)


@settings(max_examples=8, deadline=None)
@given(st.lists(ANY_TEXT, min_size=1, max_size=60))
def test_arbitrary_ids_match_node(tmp_path_factory, ids):
    answers = node_answers(ids, tmp_path_factory.mktemp("node"))
    for user_id, (js_bucket, js_answers) in zip(ids, answers, strict=True):
        assert bucket(user_id) == js_bucket, user_id
        assert [should_use_cio(user_id, p) for p in PERCENTS] == js_answers, user_id


@given(ANY_TEXT, st.integers(0, 100), st.integers(0, 100))
def test_a_user_in_at_a_lower_percent_stays_in_at_a_higher_one(user_id, low, high):
    low, high = min(low, high), max(low, high)
    if should_use_cio(user_id, low):
        assert should_use_cio(user_id, high)


@given(ANY_TEXT)
def test_zero_enables_nobody_and_a_hundred_everybody(user_id):
    assert not should_use_cio(user_id, 0)
    assert should_use_cio(user_id, 100)
    assert should_use_cio(user_id, bucket(user_id) + 1) and not should_use_cio(user_id, bucket(user_id))


def test_the_share_enabled_is_close_to_the_percent():
    ids = generated_ids(20_000)
    for percent in (10, 50):
        share = sum(should_use_cio(i, percent) for i in ids) / len(ids)
        assert abs(share - percent / 100) < 0.02


PLAN = Plan(internal_user_ids=frozenset({"u-staff-1"}), internal_domains=frozenset({"example.com"}))


def test_stage_zero_enables_nobody_not_even_the_internal_team():
    assert not enabled_for("u-staff-1", "0", PLAN)
    assert not enabled_for("anyone", "0", PLAN, email="a@example.com")


def test_internal_is_only_the_allowlist():
    assert enabled_for("u-staff-1", "internal", PLAN)
    assert enabled_for("u-42", "internal", PLAN, email="Dev@EXAMPLE.com")
    assert not enabled_for("u-42", "internal", PLAN, email="dev@example.com.evil.org")
    assert not enabled_for("u-42", "internal", PLAN, email="dev@sub.example.com")
    outsiders = [i for i in generated_ids(500) if should_use_cio(i, 100)]
    assert not any(enabled_for(i, "internal", PLAN) for i in outsiders)
    assert not enabled_for("u-staff-1", "internal")  # the default plan has nobody on its allowlist


def test_percent_stages_are_the_seed_function_plus_the_internal_team():
    ids = generated_ids(2000)
    for stage in ("10", "50", "100"):
        assert [enabled_for(i, stage, PLAN) for i in ids] == [should_use_cio(i, int(stage)) for i in ids]
    out_at_10 = next(i for i in ids if not should_use_cio(i, 10))
    assert enabled_for(out_at_10, "10", Plan(internal_user_ids=frozenset({out_at_10})))
    assert is_internal(out_at_10, Plan(internal_user_ids=frozenset({out_at_10})))


@pytest.mark.parametrize("value", ["25", "", "off", "100%", " 10", "Internal"])
def test_a_value_outside_the_plan_enables_nobody(value):
    assert not any(enabled_for(i, value, PLAN) for i in ["u-staff-1", *generated_ids(50)])


def test_stages_are_the_catalogs():
    assert Plan().stages == catalog.ROLLOUT_STAGES
