"""The plan as data: the catalog's defaults, `golive:rollout` overrides, and errors that name the key."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from checklist import catalog
from checklist.plan import Plan, PlanError, from_stack_config, parse


def test_defaults_are_the_seed_plan_from_the_catalog():
    plan = parse(None)
    assert plan == Plan()
    assert plan.stages == ("0", "internal", "10", "50", "100")
    # T-1h internal, T-0 10%, T+1h 50%, T+2h 100%: an hour at each stage before the next.
    assert [plan.dwell(s) for s in plan.stages] == [timedelta(0), *[timedelta(hours=1)] * 3, timedelta(0)]
    assert plan.triggers_at("10") == ("api_error_rate",)
    assert plan.triggers_at("50") == plan.triggers_at("100") == ("api_error_rate", "bounce_rate")
    assert plan.triggers_at("internal") == plan.triggers_at("0") == ()
    assert plan.trigger_signals == ("api_error_rate", "bounce_rate")
    # The triggers' thresholds are the alarms': error rate > 1 %, bounce rate > 5 %.
    assert catalog.SIGNALS["api_error_rate"].threshold == 0.01 and catalog.SIGNALS["bounce_rate"].threshold == 0.05
    assert plan.gates == ("staging", "smoke") and plan.staging_environment == "staging"
    assert plan.rollback_steps[0].startswith("Set feature flag to 0%")
    assert plan.next_stage("50") == "100" and plan.next_stage("100") is None and plan.next_stage("25") is None


def test_overrides_merge_per_stage():
    plan = parse({"dwellMinutes": {"10": 30, "50": 0.5}, "triggers": {"10": ["api_error_rate", "bounce_rate"]},
                  "gates": ["smoke"], "stagingEnvironment": "preprod", "internalUserIds": ["u-1"],
                  "internalDomains": ["Example.COM."], "autoRollback": False})
    assert plan.dwell("10") == timedelta(minutes=30) and plan.dwell("50") == timedelta(seconds=30)
    assert plan.dwell("internal") == timedelta(hours=1)
    assert plan.triggers_at("10") == ("api_error_rate", "bounce_rate")
    assert plan.triggers_at("50") == ("api_error_rate", "bounce_rate")
    assert plan.gates == ("smoke",) and plan.staging_environment == "preprod"
    assert plan.internal_user_ids == {"u-1"} and plan.internal_domains == {"example.com"}
    assert plan.auto_rollback is False


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ([], "golive:rollout: expected an object"),
        ({"dwelMinutes": {}}, "golive:rollout.dwelMinutes: unknown key"),
        ({"dwellMinutes": {"100": 5}}, "golive:rollout.dwellMinutes.100: the last stage"),
        ({"dwellMinutes": {"25": 5}}, "golive:rollout.dwellMinutes.25: not a stage"),
        ({"dwellMinutes": {"10": -1}}, "golive:rollout.dwellMinutes.10: expected a number"),
        ({"dwellMinutes": {"10": "1h"}}, "golive:rollout.dwellMinutes.10: expected a number"),
        ({"dwellMinutes": {"10": True}}, "golive:rollout.dwellMinutes.10: expected a number"),
        ({"dwellMinutes": [60]}, "golive:rollout.dwellMinutes: expected an object"),
        ({"triggers": {"0": ["api_error_rate"]}}, "golive:rollout.triggers.0: at 0 nothing"),
        ({"triggers": {"10": ["open_rate"]}}, "golive:rollout.triggers.10: 'open_rate' is not a signal"),
        ({"triggers": {"10": "api_error_rate"}}, "golive:rollout.triggers.10: expected a list"),
        ({"gates": ["staging", "qa"]}, "golive:rollout.gates: 'qa' is not a gate"),
        ({"stagingEnvironment": "Staging Env"}, "golive:rollout.stagingEnvironment"),
        ({"internalUserIds": ["u-1", ""]}, "golive:rollout.internalUserIds: an empty user id"),
        ({"internalUserIds": [42]}, "golive:rollout.internalUserIds: expected a list of strings"),
        ({"internalDomains": ["not a domain"]}, "golive:rollout.internalDomains"),
        ({"autoRollback": "yes"}, "golive:rollout.autoRollback: expected true or false"),
    ],
)
def test_malformed_keys_are_named(raw, key):
    with pytest.raises(PlanError) as raised:
        parse(raw)
    assert str(raised.value).startswith(key)


def test_stack_config_text():
    values = {"golive:rollout": json.dumps({"dwellMinutes": {"internal": 5}})}
    assert from_stack_config(values, "Pulumi.production.yaml").dwell("internal") == timedelta(minutes=5)
    assert from_stack_config({}, "Pulumi.production.yaml") == Plan()
    with pytest.raises(PlanError, match=r"^Pulumi.production.yaml: golive:rollout: expected an object"):
        from_stack_config({"golive:rollout": "fast"}, "Pulumi.production.yaml")
    with pytest.raises(PlanError, match=r"^Pulumi.production.yaml: golive:rollout.gates"):
        from_stack_config({"golive:rollout": '{"gates": "smoke"}'}, "Pulumi.production.yaml")
