"""§1 credentials: plaintext storage, the App API key, one region, production keys distinct."""

import base64
import gzip
import json

import pytest

from checklist.catalog import CREDENTIAL_TAG, REGION_TAG, fingerprint
from checklist.model import UNKNOWN, Resource, Stack
from checklist.recognize import ROUTE53_RECORD, SECRET, SECRET_VERSION, SSM_PARAMETER
from checklist.rules import run
from checklist.rules.credentials import CredentialNames

PLAINTEXT = "p1a1nTextTrackKey0042"  # must never appear in a message
LAMBDA = "aws:lambda/function:Function"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"


def cred_secret(kind="track-api-key", region="us", logical=None, env="production", **tags) -> Resource:
    tags = {CREDENTIAL_TAG: kind, **({REGION_TAG: region} if region else {}), **tags}
    return Resource(SECRET, logical or f"cio-{kind}", {"name": f"customerio/{env}/{kind}", "tags": tags})


def fn(variables, name="api") -> Resource:
    return Resource(LAMBDA, name, {"environment": {"variables": variables}})


def never_leaks(result):
    for finding in result:
        assert PLAINTEXT not in finding.message
        assert PLAINTEXT[:5] not in finding.message
    return result


# --- customerio-credentials-in-secrets-manager ----------------------------------------------------

STORAGE = "customerio-credentials-in-secrets-manager"


def storage(*resources, config=None, secret_keys=(), **cfg):
    stack = Stack(resources=resources, config=config or {}, secret_keys=frozenset(secret_keys))
    return never_leaks(run(STORAGE, stack, cfg or None))


@pytest.mark.parametrize(
    "name",
    [
        "CUSTOMERIO_TRACK_API_KEY",
        "CUSTOMERIO_SITE_ID",
        "CUSTOMERIO_APP_API_KEY",
        "CIO_SITE_ID",
        "CIO_TRACK_KEY",
        "CUSTOMER_IO_APP_KEY",
        "customer-io-api-key",
        "customerio:appApiKey",
        "golive:cioTrackApiKey",
        "/customerio/prod/track-api-key",
        "customerIoSiteId",
    ],
)
def test_credential_names(name):
    assert CredentialNames()(name)


@pytest.mark.parametrize(
    "name",
    [
        "CUSTOMERIO_REGION",
        "CIO_TRACK_URL",
        "TRACK_API_KEY",  # nothing says Customer.io
        "SOCIO_SITE_ID",  # `cio` inside another word
        "CUSTOMERIO_TRACK_API_KEY_ARN",
        "CUSTOMERIO_TRACK_API_KEY_SECRET_ARN",
        "CIO_SITE_ID_SECRET_ID",
        "CIO_SITE_ID_SECRET_NAME",
        "CIO_APP_KEY_PARAMETER",
        "CIO_APP_KEY_PARAM",
        "customerio:trackApiKeyArn",
        "golive:customerioRegion",
        "",
    ],
)
def test_not_credential_names(name):
    assert not CredentialNames()(name)


def test_lambda_plaintext_credential_is_a_finding_on_the_function():
    f = fn({"CUSTOMERIO_TRACK_API_KEY": PLAINTEXT, "LOG_LEVEL": "info"})
    [finding] = storage(f)
    assert finding.urn == f.urn
    assert "CUSTOMERIO_TRACK_API_KEY" in finding.message and "environment.variables" in finding.message
    assert "Secrets Manager" in finding.message


def test_not_limited_to_customerio_stacks():
    # The stack holds no Customer.io secret: a plaintext key is still Customer.io's business.
    assert len(storage(fn({"CIO_SITE_ID": "0a1b2c3d4e"}))) == 1


def test_numeric_site_id_is_plaintext_too():
    assert len(storage(fn({"CIO_SITE_ID": 123456}))) == 1


@pytest.mark.parametrize(
    "variables",
    [
        {"CUSTOMERIO_TRACK_API_KEY_SECRET_ARN": PLAINTEXT},  # pointer by name
        {"CUSTOMERIO_TRACK_API_KEY": "arn:aws:secretsmanager:us-east-1:1:secret:customerio/prod/t-AbCdEf"},
        {"CUSTOMERIO_TRACK_API_KEY": "arn:aws-us-gov:ssm:us-gov-west-1:1:parameter/customerio/track"},
        {"CUSTOMERIO_TRACK_API_KEY": "customerio/production/track-api-key"},  # a secret in the stack
        {"CUSTOMERIO_TRACK_API_KEY": UNKNOWN},  # computed from another resource
        {"CUSTOMERIO_TRACK_API_KEY": ""},
        {"CUSTOMERIO_TRACK_API_KEY": "   "},
        UNKNOWN,  # the whole map computed: nothing the program wrote is visible
    ],
)
def test_lambda_references_are_fine(variables):
    assert storage(cred_secret(), fn(variables)) == []


