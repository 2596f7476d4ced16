"""customerio-secret-rotation: every credential secret rotates through a function at most every 90 days."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checklist.catalog import CREDENTIAL_TAG
from checklist.model import UNKNOWN, Resource, Stack
from checklist.recognize import SECRET, SECRET_ROTATION
from checklist.rules import run

POLICY = "customerio-secret-rotation"
LAMBDA_URN = "urn:pulumi:production::golive::aws:lambda/function:Function::rotation"
NAME = "customerio/production/track-api-key"
ARN = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{NAME}-AbCdEf"


def secret(name=NAME, logical="cio-track", **props) -> Resource:
    return Resource(SECRET, logical, {"name": name, "tags": {CREDENTIAL_TAG: "track-api-key"}, **props})


def rotation(
    target: Resource | None, rules=None, *, secret_id=UNKNOWN, lambda_arn=UNKNOWN, **props
) -> Resource:
    """A rotation as a first preview shows it: ids and ARNs unknown, linked by property dependencies."""
    deps = {"rotationLambdaArn": (LAMBDA_URN,)}
    if target is not None and secret_id is UNKNOWN:
        deps["secretId"] = (target.urn,)
    return Resource(
        SECRET_ROTATION,
        f"{target.name if target else 'orphan'}-rotation",
        {
            "secretId": secret_id,
            "rotationLambdaArn": lambda_arn,
            "rotationRules": {"automaticallyAfterDays": 90} if rules is None else rules,
            **props,
        },
        property_dependencies=deps,
    )


def findings(*resources, **cfg):
    return run(POLICY, Stack(resources=resources), cfg or None)


def test_first_preview_rotation_linked_by_property_dependency_passes():
    s = secret(arn=UNKNOWN)
    assert findings(s, rotation(s)) == []


def test_secret_without_rotation_is_a_finding_on_the_secret():
    s = secret()
    [finding] = findings(s)
    assert finding.urn == s.urn
    assert NAME in finding.message and "no rotation" in finding.message


def test_rotation_whose_secret_id_cannot_be_linked_leaves_the_secret_unrotated_and_says_why():
    s = secret()
    orphan = rotation(None)  # secretId unknown, no property dependency
    [finding] = findings(s, orphan)
    assert finding.urn == s.urn
    assert "unknown at preview" in finding.message


@pytest.mark.parametrize(
    "secret_id", [NAME, ARN, f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{NAME}"]
)
def test_known_secret_id_links_by_name_or_arn(secret_id):
    s = secret()
    assert findings(s, rotation(None, secret_id=secret_id)) == []


def test_known_secret_id_matches_the_urn_name_when_no_physical_name_is_known():
    s = Resource(SECRET, "cio-track", {"name": UNKNOWN, "tags": {CREDENTIAL_TAG: "track-api-key"}})
    assert findings(s, rotation(None, secret_id="cio-track")) == []
    named = secret()  # its physical name is known: the URN name is not how AWS knows it
    assert len(findings(named, rotation(None, secret_id="cio-track"))) == 1


def test_known_secret_id_of_another_secret_does_not_count():
    s = secret()
    [finding] = findings(s, rotation(None, secret_id="customerio/production/other"))
    assert finding.urn == s.urn


def test_known_arn_output_links_too():
    s = secret(arn=ARN)
    assert findings(s, rotation(None, secret_id=ARN)) == []


def test_secret_not_about_customerio_needs_no_rotation():
    other = Resource(SECRET, "db", {"name": "db/password"})
    s = secret()
    assert findings(s, rotation(s), other) == []


def test_non_customerio_stack_is_left_alone():
    assert findings(Resource(SECRET, "db", {"name": "db/password"})) == []


def test_missing_rotation_function_is_a_finding_on_the_rotation():
    s = secret()
    r = rotation(s, lambda_arn=None)
    [finding] = findings(s, r)
    assert finding.urn == r.urn and "rotation function" in finding.message


def test_unknown_rotation_function_without_dependency_is_a_finding():
    s = secret()
    r = Resource(
        SECRET_ROTATION,
        "r",
        {"secretId": UNKNOWN, "rotationLambdaArn": UNKNOWN, "rotationRules": {"automaticallyAfterDays": 30}},
        property_dependencies={"secretId": (s.urn,)},
    )
    [finding] = findings(s, r)
    assert "rotationLambdaArn" in finding.message


def test_unknown_rotation_function_is_not_excused_by_the_secret_dependency():
    s = secret()
    r = Resource(
        SECRET_ROTATION,
        "r",
        {"secretId": UNKNOWN, "rotationLambdaArn": UNKNOWN, "rotationRules": {"automaticallyAfterDays": 30}},
        dependencies=(s.urn,),
        property_dependencies={"secretId": (s.urn,)},
    )
    [finding] = findings(s, r)
    assert "rotationLambdaArn" in finding.message
    # A dependency nothing else explains (a harness that records no property dependencies) does.
    r2 = Resource(
        r.type,
        r.name,
        r.props,
        dependencies=(s.urn, LAMBDA_URN),
        property_dependencies=r.property_dependencies,
    )
    assert findings(s, r2) == []


def test_known_rotation_function_passes():
    s = secret()
    assert findings(s, rotation(s, lambda_arn="arn:aws:lambda:us-east-1:123456789012:function:rotate")) == []


@pytest.mark.parametrize(
    ("rules", "passes"),
    [
        ({"automaticallyAfterDays": 90}, True),
        ({"automaticallyAfterDays": 1}, True),
        ({"automaticallyAfterDays": 91}, False),
        ({"automaticallyAfterDays": 0}, False),
        ({"scheduleExpression": "rate(90 days)"}, True),
        ({"scheduleExpression": "rate(91 days)"}, False),
        ({"scheduleExpression": "rate(4 hours)"}, True),
        ({"scheduleExpression": "cron(0 12 1 * ? *)"}, True),  # monthly
        ({"scheduleExpression": "cron(0 0 ? * MON *)"}, True),  # weekly
        ({"scheduleExpression": "cron(0 0 1 1 ? *)"}, False),  # yearly
        ({"scheduleExpression": "cron(0 12 1 */3 ? *)"}, False),  # 92 days
        ({"scheduleExpression": "cron(0 0 1 * ? 2025-2026)"}, False),  # stops
        ({"scheduleExpression": "cron(0 0 1 * ?)"}, False),  # syntax
        ({"scheduleExpression": "cron(0 0 30 2 ? *)"}, False),  # never fires
        # AWS computes automaticallyAfterDays from the expression: unknown beside it is fine.
        ({"scheduleExpression": "rate(30 days)", "automaticallyAfterDays": UNKNOWN}, True),
        ({"scheduleExpression": "rate(30 days)", "duration": "3h"}, True),
        ([{"automaticallyAfterDays": 30}], True),  # Terraform-shaped single block
        ({"automaticallyAfterDays": UNKNOWN}, False),
        ({"scheduleExpression": UNKNOWN}, False),
        (UNKNOWN, False),
        ({}, False),
    ],
)
def test_schedule(rules, passes):
    s = secret()
    r = rotation(s, rules)
    result = findings(s, r)
    assert (result == []) == passes, result
    assert all(f.urn == r.urn for f in result)


def test_messages_explain_the_gap_and_the_unknowns():
    s = secret()
    [quarterly] = findings(s, rotation(s, {"scheduleExpression": "cron(0 12 1 */3 ? *)"}))
    assert "92 days" in quarterly.message and "90" in quarterly.message
    [unknown] = findings(s, rotation(s, {"scheduleExpression": UNKNOWN}))
    assert "must be known at preview" in unknown.message
    [syntax] = findings(s, rotation(s, {"scheduleExpression": "cron(0 0 1 13 ? *)"}))
    assert "month" in syntax.message and "not valid" in syntax.message
    [stops] = findings(s, rotation(s, {"scheduleExpression": "cron(0 0 1 * ? 2025-2026)"}))
    assert "not a recurring schedule" in stops.message


def test_max_days_comes_from_config():
    s = secret()
    r = rotation(s, {"automaticallyAfterDays": 60})
    assert findings(s, r) == []
    [finding] = findings(s, r, maxDays=30)
    assert "30" in finding.message


    # UNKNOWN: the program left it unset, so the preview output is unknown
@pytest.mark.parametrize(
    ("enabled", "passes"), [(True, True), (None, True), (False, False), (UNKNOWN, True)]
)
def test_rotation_enabled(enabled, passes):
    s = secret()
    props = {} if enabled is None else {"rotationEnabled": enabled}
    assert (findings(s, rotation(s, **props)) == []) == passes


def test_legacy_rotation_settings_on_the_secret_count():
    good = secret(
        rotationLambdaArn="arn:aws:lambda:us-east-1:1:function:f",
        rotationRules={"automaticallyAfterDays": 30},
    )
    assert findings(good) == []
    slow = secret(
        rotationLambdaArn="arn:aws:lambda:us-east-1:1:function:f",
        rotationRules={"automaticallyAfterDays": 120},
    )
    [finding] = findings(slow)
    assert finding.urn == slow.urn and "120" in finding.message


def test_empty_legacy_outputs_are_not_a_rotation():
    s = secret(rotationLambdaArn="", rotationRules=None, rotationEnabled=False)
    [finding] = findings(s)
    assert "no rotation" in finding.message


def test_every_credential_secret_is_checked():
    a, b = secret(), secret(name="customerio/production/site-id", logical="cio-site")
    [finding] = findings(a, b, rotation(a))
    assert finding.urn == b.urn


@given(st.integers(min_value=1, max_value=400))
def test_rate_in_days_passes_iff_at_most_90(n):
    s = secret()
    result = findings(s, rotation(s, {"scheduleExpression": f"rate({n} days)"}))
    assert (result == []) == (n <= 90)


@given(st.integers(min_value=1, max_value=400))
def test_automatically_after_days_passes_iff_at_most_max(n):
    s = secret()
    assert (findings(s, rotation(s, {"automaticallyAfterDays": n})) == []) == (n <= 90)
