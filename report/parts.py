"""The pieces every section of the report is made of: embedded images, tables in a scroll box,
verdict badges, number formats (accuracy in points everywhere).

Tables are wrapped in ``<div class="scroll">`` (``overflow-x: auto``), so a table wider than
the page scrolls inside its own box and never pushes the page sideways. Figures drawn here are
saved at :data:`DPI` (enough for a 1,200 px column; a figure 11 inches wide is 1,100 px).
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

#: Resolution of the figures the report draws itself (dots per inch).
DPI = 90
#: Verdict words and their colours (text and markers); a verdict is always shown with its
#: word, never by colour alone. Colours from the Okabe-Ito palette, darkened for white text.
VERDICT_COLOURS = {"reproduced": "#00734f", "contradicted": "#b34400",
                   "equivalent": "#005a8f", "inconclusive": "#5f5f5f"}
#: The verdicts in the order a summary lists them.
VERDICTS = tuple(VERDICT_COLOURS)


def esc(value: object) -> str:
    """HTML-escaped text of ``value``."""
    return html.escape(str(value))


def compact_png(data: bytes) -> bytes:
    """The PNG ``data`` as a 256-colour palette image when that is smaller (plots have few
    colours: about a third of the bytes, same pixels to the eye); else ``data`` unchanged.
    Transparent pixels are laid on white (the page's background)."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, SyntaxError):  # not a PNG Pillow can read: embed it as it is
        return data
    if image.mode in ("P", "L", "1"):
        return data
    rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    flat.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                  dither=Image.Dither.NONE).save(out, format="PNG", optimize=True)
    return out.getvalue() if out.tell() < len(data) else data


def _img_tag(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(compact_png(data)).decode()
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{encoded}">'


def img(path: Path, alt: str) -> str:
    """An ``<img>`` with the PNG file embedded (base64, as a palette image: compact_png)."""
    return _img_tag(Path(path).read_bytes(), alt)


def fig_img(fig, alt: str, dpi: int = DPI) -> str:
    """An ``<img>`` of a matplotlib figure (PNG, embedded); closes the figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return _img_tag(buf.getvalue(), alt)


def cell(value: object, floatfmt: str = "{:.3g}") -> str:
    """A table cell's text: floats formatted (NaN: empty), everything escaped."""
    if isinstance(value, float):
        return "" if value != value else floatfmt.format(value)
    return esc(value)


def scroll(inner: str) -> str:
    """``inner`` in a box that scrolls sideways when it is wider than the page."""
    return f'<div class="scroll">{inner}</div>'


def table(df: pd.DataFrame, floatfmt: str = "{:.3g}", row_class: list[str] | None = None,
          titles: list[str] | None = None) -> str:
    """``df`` as an HTML table in a scroll box. ``row_class``: a CSS class per row ("" for
    none); ``titles``: a tooltip per row ("" for none)."""
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    rows = []
    for i, row in enumerate(df.itertuples(index=False)):
        attrs = ""
        if row_class and row_class[i]:
            attrs += f' class="{esc(row_class[i])}"'
        if titles and titles[i]:
            attrs += f' title="{esc(titles[i])}"'
        rows.append(f"<tr{attrs}>" + "".join(f"<td>{cell(v, floatfmt)}</td>" for v in row)
                    + "</tr>")
    return scroll(f"<table><tr>{head}</tr>{''.join(rows)}</table>")


def badge(verdict: str) -> str:
    """The verdict as a coloured label that carries its word."""
    colour = VERDICT_COLOURS.get(verdict, VERDICT_COLOURS["inconclusive"])
    return f'<span class="verdict" style="background:{colour}">{esc(verdict)}</span>'


def is_number(value: object) -> bool:
    """True for a finite real number (not NaN, not inf, not text)."""
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def points(value: object, signed: bool = True) -> str:
    """Accuracy points with one decimal ("+1.2"; "—" when not a number)."""
    if not is_number(value):
        return "—"
    return f"{float(value):+.1f}" if signed else f"{float(value):.1f}"


def interval(low: object, high: object, fmt=points) -> str:
    """"[low, high]" ("" when either end is not a number)."""
    if not (is_number(low) and is_number(high)):
        return ""
    return f"[{fmt(low)}, {fmt(high)}]"


def ratio(value: object) -> str:
    """A ratio as "1.23×" ("—" when not a number)."""
    return f"{float(value):.2f}×" if is_number(value) else "—"


def p_text(value: object) -> str:
    """A p-value with two significant digits ("—" when not a number)."""
    return f"{float(value):.2g}" if is_number(value) else "—"


@dataclass(frozen=True)
class Section:
    """One section of the page: its anchor (``id``), its title and the function that builds
    its body from the report's inputs ("" when it has nothing to show: the section, and its
    entry in the table of contents, are then left out)."""

    anchor: str
    title: str
    body: Callable[[Any], str]

    def __call__(self, inputs: Any) -> str:
        """The section's HTML (``<section id=anchor>`` with its ``<h2>``), or ""."""
        body = self.body(inputs)
        if not body:
            return ""
        return f'<section id="{esc(self.anchor)}">\n<h2>{esc(self.title)}</h2>\n{body}\n</section>'


def plain_log_ticks(axis, suffix: str = "") -> None:
    """Ticks of a log axis written as plain numbers ("2", "1.5×"), not as powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}{suffix}"))
    axis.set_minor_formatter(NullFormatter())
