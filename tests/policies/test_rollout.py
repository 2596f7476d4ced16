"""§7 rollout flag: a plan stage, known at preview, created at 0, and never reset by a deploy."""

import pytest

from checklist.catalog import ROLLOUT_FLAG_TAG, ROLLOUT_STAGES
from checklist.model import UNKNOWN, Resource, Stack
from checklist.recognize import SSM_PARAMETER
from checklist.rules import run

POLICY = "rollout-flag-stage"


def flag(ignore=("value",), **props) -> Resource:
    base = {"name": "/customerio/production/rollout", "type": "String", "tags": {ROLLOUT_FLAG_TAG: "true"}}
    return Resource(SSM_PARAMETER, "flag", {**base, **props}, ignore_changes=tuple(ignore))


def findings(*resources):
    return run(POLICY, Stack(resources=resources))


@pytest.mark.parametrize("stage", ROLLOUT_STAGES)
def test_every_plan_stage_passes_on_an_existing_flag(stage):
    # A known version: the flag exists and `golive rollout` has moved it (the engine shows the deployed
    # value of an ignored property), as a later preview or an exported state shows it.
    assert findings(flag(value=stage, version=4)) == []


@pytest.mark.parametrize("version", [None, UNKNOWN])
def test_a_new_flag_starts_at_the_first_stage(version):
    assert findings(flag(value=ROLLOUT_STAGES[0], version=version)) == []


@pytest.mark.parametrize("stage", ROLLOUT_STAGES[1:])
@pytest.mark.parametrize("version", [None, UNKNOWN])  # a create: AWS has not assigned a version yet
def test_a_new_flag_past_the_first_stage_is_a_blocking_finding(stage, version):
    subject = flag(value=stage, version=version)
    [finding] = findings(subject)
    assert finding.urn == subject.urn and not finding.advisory
    assert f"created at stage {stage!r}" in finding.message and "'0'" in finding.message


def test_the_initial_stage_is_judged_whatever_ignore_changes_says():
    # ignore_changes keeps later deploys off the flag; the value it is created with still reaches users.
    [finding] = findings(flag(ignore=("value",), value="100"))
    assert "created at stage '100'" in finding.message


def test_an_existing_flag_with_insecure_value_past_the_first_stage_passes():
    assert findings(flag(ignore=("insecureValue",), insecureValue="100", version=2)) == []


@pytest.mark.parametrize("value", ["25", "10%", " 10", "Internal", "", None, 10])
def test_values_outside_the_plan_are_findings(value):
    subject = flag(value=value)
    [finding] = findings(subject)
    assert finding.urn == subject.urn and not finding.advisory
    assert "0, internal, 10, 50, 100" in finding.message


def test_no_value_at_all_is_a_finding():
    [finding] = findings(flag())
    assert "no value" in finding.message


def test_unknown_stage_is_a_blocking_finding():
    [finding] = findings(flag(value=UNKNOWN))
    assert not finding.advisory and "known at preview" in finding.message


def test_insecure_value_is_read_when_value_is_an_unknown_output():
    assert findings(flag(ignore=("insecureValue",), value=UNKNOWN, insecureValue="50", version=7)) == []


def test_value_is_read_when_insecure_value_is_an_unknown_output():
    assert findings(flag(value="internal", insecureValue=UNKNOWN, version=7)) == []


def test_both_unknown_is_a_finding():
    [finding] = findings(flag(value=UNKNOWN, insecureValue=UNKNOWN))
    assert "known at preview" in finding.message


@pytest.mark.parametrize(
    ("ignore", "props", "advised"),
    [
        ((), {"value": "0"}, True),
        (("value",), {"value": "0"}, False),
        (("*",), {"value": "0"}, False),
        (("insecureValue",), {"value": "0"}, True),  # ignores the wrong property
        (("insecureValue",), {"insecureValue": "0"}, False),
        (("insecure_value",), {"insecureValue": "0"}, False),  # the program's snake_case spelling
        (("value",), {"insecureValue": "0"}, True),
        (("description",), {"value": "0"}, True),
    ],
)
def test_ignore_changes_advice(ignore, props, advised):
    result = findings(flag(ignore=ignore, **props))
    assert len(result) == (1 if advised else 0)
    if advised:
        [finding] = result
        assert finding.advisory and "reset a live rollout" in finding.message


def test_bad_stage_and_missing_ignore_changes_are_both_reported():
    result = findings(flag(ignore=(), value="25"))
    assert sorted(f.advisory for f in result) == [False, True]


def test_untagged_parameters_are_not_flags():
    plain = Resource(SSM_PARAMETER, "other", {"name": "/app/x", "type": "String", "value": "whatever"})
    assert findings(flag(value="0"), plain) == []
