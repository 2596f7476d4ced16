"""The pack's policies behind pulumi_policy's own servicer, for tests that drive them the SDK's way."""

from __future__ import annotations

from pulumi_policy import policy as sdk

from checklist import pack as checklist_pack


def pack_servicer(monkeypatch, project: str) -> sdk._PolicyAnalyzerServicer:
    """The pack's policies behind the SDK's servicer, for a production stack of `project`."""
    checklist_pack._install_sdk_hooks()
    servicer = sdk._PolicyAnalyzerServicer("golive-customerio", "0.0.1", checklist_pack.build_policies(),
                                           sdk.EnforcementLevel.ADVISORY, None, "", None, None, None, None, None)
    monkeypatch.setattr(checklist_pack, "_stack_context", {
        "stack": "production", "project": project, "config": {}, "secret_keys": frozenset()})
    return servicer
