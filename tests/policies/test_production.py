"""Which stacks are production: by name, environment config, credential secrets, stack tags, or the list."""

from __future__ import annotations

import pytest

from checklist.catalog import DEFAULT_PRODUCTION_PATTERNS
from checklist.model import Resource, Stack
from checklist.recognize import SECRET, is_production, production


def secret(name: str, **tags: str) -> Resource:
    return Resource(type=SECRET, name=f"cio-{name.replace('/', '-')}", props={
        "name": name, "tags": {"customerio:credential": "track-api-key", **tags}})


@pytest.mark.parametrize("name", [
    "prod", "production", "prd", "live", "PRD", "eu-prod", "prod-eu", "live_2", "shop.prd", "us-east-prod-1",
    "acme/shop/prd", "production-blue",
])
def test_production_names_with_the_usual_separators(name: str) -> None:
    assert is_production(name)


@pytest.mark.parametrize("name", ["main", "staging", "product", "prodigy", "delivery", "olive", "dev", "reprd"])
def test_names_that_only_contain_the_letters_are_not_production(name: str) -> None:
    assert not is_production(name)


def test_the_default_patterns_keep_the_old_ones_first() -> None:
    assert DEFAULT_PRODUCTION_PATTERNS[:2] == ("prod", "production")
    for old in ("*-prod", "*-production", "prod-*", "production-*"):
        assert any(is_production(old.replace("*", "x"), [p]) for p in DEFAULT_PRODUCTION_PATTERNS)


@pytest.mark.parametrize(("stack", "signal"), [
    (Stack(name="prd"), "its name prd matches 'prd'"),
    (Stack(name="main", config={"golive:environment": "production"}),
     "its config golive:environment is 'production'"),
    (Stack(name="main", resources=[secret("customerio/production/track-api-key")]),
     "its credential secret customerio/production/track-api-key is named for environment 'production'"),
    (Stack(name="main", resources=[secret("app/customerio/prod/track-api-key")]),
     "its credential secret app/customerio/prod/track-api-key is named for environment 'prod'"),
    (Stack(name="main", resources=[secret("cio-track", Environment="live")]),
     "its credential secret cio-track is tagged Environment=live"),
    (Stack(name="main", tags={"golive:environment": "production"}), "its stack tag golive:environment is 'production'"),
    (Stack(name="main", tags={"environment": "prod-eu"}), "its stack tag environment is 'prod-eu'"),
])
def test_each_signal_makes_a_stack_production_and_says_so(stack: Stack, signal: str) -> None:
    assert production(stack) == (True, signal)


@pytest.mark.parametrize("stack", [
    Stack(name="main"),
    Stack(name="main", config={"golive:environment": "staging"}),
    Stack(name="main", resources=[secret("customerio/staging/track-api-key", environment="staging")]),
    # Not the layout; and a secret that is not Customer.io's: neither says which environment.
    Stack(name="main", resources=[secret("prod/customerio/track-api-key")]),
    Stack(name="main", resources=[Resource(type=SECRET, name="db", props={"name": "db/production/password",
                                                                          "tags": {"environment": "production"}})]),
    Stack(name="main", tags={"pulumi:project": "prod", "owner": "production"}),
])
def test_nothing_says_production(stack: Stack) -> None:
    assert production(stack) == (False, "")


def test_the_order_the_signals_are_reported_in() -> None:
    stack = Stack(name="prd", config={"golive:environment": "production"}, tags={"environment": "production"},
                  resources=[secret("customerio/production/track-api-key")])
    assert production(stack).signal.startswith("its name prd")
    assert production(Stack(name="main", config=stack.config, tags=stack.tags, resources=stack.resources)
                      ).signal.startswith("its config")
    assert production(Stack(name="main", tags=stack.tags, resources=stack.resources)).signal.startswith(
        "its credential secret")


def test_the_secret_reported_does_not_depend_on_registration_order() -> None:
    secrets = [secret("customerio/production/track-api-key"), secret("customerio/production/app-api-key")]
    for resources in (secrets, secrets[::-1]):
        assert "customerio/production/app-api-key" in production(Stack(name="main", resources=resources)).signal


def test_patterns_judge_names_and_environments_alike() -> None:
    stack = Stack(name="blue", config={"golive:environment": "green"})
    assert production(stack) == (False, "")
    assert production(stack, ["green"]) == (True, "its config golive:environment is 'green'")
    assert production(stack, ["blue"]) == (True, "its name blue matches 'blue'")


def test_the_list_wins_both_ways() -> None:
    listed = ("main", "acme/shop/blue")
    assert production(Stack(name="main"), listed=listed) == (True, "productionStacks lists it")
    assert production(Stack(name="blue", project="shop"), listed=listed).production
    assert production(Stack(name="MAIN"), listed=listed).production
    assert not production(Stack(name="blue", project="other"), listed=listed).production
    assert production(Stack(name="prd", config={"golive:environment": "production"}), listed=listed) == (
        False, "productionStacks does not list it, although its name prd matches 'prd'")
    assert production(Stack(name="staging"), listed=listed) == (False, "")
