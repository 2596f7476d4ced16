"""Computed outputs read from a provider's generated source agree with the imported classes."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from golive.preview import invokes, provider_schema

# The bench program's types, and Instance, whose deprecated getters carry a decorator between
# @pulumi.getter and the function.
TOKENS = [
    "aws:kms/key:Key",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:lambda/function:Function",
    "aws:route53/record:Record",
    "aws:secretsmanager/secretRotation:SecretRotation",
    "aws:ec2/instance:Instance",
]


@pytest.mark.parametrize("token", TOKENS)
def test_source_and_class_agree_on_pulumi_aws(token):
    from_source = provider_schema._computed_outputs_from_source(token)
    assert from_source  # in the generated form, and not empty
    assert from_source == provider_schema._computed_outputs_from_class(token)


def test_unknown_tokens_and_packages_have_no_computed_outputs():
    assert provider_schema.computed_outputs("aws:nope/nothing:Nothing") == ()
    assert provider_schema.computed_outputs("nosuchprovider:index:Thing") == ()


GENERATED = '''
import pulumi
from typing import Any, Optional, Mapping, Union
from . import _utilities


class Widget(pulumi.CustomResource):
    @property
    @pulumi.getter
    def arn(self) -> pulumi.Output[str]:
        return pulumi.get(self, "arn")

    @property
    @pulumi.getter(name="tagsAll")
    def tags_all(self) -> pulumi.Output[Mapping[str, str]]:
        return pulumi.get(self, "tags_all")

    @property
    @pulumi.getter
    def description(self) -> pulumi.Output[Optional[str]]:
        return pulumi.get(self, "description")

    @property
    @pulumi.getter(name="oldName")
    @_utilities.deprecated("""old_name is deprecated.""")
    def old_name(self) -> pulumi.Output[str]:
        return pulumi.get(self, "old_name")
'''

ODD = '''
import pulumi
from typing import Optional, Union


class Gadget(pulumi.CustomResource):
    @property
    @pulumi.getter
    def size(self) -> pulumi.Output[Union[int, None]]:
        return pulumi.get(self, "size")

    @property
    @pulumi.getter
    def arn(self) -> pulumi.Output[str]:
        return pulumi.get(self, "arn")
'''


@pytest.fixture
def provider(tmp_path, monkeypatch):
    """A provider package `pulumi_gltest` in the generated layout, with one class in another form."""
    package = tmp_path / "pulumi_gltest"
    (package / "things").mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent('''
        from . import _utilities
        _utilities.register(
            resource_modules="""
        [
         {
          "pkg": "gltest",
          "mod": "things/widget",
          "fqn": "pulumi_gltest.things",
          "classes": {
           "gltest:things/widget:Widget": "Widget"
          }
         },
         {
          "pkg": "gltest",
          "mod": "things/gadget",
          "fqn": "pulumi_gltest.things",
          "classes": {
           "gltest:things/gadget:Gadget": "Gadget"
          }
         }
        ]
        """,
            resource_packages="""[]"""
        )
    '''))
    (package / "_utilities.py").write_text(
        "import functools\n"
        "def register(**kwargs):\n    pass\n"
        "def deprecated(message):\n"
        "    def decorator(fn):\n"
        "        @functools.wraps(fn)\n"
        "        def wrapper(*args, **kwargs):\n            return fn(*args, **kwargs)\n"
        "        return wrapper\n"
        "    return decorator\n"
    )
    (package / "things" / "__init__.py").write_text("from .widget import *\nfrom .gadget import *\n")
    (package / "things" / "_utilities.py").write_text("from .._utilities import *\n")
    (package / "things" / "widget.py").write_text(GENERATED.replace("from . import _utilities",
                                                                    "from .. import _utilities"))
    (package / "things" / "gadget.py").write_text(ODD)
    monkeypatch.syspath_prepend(str(tmp_path))
    schema = provider_schema
    for cache in (schema._registration_source, schema._registration_table, schema._registry, schema._resource_entry,
                  schema._resource_module_names, schema._top_package_dir, schema.computed_outputs,
                  schema.resource_class):
        cache.cache_clear()
    yield
    for name in [m for m in sys.modules if m.startswith("pulumi_gltest")]:
        del sys.modules[name]


def test_generated_source_is_read_without_importing_the_package(provider):
    assert provider_schema.computed_outputs("gltest:things/widget:Widget") == ("arn", "tagsAll", "oldName")
    assert not any(m.startswith("pulumi_gltest") for m in sys.modules)
    assert provider_schema._computed_outputs_from_class("gltest:things/widget:Widget") == ("arn", "tagsAll", "oldName")


def test_a_form_the_reader_does_not_know_falls_back_to_the_class(provider):
    assert provider_schema._computed_outputs_from_source("gltest:things/gadget:Gadget") is None
    assert provider_schema.computed_outputs("gltest:things/gadget:Gadget") == ("arn",)
    assert "pulumi_gltest.things.gadget" in sys.modules


# --- arguments echoed into results ----------------------------------------------------------------

SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "example.com"}


def test_echoed_arguments_take_the_declared_result_type():
    providers = invokes.OfflineProviders({"aws:region": "eu-west-1"})
    ami, how = providers.answer("aws:ec2/getAmi:getAmi", {
        "mostRecent": "true", "owners": ["amazon", 42], "includeDeprecated": "False",
        "filters": [{"name": "name", "values": ["amzn2-*", 7]}, {"name": 3, "values": "not-a-list"}]})
    assert how == invokes.PLACEHOLDER
    assert ami["mostRecent"] is True and ami["includeDeprecated"] is False
    assert ami["owners"] == ["amazon", "42"]  # a number given for a string comes back as its text
    assert ami["filters"] == [{"name": "name", "values": ["amzn2-*", "7"]},
                              {"name": "3", "values": [f"offline-values-{i}" for i in range(3)]}]
    # A value with no form of the declared type becomes that type's placeholder.
    odd, _ = providers.answer("aws:ec2/getAmi:getAmi", {"mostRecent": "sometimes", "owners": "amazon",
                                                        "nameRegex": {"not": "a string"}})
    assert odd["mostRecent"] is False and odd["owners"] == [f"offline-owners-{i}" for i in range(3)]
    assert odd["nameRegex"] == "offline-nameRegex"


def test_numbers_and_secrets_are_converted_too():
    providers = invokes.OfflineProviders()
    zone, _ = providers.answer("aws:route53/getZone:getZone", {"name": SECRET, "privateZone": 1,
                                                               "vpcId": 12, "resourceRecordSetCount": "17"})
    assert zone["name"] == SECRET  # still secret, still the value asked for
    assert zone["privateZone"] is True and zone["vpcId"] == "12"
    assert zone["resourceRecordSetCount"] == 17  # a number given as text comes back a number
    bad, _ = providers.answer("aws:ec2/getSubnets:getSubnets", {"filters": [{"name": "vpc-id", "values": 5}]})
    assert bad["filters"] == [{"name": "vpc-id", "values": [f"offline-values-{i}" for i in range(3)]}]


def test_policy_documents_are_rendered_from_their_statements():
    providers = invokes.OfflineProviders()
    doc, _ = providers.answer(invokes.POLICY_DOCUMENT, {"policyId": "p1", "statements": [
        {"sid": "Read", "actions": ["s3:GetObject", "s3:ListBucket"], "resources": ["arn:aws:s3:::b/*"]},
        {"effect": "Deny", "notActions": ["iam:*"], "principals": [{"type": "*", "identifiers": ["*"]}]},
    ]})
    expected = {"Version": "2012-10-17", "Id": "p1", "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"],
         "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Deny", "NotAction": "iam:*", "Principal": "*"}]}
    assert json.loads(doc["json"]) == expected and json.loads(doc["minifiedJson"]) == expected
    assert "\n" in doc["json"] and "\n" not in doc["minifiedJson"]
    merged, _ = providers.answer(invokes.POLICY_DOCUMENT, {"sourcePolicyDocuments": ["{}"]})
    assert merged["json"] == "offline-json"  # merging documents is the provider's to do
