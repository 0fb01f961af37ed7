"""Headless Chromium (Debian's, driven by Playwright) against a local stack on a free port
(``stack`` and ``fresh`` from ``tests/fixtures/stack.py``)."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import Error, sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(executable):
        pytest.fail(
            f"Chromium not found (looked for 'chromium' on PATH and {executable}): "
            "install it (Debian: apt-get install chromium) to run the browser tests",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=executable, args=CHROMIUM_ARGS, headless=True
            )
        except Error as exc:
            pytest.fail(f"Chromium at {executable} does not start: {exc}", pytrace=False)
        yield launched
        launched.close()


@pytest.fixture(autouse=True)
def fresh(fresh: None) -> None:
    """Every browser test starts from an empty table and outbox, the real time and the
    seeded tenants (the shared ``fresh``, for every test of this folder)."""


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-US")
    yield context.new_page()
    context.close()


@pytest.fixture
def german_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="de-DE")
    yield context.new_page()
    context.close()


# ---- screenshots and the accessibility basics of a page -------------------------------------

ARTEFACTS = Path(__file__).resolve().parent / "artefacts"
SIZES = [(1280, 800), (390, 844)]

# For every element with text of its own: its colour, and the first opaque background of it
# or an ancestor (the pages draw no text over images). Returns the failures.
_CONTRAST = """
() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.99)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const failures = [];
  let checked = 0;
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    const shown = style.visibility !== 'hidden' && style.display !== 'none' && el.getClientRects().length;
    if (!own || !shown) continue;
    const fg = rgb(style.color).slice(0, 3), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    checked += 1;
    const what = `${el.tagName.toLowerCase()}#${el.id} "${el.textContent.trim().slice(0, 40)}"`;
    if (ratio < 4.5) failures.push(`${what} ${ratio.toFixed(2)}:1`);
  }
  return {checked, failures};
}
"""

# Every control a person can reach has a label: its <label>, or aria-label(ledby); hidden
# inputs and the honeypot (aria-hidden, out of the tab order) are not for people.
_UNLABELLED = """
() => [...document.querySelectorAll('input, textarea, select')]
  .filter((el) => el.type !== 'hidden' && !el.closest('[aria-hidden=true]'))
  .filter((el) => !(el.labels && el.labels.length))
  .filter((el) => !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map((el) => el.name || el.id)
"""

_HEADINGS = "() => [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map((h) => Number(h.tagName[1]))"


class Audit:
    """``audit(page, name, lang, tab_order)``: screenshots of the page at each size into
    ``folder``, then the checks; ``tab_order``: the ids Tab reaches, in order (links and
    controls of the page's <main>)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(
        self,
        page: Any,
        name: str,
        lang: str,
        tab_order: list[str],
        sizes: list[tuple[int, int]] | None = None,
    ) -> None:
        assert page.locator("html").get_attribute("lang") == lang
        levels = page.evaluate(_HEADINGS)
        assert levels.count(1) == 1 and levels[0] == 1, f"{name}: headings {levels}"
        assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), f"{name}: a level skipped {levels}"
        assert page.evaluate(_UNLABELLED) == [], f"{name}: controls without a label"
        for width, height in sizes or SIZES:
            page.set_viewport_size({"width": width, "height": height})
            path = self.folder / f"{name}-{width}x{height}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 1000
            contrast = page.evaluate(_CONTRAST)
            assert contrast["checked"] > 0 and contrast["failures"] == [], f"{name} at {width}: {contrast}"
            # Nothing wider than the screen: no sideways scrolling on a phone
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} at {width}: {overflow}px wider than the screen"
        # Tab from the top of the page reaches the controls in reading order
        page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
        page.evaluate(
            "() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }"
        )
        page.focus("body")
        reached = []
        for _ in range(len(tab_order) + 1):
            page.keyboard.press("Tab")
            focused = page.evaluate("() => document.activeElement && document.activeElement.id")
            if not focused or focused in reached:
                break
            reached.append(focused)
        assert reached == tab_order, f"{name}: Tab reached {reached}"


@pytest.fixture(scope="session")
def audit() -> Audit:
    ARTEFACTS.mkdir(exist_ok=True)
    return Audit(ARTEFACTS)
