"""Computed outputs read from a provider's generated source agree with the imported classes."""

from __future__ import annotations

import sys
import textwrap

import pytest

from golive import invokes

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
    from_source = invokes._computed_outputs_from_source(token)
    assert from_source  # in the generated form, and not empty
    assert from_source == invokes._computed_outputs_from_class(token)


def test_unknown_tokens_and_packages_have_no_computed_outputs():
    assert invokes.computed_outputs("aws:nope/nothing:Nothing") == ()
    assert invokes.computed_outputs("nosuchprovider:index:Thing") == ()


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
    for cache in (invokes._registration_source, invokes._registration_table, invokes._registry,
                  invokes._resource_entry, invokes._resource_module_names, invokes._top_package_dir,
                  invokes.computed_outputs, invokes.resource_class):
        cache.cache_clear()
    yield
    for name in [m for m in sys.modules if m.startswith("pulumi_gltest")]:
        del sys.modules[name]


def test_generated_source_is_read_without_importing_the_package(provider):
    assert invokes.computed_outputs("gltest:things/widget:Widget") == ("arn", "tagsAll", "oldName")
    assert not any(m.startswith("pulumi_gltest") for m in sys.modules)
    assert invokes._computed_outputs_from_class("gltest:things/widget:Widget") == ("arn", "tagsAll", "oldName")


def test_a_form_the_reader_does_not_know_falls_back_to_the_class(provider):
    assert invokes._computed_outputs_from_source("gltest:things/gadget:Gadget") is None
    assert invokes.computed_outputs("gltest:things/gadget:Gadget") == ("arn",)
    assert "pulumi_gltest.things.gadget" in sys.modules