def test_secure_string_parameter_name_is_a_reference():
    parameter = Resource(SSM_PARAMETER, "p", {"name": "/cio/track", "type": "SecureString", "value": "x"})
    assert storage(parameter, fn({"CIO_TRACK_KEY": "/cio/track"})) == []
    plain = Resource(SSM_PARAMETER, "p", {"name": "/cio/track", "type": "String", "value": "x"})
    assert len(storage(plain, fn({"CIO_TRACK_KEY": "/cio/track"}))) == 1


def test_extra_name_patterns_from_config():
    f = fn({"MY_CRM_KEY": PLAINTEXT})
    assert storage(f) == []
    [finding] = storage(f, credentialNamePatterns=["^MY_CRM_KEY$"])
    assert "MY_CRM_KEY" in finding.message


def test_broken_name_pattern_is_a_stack_finding_not_a_crash():
    [finding] = storage(fn({"A": "b"}), credentialNamePatterns=["(unclosed"])
    assert finding.urn is None and "(unclosed" in finding.message


def _containers(*containers):
    return json.dumps(list(containers))


def test_ecs_environment_is_plaintext_and_secrets_are_fine():
    task = Resource(
        TASK,
        "web",
        {
            "containerDefinitions": _containers(
                {"name": "app", "environment": [{"name": "CUSTOMERIO_APP_API_KEY", "value": PLAINTEXT}]},
                {
                    "name": "worker",
                    "secrets": [{"name": "CUSTOMERIO_APP_API_KEY", "valueFrom": "arn:aws:secretsmanager:x"}],
                },
            )
        },
    )
    [finding] = storage(task)
    assert finding.urn == task.urn
    assert "container 'app'" in finding.message and "valueFrom" in finding.message


@pytest.mark.parametrize(
    "definitions",
    [
        UNKNOWN,
        "not json",
        _containers({"name": "app", "secrets": [{"name": "CIO_TRACK_KEY", "valueFrom": "arn:aws:ssm:x"}]}),
        _containers({"name": "app", "environment": [{"name": "CIO_TRACK_KEY_ARN", "value": "x"}]}),
    ],
)
def test_ecs_without_plaintext(definitions):
    assert storage(Resource(TASK, "web", {"containerDefinitions": definitions})) == []


def test_ecs_definitions_already_parsed_are_read_too():
    task = Resource(
        TASK, "web", {"containerDefinitions": [{"environment": [{"name": "CIO_SITE_ID", "value": "1"}]}]}
    )
    assert len(storage(task)) == 1


@pytest.mark.parametrize(
    ("props", "flagged"),
    [
        ({"name": "/customerio/prod/track-api-key", "type": "String", "value": PLAINTEXT}, True),
        ({"name": "/customerio/prod/track-api-key", "type": "StringList", "insecureValue": PLAINTEXT}, True),
        ({"name": "/customerio/prod/track-api-key", "type": UNKNOWN, "value": PLAINTEXT}, True),
        ({"name": "/customerio/prod/track-api-key", "type": "SecureString", "value": PLAINTEXT}, False),
        ({"name": "/customerio/prod/region", "type": "String", "value": "us"}, False),
        ({"name": "/customerio/prod/track-api-key-arn", "type": "String", "value": PLAINTEXT}, False),
        (
            {"name": "/customerio/prod/track-api-key", "type": "String", "value": "arn:aws:secretsmanager:x"},
            False,
        ),
        ({"name": UNKNOWN, "type": "String", "value": PLAINTEXT}, True),  # logical name says it
    ],
)
def test_ssm_parameters(props, flagged):
    parameter = Resource(SSM_PARAMETER, "cio-track-api-key", props)
    result = storage(parameter)
    assert bool(result) == flagged
    if flagged:
        assert result[0].urn == parameter.urn and "SecureString" in result[0].message


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SCRIPT = f"#!/bin/bash\nexport CUSTOMERIO_TRACK_API_KEY={PLAINTEXT}\nsystemctl start app\n"


