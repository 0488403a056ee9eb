"""Check a report page in a real browser: headless Chromium renders it at a fixed window size
and the check fails on horizontal overflow or a broken image.

    python -m report.check results/report.html [--screenshot first-screen.png]

Fails (exit 1, naming each problem) when the page is wider than the window, when an element
that is not inside a scroll box (``overflow-x`` auto, scroll or hidden) reaches past the page's
column, or when an image does not decode (``naturalWidth`` 0). Closed ``<details>`` are opened
for the check, so what they hold is checked too. Exit 2 when the page or Chromium is missing.

How: a copy of the page with a small script added (run on the ``load`` event; it writes its
findings as JSON into a ``<pre id="report-check">``) is opened with ``--dump-dom``; the
screenshot is taken of the page itself. Chromium runs with a fresh profile and no network
(Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

#: Window size the page is checked (and the screenshot taken) at, CSS pixels.
WIDTH, HEIGHT = 1280, 900
#: Browser executables tried, in order (``--chromium`` or $CHROMIUM name another).
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Flags of every run: headless, no sandbox (root in a container), nothing fetched or synced.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio")
#: Seconds a browser run may take.
TIMEOUT_S = 120

#: The script added to the copy of the page (runs on load; findings into <pre id=...>).
SCRIPT = r"""<script>
window.addEventListener('load', () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const doc = document.documentElement, body = document.body;
  const width = doc.clientWidth, problems = [];
  if (doc.scrollWidth > width + 1)
    problems.push(`page: ${doc.scrollWidth} px wide in a ${width} px window`);
  const style = getComputedStyle(body);
  const box = body.getBoundingClientRect();
  const left = box.left + parseFloat(style.paddingLeft);
  const right = box.right - parseFloat(style.paddingRight);
  const scrolls = el => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(el).overflowX);
  const name = el => {
    let text = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '');
    if (el.classList.length) text += '.' + [...el.classList].join('.');
    const section = el.closest('section');
    if (section && section.id) text += ` in section #${section.id}`;
    const words = (el.alt || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 60);
    return words ? `${text} ("${words}")` : text;
  };
  const walk = el => {
    for (const child of el.children) {
      if (['SCRIPT', 'STYLE', 'HEAD'].includes(child.tagName)) continue;
      const r = child.getBoundingClientRect();
      if ((r.width > 0 || r.height > 0) && (r.right > right + 1 || r.left < left - 1)) {
        problems.push(`element ${name(child)}: spans ${Math.round(r.left)}-` +
                      `${Math.round(r.right)} px, the column ${Math.round(left)}-` +
                      `${Math.round(right)} px`);
        continue;  // its children would repeat it
      }
      if (!scrolls(child)) walk(child);
    }
  };
  walk(body);
  for (const image of document.images)
    if (!image.complete || image.naturalWidth === 0)
      problems.push(`broken image ${name(image)}`);
  const out = document.createElement('pre');
  out.id = 'report-check';
  out.textContent = JSON.stringify({width, scrollWidth: doc.scrollWidth,
                                    images: document.images.length, problems});
  body.appendChild(out);
});
</script>"""
RESULT = re.compile(r'<pre id="report-check">(.*?)</pre>', re.S)


class BrowserError(RuntimeError):
    """Chromium is missing or did not render the page (says which and what to do)."""


def find_browser(name: str | None = None) -> str | None:
    """Path of the browser to run: ``name``, $CHROMIUM, or the first of :data:`BROWSERS`."""
    for candidate in ([name] if name else [os.environ.get("CHROMIUM"), *BROWSERS]):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


def _run(browser: str, args: list[str], profile: Path) -> str:
    command = [browser, *FLAGS, f"--user-data-dir={profile}",
               f"--window-size={WIDTH},{HEIGHT}", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        raise BrowserError(f"{browser} did not finish in {TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise BrowserError(f"{browser} exited with {done.returncode}: "
                           f"{done.stderr.strip()[-1000:]}")
    return done.stdout


def check_page(page: str | Path, screenshot: str | Path | None = None,
               browser: str | None = None) -> dict:
    """Render ``page`` in headless Chromium; returns ``{"width", "scrollWidth", "images",
    "problems"}`` (problems: one sentence each, empty when the page passes). Writes the
    first screen to ``screenshot`` (PNG) when given. Raises FileNotFoundError for a missing
    page, BrowserError when no browser is found or it fails."""
    page = Path(page).resolve()
    if not page.is_file():
        raise FileNotFoundError(f"{page}: no such page; write it first (python -m report)")
    path = find_browser(browser)
    if path is None:
        raise BrowserError("no Chromium found (tried " + ", ".join(BROWSERS) + "); install it "
                           "(Debian: apt-get install chromium) or pass --chromium PATH")
    text = page.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="report-check-") as tmp:
        tmp = Path(tmp)
        at = text.lower().rfind("</body>")
        probe = tmp / page.name
        probe.write_text(text[:at] + SCRIPT + text[at:] if at >= 0 else text + SCRIPT,
                         encoding="utf-8")
        dom = _run(path, ["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
                   tmp / "profile")
        found = RESULT.search(dom)
        if found is None:
            raise BrowserError(f"{path} rendered {page} but the check script left no result "
                               "(did the page finish loading?)")
        result = json.loads(html.unescape(found.group(1)))
        if screenshot is not None:
            shot = Path(screenshot).resolve()
            shot.parent.mkdir(parents=True, exist_ok=True)
            _run(path, ["--virtual-time-budget=10000", f"--screenshot={shot}", page.as_uri()],
                 tmp / "profile-shot")
            if not shot.is_file():
                raise BrowserError(f"{path} wrote no screenshot {shot}")
    return result


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m report.check``."""
    p = argparse.ArgumentParser(prog="python -m report.check", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("page", help="the HTML page (results/report.html)")
    p.add_argument("--screenshot", default=None,
                   help=f"write the first screen ({WIDTH}x{HEIGHT}) to this PNG")
    p.add_argument("--chromium", default=None, help="the browser to run (default: chromium)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Check the page; 0 when it passes, 1 naming each problem, 2 for bad input."""
    args = build_parser().parse_args(argv)
    try:
        result = check_page(args.page, args.screenshot, args.chromium)
    except (FileNotFoundError, BrowserError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for problem in result["problems"]:
        print(f"FAIL {args.page}: {problem}", file=sys.stderr)
    if result["problems"]:
        return 1
    print(f"ok {args.page}: {result['images']} images, {result['scrollWidth']} px wide in a "
          f"{result['width']} px window, nothing overflows"
          + (f"; first screen: {args.screenshot}" if args.screenshot else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
