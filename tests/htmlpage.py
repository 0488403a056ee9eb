"""What tests may check on a generated HTML page: its text and structure, parsed.

A report page holds megabytes of base64 PNGs (``<img src="data:image/png;base64,...">``), in
which any short word turns up by chance now and then ("demo" did, and a CI run failed). So
tests never search the page's bytes: they parse it with the standard library's
``html.parser`` and look at the visible text, the table cells and the attributes, with the
payload of every ``data:`` URI cut to its media type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_SPACE = re.compile(r"\s+")
_HIDDEN = {"script", "style"}
_HEADINGS = {"h1", "h2", "h3", "h4"}


@dataclass
class Page:
    """A parsed page: visible text, tables, images and the other attribute values."""

    #: visible text nodes (whitespace collapsed), joined by single spaces
    text: str = ""
    #: every table: its rows, each the texts of its <th> / <td> cells
    tables: list[list[list[str]]] = field(default_factory=list)
    #: src of every <img>; a data: URI is cut to its media type, e.g. "data:image/png"
    images: list[str] = field(default_factory=list)
    #: values of every other attribute (href, alt, title, class, ...), data: URIs cut too
    attributes: list[str] = field(default_factory=list)
    #: every heading in page order: (tag, visible text), e.g. ("h2", "Summary")
    headings: list[tuple[str, str]] = field(default_factory=list)
    #: the id of every element, in page order
    ids: list[str] = field(default_factory=list)
    #: the href of every link, in page order
    links: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[list[str]]:
        """The rows of all tables, in page order."""
        return [row for table in self.tables for row in table]

    @property
    def cells(self) -> set[str]:
        """The text of every table cell."""
        return {cell for row in self.rows for cell in row}

    def mentions(self, word: str) -> bool:
        """True when ``word`` appears in the text or in an attribute (never in a payload)."""
        return word in self.text or any(word in value for value in self.attributes)


def _cut(value: str) -> str:
    """A data: URI without its payload ("data:image/png;base64,iVBOR..." -> "data:image/png")."""
    if value.lower().startswith("data:"):
        return value.split(",", 1)[0].split(";", 1)[0]
    return value


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.texts: list[str] = []
        self.hidden = 0
        self.cell: list[str] | None = None
        self.row: list[str] | None = None
        self.heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        if tag in _HEADINGS:
            self.heading = []
        for name, value in attrs:
            if value is None:
                continue
            if name == "id":
                self.page.ids.append(value)
            elif name == "href" and tag == "a":
                self.page.links.append(value)
            (self.page.images if tag == "img" and name == "src"
             else self.page.attributes).append(_cut(value))
        if tag == "table":
            self.page.tables.append([])
        elif tag == "tr" and self.page.tables:
            self.row = []
            self.page.tables[-1].append(self.row)
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in _HEADINGS and self.heading is not None:
            self.page.headings.append((tag, _SPACE.sub(" ", "".join(self.heading)).strip()))
            self.heading = None
        elif tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in ("td", "th") and self.cell is not None:
            if self.row is not None:
                self.row.append(_SPACE.sub(" ", "".join(self.cell)).strip())
            self.cell = None
        elif tag == "tr":
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if self.cell is not None:
            self.cell.append(data)
        if self.heading is not None:
            self.heading.append(data)
        text = _SPACE.sub(" ", data).strip()
        if text:
            self.texts.append(text)


def parse_page(html: str) -> Page:
    """Parse an HTML page (see :class:`Page`)."""
    parser = _Parser()
    parser.feed(html)
    parser.close()
    parser.page.text = " ".join(parser.texts)
    return parser.page