@pytest.mark.parametrize(
    ("type_", "props"),
    [
        (INSTANCE, {"userData": SCRIPT}),
        (INSTANCE, {"userDataBase64": _b64(SCRIPT)}),
        (LAUNCH_TEMPLATE, {"userData": _b64(SCRIPT)}),
        (LAUNCH_TEMPLATE, {"userData": base64.b64encode(gzip.compress(SCRIPT.encode())).decode()}),
        (LAUNCH_CONFIGURATION, {"userData": f"CIO_SITE_ID='{PLAINTEXT}'"}),
        (INSTANCE, {"userData": f'[Service]\nEnvironment="CIO_APP_KEY={PLAINTEXT}"\n'}),
    ],
)
def test_user_data_assignments(type_, props):
    resource = Resource(type_, "host", props)
    [finding] = storage(resource)
    assert finding.urn == resource.urn and "boot" in finding.message


@pytest.mark.parametrize(
    "script",
    [
        "export CUSTOMERIO_TRACK_API_KEY=$(aws secretsmanager get-secret-value --secret-id x)",
        'CUSTOMERIO_TRACK_API_KEY="${FROM_PARAMETER_STORE}"',
        "CUSTOMERIO_TRACK_API_KEY_SECRET_ARN=arn:aws:secretsmanager:us-east-1:1:secret:x",
        "CUSTOMERIO_TRACK_API_KEY=",
        "echo CUSTOMERIO_TRACK_API_KEY is read at boot",
    ],
)
def test_user_data_without_plaintext(script):
    assert storage(Resource(INSTANCE, "host", {"userData": script})) == []
    assert storage(Resource(LAUNCH_TEMPLATE, "lt", {"userData": _b64(script)})) == []


def test_unknown_user_data_is_not_a_finding():
    assert storage(Resource(LAUNCH_TEMPLATE, "lt", {"userData": UNKNOWN})) == []


def test_plaintext_stack_config_is_a_stack_level_finding():
    config = {"customerio:trackApiKey": PLAINTEXT, "customerio:region": "us"}
    [finding] = storage(config=config)
    assert finding.urn is None and "customerio:trackApiKey" in finding.message
    assert "--secret" in finding.message


def test_secret_stack_config_is_fine():
    assert storage(config={"customerio:trackApiKey": PLAINTEXT}, secret_keys={"customerio:trackApiKey"}) == []


def test_stack_config_objects_are_walked():
    config = {"golive:customerio": json.dumps({"siteId": PLAINTEXT, "region": "us"})}
    [finding] = storage(config=config)
    assert "golive:customerio.siteId" in finding.message
    assert storage(config=config, secret_keys={"golive:customerio"}) == []


def test_each_value_of_an_object_is_judged_by_its_own_secrecy():
    # golive lists, beside the secret key, the paths of its secure values (the engine lists keys only).
    config = {"golive:customerio": json.dumps({"trackApiKey": PLAINTEXT, "other": {"token": "x", "n": 1}})}
    [finding] = storage(config=config, secret_keys={"golive:customerio", "golive:customerio.other"})
    assert "golive:customerio.trackApiKey" in finding.message
    assert storage(config=config, secret_keys={"golive:customerio", "golive:customerio.trackApiKey"}) == []
    everything = {"golive:customerio", "golive:customerio.other", "golive:customerio.trackApiKey"}
    assert storage(config=config, secret_keys=everything) == []


def test_one_finding_per_variable_and_place():
    f = fn({"CIO_TRACK_KEY": PLAINTEXT, "CIO_SITE_ID": "abcd1234"})
    assert len(storage(f)) == 2


# --- customerio-app-api-key -----------------------------------------------------------------------

APP_KEY = "customerio-app-api-key"


def test_app_api_key_present():
    stack = Stack(resources=[cred_secret("track-api-key"), cred_secret("app-api-key")])
    assert run(APP_KEY, stack) == []


def test_app_api_key_missing_is_one_stack_level_finding():
    stack = Stack(resources=[cred_secret("site-id"), cred_secret("track-api-key")])
    [finding] = run(APP_KEY, stack)
    assert finding.urn is None and "App API key" in finding.message and not finding.advisory


def test_app_api_key_missing_in_staging_is_still_reported():
    # The adapter makes it advisory outside production; the rule itself reports it.
    stack = Stack(name="staging", production=False, resources=[cred_secret("track-api-key")])
    assert len(run(APP_KEY, stack)) == 1


def test_app_api_key_hint_names_untyped_customerio_secrets():
    untyped = Resource(SECRET, "cio", {"name": "customerio/production/key"})
    [finding] = run(APP_KEY, Stack(resources=[untyped]))
    assert "customerio/production/key" in finding.message and CREDENTIAL_TAG in finding.message


def test_app_api_key_ignores_other_stacks():
    assert run(APP_KEY, Stack(resources=[Resource(SECRET, "db", {"name": "db"})])) == []


# --- customerio-track-api-credentials ------------------------------------------------------------

