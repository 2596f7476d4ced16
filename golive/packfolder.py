"""Where the default policy pack's folder is: beside golive in a checkout, inside golive once installed.

The wheel ships the pack's own files (PulumiPolicy.yaml, __main__.py, requirements.txt) as
golive/policypack/ and its rules as the top-level package `checklist`, which that __main__ imports.
"""

from pathlib import Path

_HERE = Path(__file__).resolve().parent
_BUNDLED = _HERE / "policypack"
PACK_DIR = _BUNDLED if (_BUNDLED / "PulumiPolicy.yaml").is_file() else _HERE.parent / "policies"

__all__ = ["PACK_DIR"]
