"""The README's links into the documentation resolve, on GitHub as on disk (headings included)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def heading_anchors(page: Path) -> set[str]:
    """GitHub's (and MyST's) slugs of a Markdown page's headings."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    slugs = set()
    for title in re.findall(r"^#{1,6}\s+(.+)$", text, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


def test_readme_links_resolve() -> None:
    readme = REPO / "README.md"
    links = re.findall(r"\]\(([^)\s]+)\)", readme.read_text())
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert local, "the README links to the documentation pages"
    for link in local:
        path, _, anchor = link.partition("#")
        target = REPO / path
        assert target.is_file(), f"README links to missing {path}"
        if anchor:
            assert anchor in heading_anchors(target), f"README: no heading #{anchor} in {path}"


def test_every_page_is_linked_from_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    pages = sorted(p.name for p in (REPO / "docs").glob("*.md") if p.name != "index.md")
    unlinked = [name for name in pages if f"(docs/{name}" not in readme]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"
