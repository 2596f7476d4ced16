"""The credential secrets' and the rollout flag's names have one home, the catalog: the components that
create them and the commands that find them take them from there, never spell them out again."""

from __future__ import annotations

import re
from pathlib import Path

from checklist import catalog
from golive.operations import fingerprints
from golive.operations.audit.target import AuditTarget

ROOT = Path(__file__).resolve().parent.parent
# An f-string that builds such a name (prose that explains the shape, `customerio/<environment>/...`, may stay).
SPELLED_OUT = re.compile(r"""f["'][^"']*customerio/\{""")


def test_the_catalog_spells_the_names():
    assert catalog.CREDENTIAL_SECRET_NAME.format(environment="production", kind="app-api-key") == (
        "customerio/production/app-api-key")
    assert catalog.ROLLOUT_PARAMETER_NAME.format(environment="production") == "/customerio/production/rollout"
    assert fingerprints.secret_name("staging", "site-id") == "customerio/staging/site-id"
    assert AuditTarget.secret_name(None, "staging", "site-id") == "customerio/staging/site-id"  # type: ignore[arg-type]


def test_no_module_spells_a_name_out_again():
    sources = [*(ROOT / "golive").rglob("*.py"), *(ROOT / "components").rglob("*.py"), ROOT / "__main__.py"]
    found = [f"{path.relative_to(ROOT)}:{number}" for path in sources
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if SPELLED_OUT.search(line)]
    assert found == []