TRACK = "customerio-track-api-credentials"
ALL_KINDS = ("site-id", "track-api-key", "app-api-key")


def test_all_three_keys_pass_both_policies():
    stack = Stack(resources=[cred_secret(kind) for kind in ALL_KINDS])
    assert run(TRACK, stack) == [] and run(APP_KEY, stack) == []


@pytest.mark.parametrize(("dropped", "name"), [("site-id", "Site ID"), ("track-api-key", "Track API key")])
def test_a_missing_track_credential_is_a_stack_level_finding(dropped, name):
    stack = Stack(resources=[cred_secret(kind) for kind in ALL_KINDS if kind != dropped])
    [finding] = run(TRACK, stack)
    assert finding.urn is None and not finding.advisory
    assert f"Customer.io {name}" in finding.message and f"customerio:credential={dropped}" in finding.message
    assert run(APP_KEY, stack) == []  # each key is one policy's business


def test_each_missing_track_credential_is_its_own_finding():
    result = run(TRACK, Stack(resources=[cred_secret("app-api-key")]))
    assert sorted("customerio:credential=site-id" in f.message for f in result) == [False, True]


def test_track_credentials_hint_names_untyped_customerio_secrets():
    untyped = Resource(SECRET, "cio", {"name": "customerio/production/key"})
    result = run(TRACK, Stack(resources=[untyped, cred_secret("app-api-key")]))
    assert len(result) == 2 and all("customerio/production/key" in f.message for f in result)


def test_track_credentials_ignore_other_stacks():
    assert run(TRACK, Stack(resources=[Resource(SECRET, "db", {"name": "db"})])) == []


# --- customerio-region ----------------------------------------------------------------------------

REGION = "customerio-region"


def cname(target: str, name="links.example.com") -> Resource:
    return Resource(ROUTE53_RECORD, "links", {"name": name, "type": "CNAME", "records": [target]})


def test_one_region_everywhere_passes():
    resources = [
        cred_secret("site-id"),
        cred_secret("track-api-key"),
        fn({"CIO_TRACK_URL": "https://track.customer.io/api/v1"}),
        cname("e.customeriomail.com"),
    ]
    assert run(REGION, Stack(resources=resources)) == []


def test_minority_region_is_flagged_and_sources_are_named():
    eu_fn = fn({"CIO_TRACK_URL": "https://track-eu.customer.io/api/v1"})
    resources = [cred_secret("site-id"), cred_secret("track-api-key"), cred_secret("app-api-key"), eu_fn]
    [finding] = run(REGION, Stack(resources=resources))
    assert finding.urn == eu_fn.urn
    assert "EU" in finding.message and "track-eu.customer.io" in finding.message
    assert "US" in finding.message and "customerio:region=us" in finding.message


def test_configured_region_is_the_reference():
    us = [cred_secret("site-id"), cred_secret("track-api-key")]
    result = run(REGION, Stack(resources=us), {"region": "eu"})
    assert {f.urn for f in result} == {r.urn for r in us}
    assert all("pack config" in f.message for f in result)
    assert run(REGION, Stack(resources=us), {"region": "us"}) == []


def test_link_tracking_cname_claims_a_region():
    record = cname("e-eu.customeriomail.com.")
    resources = [cred_secret("site-id"), cred_secret("track-api-key"), record]
    [finding] = run(REGION, Stack(resources=resources))
    assert finding.urn == record.urn and "link-tracking CNAME" in finding.message


def test_tie_names_both_sides_on_every_claimant():
    us, eu = cred_secret("site-id", "us"), cred_secret("track-api-key", "eu")
    result = run(REGION, Stack(resources=[us, eu]))
    assert {f.urn for f in result} == {us.urn, eu.urn}
    for finding in result:
        assert "evenly" in finding.message and "US:" in finding.message and "EU:" in finding.message


def test_invalid_region_tag_is_a_finding():
    odd = cred_secret("site-id", "ap")
    [finding] = run(REGION, Stack(resources=[odd]))
    assert finding.urn == odd.urn and "'ap'" in finding.message


def test_region_tag_case_is_ignored():
    assert (
        run(REGION, Stack(resources=[cred_secret("site-id", "US"), cred_secret("app-api-key", "us")])) == []
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://beta-track-eu.customer.io",  # not one of the region hosts
        "https://track-eu.customer.io.example.com/proxy",  # a host under someone else's domain
        "https://mytrack-eu.customer.io",
        UNKNOWN,  # unknown strings claim nothing
    ],
)
def test_only_real_hosts_claim(url):
    resources = [cred_secret("site-id"), fn({"URL": url})]
    assert run(REGION, Stack(resources=resources)) == []


