"""The helpers tests use to check generated pages and plots (tests/htmlpage.py, tests/drawn.py)."""

from __future__ import annotations

import base64

import pytest

from tests.drawn import assert_drawn
from tests.htmlpage import parse_page


def test_a_word_inside_an_image_payload_is_not_on_the_page():
    """The CI failure: "demo" inside a base64 PNG made `"demo" not in page` fail."""
    payload = base64.b64encode(b"\x89PNG" + bytes(range(256)) * 3).decode() + "demoXYZ"
    html = (f'<h2>Fits</h2><p>The <b>baseline</b> &amp; others</p><img src="data:image/png;'
            f'base64,{payload}" alt="fit of baseline"><table><tr><th>condition</th>'
            f'<th>RF(1, 4)</th></tr><tr><td>baseline</td><td> 0.4\n</td></tr></table>'
            f'<script>var demo = 1;</script>')
    assert "demo" in html  # a byte search would see it
    page = parse_page(html)
    assert not page.mentions("demo")
    assert page.text == "Fits The baseline & others condition RF(1, 4) baseline 0.4"
    assert page.images == ["data:image/png"] and "fit of baseline" in page.attributes
    assert page.rows == [["condition", "RF(1, 4)"], ["baseline", "0.4"]]
    assert "baseline" in page.cells and page.mentions("fit of baseline")


def test_a_blank_canvas_is_not_a_drawing(tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3), dpi=100)  # no pyplot: no global backend state
    FigureCanvasAgg(fig)
    fig.savefig(tmp_path / "blank.png")
    fig.add_subplot().plot([0, 1, 2], [0, 1, 0])
    fig.savefig(tmp_path / "line.png")
    with pytest.raises(AssertionError, match="differ from the background"):
        assert_drawn(tmp_path / "blank.png")
    assert assert_drawn(tmp_path / "line.png").shape[:2] == (300, 400)
