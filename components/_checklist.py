"""The checklist's catalog and record helpers, read from the policy pack so they live in one place."""

import sys
from pathlib import Path

_POLICIES = str(Path(__file__).resolve().parent.parent / "policies")
if _POLICIES not in sys.path:
    sys.path.append(_POLICIES)

from checklist import catalog, emailauth  # noqa: E402

__all__ = ["catalog", "emailauth"]
