"""Reporters: each a pure function CheckResult -> str, registered by format name."""

# Imported for their registrations.
from golive.analysis.report import jsonreport, junit, markdown, sarif, text  # noqa: F401
from golive.analysis.report.base import (
           ANSWERED,
           Renderer,
           counts,
           display_type,
           formats,
           invoke_legend,
           location,
           plural,
           register,
           render,
)

__all__ = ["ANSWERED", "Renderer", "counts", "display_type", "formats", "invoke_legend", "location", "plural",
           "register", "render"]
