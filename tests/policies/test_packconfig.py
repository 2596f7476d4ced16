"""pack-config-not-looser over plain data: what is looser than the checklist, and what is not."""

from __future__ import annotations

import pytest

from checklist.catalog import PACK_CONFIG_POLICY, POLICY_BY_NAME, SIGNALS
from checklist.model import Resource, Stack
from checklist.recognize import SECRET
from checklist.rules import run
from checklist.rules.packconfig import looser_settings

CIO_SECRET = Resource(type=SECRET, name="cio", props={"tags": {"customerio:credential": "site-id"}})


def messages(config: dict, source: str = "policy.json") -> list[str]:
    return [f.message for f in looser_settings(config, source)]


@pytest.mark.parametrize(("config", "expected"), [
    ({"customerio-secret-rotation": {"maxDays": 365}},
     "customerio-secret-rotation maxDays is 365, looser than the checklist's at most 90 (set in policy.json)"),
    ({"email-dkim-record": {"minKeyBits": 512}},
     "email-dkim-record minKeyBits is 512, looser than the checklist's at least 1024 (set in policy.json)"),
    ({"monitoring-alarm-thresholds": {"thresholds": {"bounce_rate": 0.2}}},
     "monitoring-alarm-thresholds thresholds.bounce_rate is 0.2, looser than the checklist's 0.05 (an alarm above"),
    ({"monitoring-alarm-thresholds": {"thresholds": {"delivery_rate": 0.9}}},
     "thresholds.delivery_rate is 0.9, looser than the checklist's 0.95 (an alarm below it"),
    ({"email-spf-record": {"espDomains": ["customeriomail.com"]}},
     "email-spf-record espDomains leaves out mailgun.org"),
    ({"email-spf-record": {"enforcementLevel": "disabled"}},
     "email-spf-record is disabled; the checklist's level is mandatory (set in policy.json)"),
    ({"rollout-flag-stage": {"enforcementLevel": "advisory"}}, "rollout-flag-stage is advisory"),
    ({PACK_CONFIG_POLICY: {"enforcementLevel": "disabled"}}, f"{PACK_CONFIG_POLICY} is disabled"),
    ({"all": {"enforcementLevel": "advisory"}, **{n: {"enforcementLevel": "advisory"} for n in POLICY_BY_NAME}},
     "`all` is advisory, which lowers every mandatory policy of the checklist (set in policy.json)"),
])
def test_each_looser_setting_is_one_finding_naming_it(config: dict, expected: str) -> None:
    [message] = messages(config)
    assert expected in message
    assert PACK_CONFIG_POLICY in message  # how to waive it


@pytest.mark.parametrize("config", [
    {},
    {"customerio-secret-rotation": {"maxDays": 90}},
    {"customerio-secret-rotation": {"maxDays": 30.0}},
    {"email-dkim-record": {"minKeyBits": 2048}},
    {"monitoring-alarm-thresholds": {"thresholds": {name: s.threshold for name, s in SIGNALS.items()}}},
    {"monitoring-alarm-thresholds": {"thresholds": {"bounce_rate": 0.01, "delivery_rate": 0.99}}},
    {"email-spf-record": {"espDomains": ["mailgun.org.", "CustomerIOMail.com", "sendgrid.net"]}},
    {"customerio-region": {"enforcementLevel": "remediate"}},
    # Advisory policies never block: switching them off, or loosening them, weakens no gate.
    {"email-dmarc-record": {"enforcementLevel": "disabled", "espDomains": []}},
    {"all": {"enforcementLevel": "mandatory"}},
    {"customerio-production-keys-distinct": {"nonProductionFingerprints": {}}, "email-spf-record": {
        "sendingDomains": ["cio1.example.com"], "productionStackPatterns": ["blue"]}},
])
def test_stricter_and_additive_settings_are_allowed(config: dict) -> None:
    assert messages(config) == []


def test_only_in_a_production_customerio_stack_and_the_file_named_when_known() -> None:
    config = {"customerio-secret-rotation": {"maxDays": 365}}
    production = Stack(resources=[CIO_SECRET], pack_config=config, pack_config_source="ci/policy.json")
    assert "(set in ci/policy.json)" in run(PACK_CONFIG_POLICY, production)[0].message
    unnamed = Stack(resources=[CIO_SECRET], pack_config=config)
    assert "(set in the policy pack config)" in run(PACK_CONFIG_POLICY, unnamed)[0].message
    assert run(PACK_CONFIG_POLICY, Stack(production=False, resources=[CIO_SECRET], pack_config=config)) == []
    assert run(PACK_CONFIG_POLICY, Stack(pack_config=config)) == []  # not a Customer.io stack
