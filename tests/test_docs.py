"""The README is the user's page: its policy table is the catalog's, and its links lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

from checklist.catalog import POLICIES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _anchor(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def test_the_readme_lists_every_policy_at_its_catalog_level():
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| [^|]+ \| (mandatory|advisory) \|$", README, re.M)
    assert rows == [(p.name, p.level) for p in POLICIES]


def test_every_link_from_the_readme_and_docs_leads_to_a_file_and_heading():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name}: {target}"
            if anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), re.M)
                assert anchor in {_anchor(h) for h in headings}, f"{page.name}: {target}"
