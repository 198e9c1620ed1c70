"""Render an e2e report in headless Chromium (Debian's `chromium`) and say what a reader would meet.

A copy of report.html gets a small script that runs after the page (and its images) loaded and
writes its findings into ``<body data-render-check="...">``; ``chromium --dump-dom`` prints the DOM
after that, so no browser driver or extra Python package is needed. Findings: every image with
whether it loaded (``naturalWidth > 0``) and its rendered width against its container, the page's
width against the window, and every table cell or heading whose content is wider than its box.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

WINDOW = (1280, 900)

_PROBE = """
<script>
window.addEventListener("load", () => {
  const cut = (el) => el.scrollWidth > el.clientWidth + 1;
  const found = {
    images: [...document.images].map((img) => ({
      src: img.getAttribute("src"),
      loaded: img.complete && img.naturalWidth > 0,
      width: img.getBoundingClientRect().width,
      container: img.parentElement.getBoundingClientRect().width,
    })),
    page_width: document.documentElement.scrollWidth,
    window_width: window.innerWidth,
    cut_off: [...document.querySelectorAll("td, th, h1, h2, h3, p, code")]
      .filter(cut)
      .map((el) => el.tagName + ": " + el.textContent.slice(0, 60)),
  };
  document.body.setAttribute("data-render-check", JSON.stringify(found));
});
</script>
"""


def chromium() -> str | None:
    """The Chromium binary on PATH (`.ci/run` installs Debian's `chromium` when it is missing)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render_check(report: Path) -> dict[str, Any]:
    """Load ``report`` (beside its PNGs) in headless Chromium; returns the probe's findings."""
    binary = chromium()
    assert binary, "chromium is not installed (.ci/run installs it from Debian packages)"
    probe = report.with_name(".render_check.html")
    probe.write_text(report.read_text().replace("</body>", _PROBE + "</body>"))
    try:
        done = subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                probe.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        probe.unlink(missing_ok=True)
    marker = 'data-render-check="'
    start = done.stdout.find(marker)
    assert start >= 0, f"the probe did not run in Chromium: {done.stderr[-2000:]}"
    end = done.stdout.index('"', start + len(marker))
    return json.loads(html.unescape(done.stdout[start + len(marker) : end]))


def problems(found: dict[str, Any]) -> list[str]:
    """What a reader would stumble on: images not loaded or wider than the page, clipped text."""
    out = [f"image {i['src']} did not load" for i in found["images"] if not i["loaded"]]
    out += [
        f"image {i['src']} is {i['width']:.0f}px wide in a {i['container']:.0f}px box"
        for i in found["images"]
        if i["width"] > i["container"] + 1
    ]
    if found["page_width"] > found["window_width"]:
        out.append(f"the page is {found['page_width']}px wide in a {found['window_width']}px window")
    out += [f"clipped: {text}" for text in found["cut_off"]]
    return out
