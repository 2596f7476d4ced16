"""Shared test set-up: the pack's package is importable the way the pack itself imports it."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
for path in (str(POLICIES), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)
