"""The rule registry: one pure function per catalog entry, found by policy name.

A rule takes the stack and the policy's effective config (catalog defaults overlaid with the
pack config) and yields findings. Rules that only make sense for a Customer.io stack are
registered with `customerio_only=True`, so an organization-wide pack never blocks other stacks; rules
that require the application side (its App API key, its alarms) with `app_side=True`, so a stack that
holds only a sending domain's DNS is not asked for them.
"""

# Importing the rule modules registers their rules: `RULES` is complete once this package is imported.
from . import credentials, email, monitoring, packconfig, rollout, rotation  # noqa: F401
from .registry import RULES, Rule, RuleFn, effective_config, rule, run

__all__ = ["RULES", "Rule", "RuleFn", "effective_config", "rule", "run"]
