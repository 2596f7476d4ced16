"""The pack's catalog and rules, imported from `policies/` (the pack itself never imports golive)."""

import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parent.parent / "policies"
if str(PACK_DIR) not in sys.path:
    sys.path.append(str(PACK_DIR))

from checklist import catalog  # noqa: E402

__all__ = ["PACK_DIR", "catalog"]