def test_hosts_inside_nested_inputs_claim():
    task = Resource(
        TASK, "web", {"containerDefinitions": json.dumps([{"command": ["curl", "api-eu.customer.io"]}])}
    )
    resources = [cred_secret("site-id"), cred_secret("app-api-key"), task]
    [finding] = run(REGION, Stack(resources=resources))
    assert finding.urn == task.urn and "api-eu.customer.io" in finding.message


def test_invalid_configured_region_is_reported():
    [finding] = run(REGION, Stack(resources=[cred_secret()]), {"region": "apac"})
    assert finding.urn is None and "apac" in finding.message


# --- customerio-production-keys-distinct ----------------------------------------------------------

DISTINCT = "customerio-production-keys-distinct"
STAGING_TRACK = "stagingTrackKey0001"


def distinct(*resources, production=True, config=None, **cfg):
    stack = Stack(production=production, resources=resources, config=config or {})
    cfg.setdefault("nonProductionFingerprints", {"track-api-key": [fingerprint(STAGING_TRACK)]})
    result = run(DISTINCT, stack, cfg)
    for finding in result:
        assert STAGING_TRACK not in finding.message
    return result


def version(target: Resource, value, *, linked=True) -> Resource:
    return Resource(
        SECRET_VERSION,
        f"{target.name}-v",
        {"secretId": UNKNOWN if linked else target.props["name"], "secretString": value},
        property_dependencies={"secretId": (target.urn,)} if linked else {},
    )


def test_staging_value_in_a_production_secret_version_is_flagged():
    s = cred_secret()
    v = version(s, STAGING_TRACK)  # first preview: linked by property dependency only
    [finding] = distinct(s, v)
    assert finding.urn == v.urn and "track-api-key" in finding.message


def test_known_secret_id_links_the_version():
    s = cred_secret()
    assert len(distinct(s, version(s, STAGING_TRACK, linked=False))) == 1


def test_different_production_value_passes():
    s = cred_secret()
    assert distinct(s, version(s, "productionTrackKey01")) == []


def test_unknown_secret_string_passes():
    s = cred_secret()
    assert distinct(s, version(s, UNKNOWN)) == []


def test_non_production_stack_yields_nothing():
    s = cred_secret(env="staging")
    assert distinct(s, version(s, STAGING_TRACK), production=False) == []


def test_fingerprint_tag_on_the_secret():
    s = cred_secret(**{"customerio:fingerprint": fingerprint(STAGING_TRACK)})
    [finding] = distinct(s)
    assert finding.urn == s.urn and "customerio:fingerprint" in finding.message


def test_malformed_fingerprint_tag_is_a_finding():
    s = cred_secret(**{"customerio:fingerprint": "sha1:abc"})
    [finding] = distinct(s)
    assert finding.urn == s.urn and "16 hex" in finding.message


def test_stack_config_values_are_compared():
    config = {"customerio:trackApiKey": STAGING_TRACK}
    [finding] = distinct(cred_secret("site-id"), config=config)
    assert finding.urn is None and "customerio:trackApiKey" in finding.message


def test_any_kind_and_unknown_kind():
    s = cred_secret("app-api-key")
    cfg = {"nonProductionFingerprints": {"any": [fingerprint("shared")]}}
    assert len(distinct(s, version(s, "shared"), **cfg)) == 1
    untyped = Resource(SECRET, "cio", {"name": "customerio/production/key"})
    cfg = {"nonProductionFingerprints": {"site-id": [fingerprint("shared")]}}
    assert len(distinct(untyped, version(untyped, "shared"), **cfg)) == 1


def test_kind_must_match_unless_any():
    s = cred_secret("app-api-key")
    assert distinct(s, version(s, STAGING_TRACK)) == []  # listed only as a track key


def test_version_of_a_non_credential_secret_is_ignored():
    other = Resource(SECRET, "db", {"name": "db"})
    assert distinct(cred_secret(), other, version(other, STAGING_TRACK)) == []


@pytest.mark.parametrize("configured", [{}, {"track-api-key": []}, {"any": []}])
def test_without_non_production_fingerprints_it_says_it_could_not_compare(configured):
    s = cred_secret()
    [finding] = distinct(s, version(s, STAGING_TRACK), nonProductionFingerprints=configured)
    assert finding.advisory and finding.urn is None
    assert "nonProductionFingerprints" in finding.message and "golive fingerprints" in finding.message


def test_the_advice_is_for_production_only():
    assert distinct(cred_secret(env="staging"), production=False, nonProductionFingerprints={}) == []


def test_the_advice_goes_once_fingerprints_are_known():
    assert distinct(cred_secret()) == []
