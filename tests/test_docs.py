"""Every reference in the repository resolves inside it.

Docstrings, comments, READMEs and the config cite the design document as
``docs/design.md §N``; each such section must exist as a heading there. No tracked text file
may cite documents that are not part of the repository (an outside "spec").
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DESIGN = REPO / "docs" / "design.md"
THIS = Path(__file__).resolve()

TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".smk", ".toml", ".txt", ".cfg", ".ini", ".sh"}
TEXT_NAMES = {"Snakefile"}
SKIP_DIRS = {".git", ".venv", "results", "data", "logs", ".snakemake", ".brian_cache",
             "__pycache__", ".pytest_cache", ".ruff_cache", "build", "dist"}

#: Citations of documents outside the repository (case-insensitive).
FORBIDDEN = re.compile(
    r"spec\s*§|spec section|brian2 spec|rmaat spec|shared/spec|/work/shared", re.IGNORECASE)
#: "docs/design.md §4", "docs/design.md §6, §7", "docs/design.md §2.3; ..."
CITATION = re.compile(r"docs/design\.md`?\)?((?:\s*(?:,|and)?\s*§\d+(?:\.\d+)*)+)")
SECTION = re.compile(r"§(\d+(?:\.\d+)*)")
HEADING = re.compile(r"^#{2,4} §(\d+(?:\.\d+)*) ", re.MULTILINE)


def text_files() -> list[Path]:
    """Tracked text files (``git ls-files``), or a walk of the tree without git."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                             check=True).stdout.decode()
        paths = [REPO / p for p in out.split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in REPO.rglob("*")
                 if not SKIP_DIRS.intersection(p.relative_to(REPO).parts)]
    return sorted(p for p in paths if p.is_file()
                  and (p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES))


def cited_sections(text: str) -> list[str]:
    """Section numbers cited as ``docs/design.md §N`` (lists of sections included)."""
    return [s for m in CITATION.finditer(text) for s in SECTION.findall(m.group(1))]


def design_headings() -> list[str]:
    return HEADING.findall(DESIGN.read_text(encoding="utf-8"))


def test_helpers_find_what_they_should() -> None:
    text = ("see docs/design.md §4.1; (docs/design.md §6, §7) and `docs/design.md` §5 "
            "but not §9 alone, nor docs/design.md without a section")
    assert cited_sections(text) == ["4.1", "6", "7", "5"]
    assert FORBIDDEN.search("as in the (spec §4)") and FORBIDDEN.search("RMAAT Spec section 2")
    assert FORBIDDEN.search("see ../shared/spec/lra.md")
    assert not FORBIDDEN.search("the run's spec.json, --spec path, TaskSpec")
    assert HEADING.findall("## §2 Models\n### §2.1 Rate\ntext §3\n") == ["2", "2.1"]


def test_design_headings_are_numbered_and_unique() -> None:
    headings = design_headings()
    assert len(headings) == len(set(headings)), f"duplicate section numbers: {headings}"
    top = [h for h in headings if "." not in h]
    assert top == [str(i) for i in range(1, len(top) + 1)], f"top sections: {top}"
    for sub in (h for h in headings if "." in h):
        assert sub.rsplit(".", 1)[0] in headings, f"§{sub} has no parent section"


def test_no_file_cites_documents_outside_the_repository() -> None:
    files = text_files()
    assert DESIGN in files or not (REPO / ".git").exists(), "docs/design.md is not tracked"
    bad = []
    for path in files:
        if path == THIS:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if FORBIDDEN.search(line):
                bad.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not bad, ("cite docs/design.md §N (or another file of the repository) instead:\n"
                     + "\n".join(bad))


def test_every_design_citation_resolves() -> None:
    headings = set(design_headings())
    cited: dict[str, list[str]] = {}
    for path in text_files():
        if path == THIS:
            continue
        for section in cited_sections(path.read_text(encoding="utf-8")):
            cited.setdefault(section, []).append(str(path.relative_to(REPO)))
    assert len(cited) >= 5, "expected the code to cite docs/design.md sections"
    missing = {s: files for s, files in cited.items() if s not in headings}
    assert not missing, f"cited sections missing from docs/design.md: {missing}"


def test_design_internal_references_and_links_resolve() -> None:
    text = DESIGN.read_text(encoding="utf-8")
    headings = set(design_headings())
    body = HEADING.sub("", text)
    missing = sorted(set(SECTION.findall(body)) - headings)
    assert not missing, f"docs/design.md refers to sections it lacks: {missing}"
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" in target:
            continue
        assert (DESIGN.parent / target).exists(), f"docs/design.md links to missing {target}"
