"""The README stays short, and every relative link of the documents reaches its target.

A link is checked when it is relative (no scheme): the file it names must exist in the
repository, and an anchor (``file.md#heading`` or ``#heading``) must be the GitHub anchor of
a heading of that file. Links inside fenced code blocks and inline code are not links.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
README_MAX_LINES = 250

#: The documents a reader follows from the README.
DOCUMENTS = sorted({README, REPO / "model" / "README.md", REPO / "distill" / "README.md",
                    *(REPO / "docs").glob("*.md")})

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def strip_code(text: str) -> str:
    """The text without fenced code blocks and inline code spans."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: markup removed, lower case, letters, digits, ``-``, ``_``
    and spaces kept (other punctuation and symbols dropped), spaces turned into ``-``."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # [text](url) -> text
    text = text.replace("`", "").replace("*", "")
    kept = [c for c in text.lower()
            if c in " -_" or unicodedata.category(c)[0] in "LMN"]
    return "".join(kept).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor of ``path``'s headings, repeated headings numbered ``-1``, ``-2``, ..."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def relative_links(path: Path) -> list[str]:
    """The relative link targets of a markdown file (web and mail links left out)."""
    targets = LINK.findall(strip_code(path.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.IGNORECASE)]


def broken_links(path: Path) -> list[str]:
    """Links of ``path`` whose file is missing or whose anchor is no heading there."""
    bad = []
    for target in relative_links(path):
        name, _, anchor = target.partition("#")
        goal = (path.parent / name).resolve() if name else path
        if not goal.exists():
            bad.append(f"{target}: no file {name}")
        elif anchor and goal.suffix == ".md" and anchor not in anchors(goal):
            bad.append(f"{target}: no heading #{anchor} in {goal.name}")
    return bad


def test_slug_follows_github() -> None:
    assert slug("§2.3 The tripartite synapse (spiking route)") == \
        "23-the-tripartite-synapse-spiking-route"
    assert slug("Side by side: presets × drivers and the public RMT (`bench_peers`)") == \
        "side-by-side-presets--drivers-and-the-public-rmt-bench_peers"
    assert slug("Compile once, run many (C++ standalone)") == \
        "compile-once-run-many-c-standalone"
    assert slug("The neuron–astrocyte models") == "the-neuronastrocyte-models"


def test_helpers_find_broken_links(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Title\n\n## A section, here\n\n## A section, here\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Doc\n\n## Local part\n\n"
        "[ok](other.md) [ok](other.md#a-section-here) [ok](other.md#a-section-here-1) "
        "[ok](#local-part) [web](https://example.org/x.md) [mail](mailto:a@b.c)\n"
        "[bad](missing.md) [bad](other.md#nowhere) [bad](#nowhere)\n"
        "`[not a link](missing.md)`\n\n```\n[not a link](missing.md)\n```\n")
    bad = broken_links(doc)
    assert [b.split(":")[0] for b in bad] == ["missing.md", "other.md#nowhere", "#nowhere"]


def test_readme_fits_on_a_few_screens() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move the detail into "
        "the docs/ file that owns its topic and link it")


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(path: Path) -> None:
    bad = broken_links(path)
    assert not bad, f"{path.relative_to(REPO)}: broken links:\n" + "\n".join(bad)
