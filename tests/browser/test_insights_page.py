"""The insights page in headless Chromium, at a desktop size and a phone's (390x844): on the
local stack over the demo tenant's route, and hosted as a static file over a saved JSON.
Each run keeps its screenshots under ``tests/browser/artefacts/insights/``, beside the other
pages' (``TEST_ARTEFACTS`` moves them), and checks the content against the JSON and the
accessibility basics: headings, a table and a text alternative for each chart, labels,
colour contrast and keyboard order."""

from __future__ import annotations

import functools
import http.server
import itertools
import json
import os
import shutil
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from tests.fixtures.journeys import JSON_ACCEPT, PHONE, call, link_in, outbox, signup

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("TEST_ARTEFACTS") or ROOT / "tests" / "browser" / "artefacts") / "insights"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
NUMBERS = [PHONE, "+4915112345679", "+436641234567"]


def _today(stack: LocalStack) -> date:
    return date.fromisoformat(call(stack, "GET", "/_local/clock").json()["now"][:10])


def _journeys(stack: LocalStack) -> dict[str, Any]:
    """Three signups, two confirmed; a campaign sent to both, one of whom opts out by link."""
    for number in NUMBERS:
        assert signup(stack, phone=number).status == 202
    messages = outbox(stack)
    for message in messages[:2]:
        assert call(stack, "POST", link_in(stack, message), headers=JSON_ACCEPT).status == 200
    check = {
        "recipients": NUMBERS[:2],
        "campaign": "winter-sale",
        "record": True,
        "category": "marketing",
        "send_at": f"{_today(stack).isoformat()}T10:00:00Z",  # never in Berlin's quiet hours
    }
    answer = call(stack, "POST", "/v1/demo/check", json_body=check)
    assert [r["reason"] for r in answer.json()["results"]] == ["ok", "ok"]
    export = call(stack, "GET", "/v1/demo/subjects/%2B4915112345678", headers=JSON_ACCEPT).json()
    code = export["subject"]["optout_url"].rsplit("/o/", 1)[1]
    assert call(stack, "POST", f"/o/{code}", form={}, headers=JSON_ACCEPT).status == 200
    assert stack.settle(timeout=10)
    today = _today(stack)
    found = call(stack, "GET", f"/v1/demo/insights?from={today - timedelta(days=29)}&to={today}")
    assert found.status == 200
    data: dict[str, Any] = found.json()
    assert data["signups"]["accepted"] == 3 and data["optouts"]["total"] == 1
    return data


@pytest.fixture
def sized(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page at the size the test's ``size`` parameter names."""
    context = browser.new_context(locale="en-US", viewport=SIZES[request.param])
    page = context.new_page()
    page.size_name = request.param
    yield page
    context.close()


def _shoot(page: Any, name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}-{page.size_name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000
    return path


def _loaded(page: Any, expected: str | None = None) -> str:
    """The range the page shows once loaded (``error`` when it could not), waiting for it
    (for ``expected`` when given) with selectors: the page's policy forbids eval."""
    if expected is None:
        page.locator("body[data-loaded]").wait_for(state="attached", timeout=10_000)
    else:
        page.locator(f'body[data-loaded="{expected}"]').wait_for(state="attached", timeout=10_000)
    return str(page.locator("body").get_attribute("data-loaded"))


# ---- what the page shows ----------------------------------------------------------------------


@pytest.mark.parametrize("sized", list(SIZES), indirect=True)
def test_the_local_insights_page_shows_the_demo_tenants_numbers(stack: LocalStack, sized: Any) -> None:
    page = sized
    data = _journeys(stack)
    complaints: list[str] = []
    page.on("console", lambda message: complaints.append(message.text) if message.type == "error" else None)
    # When the page is opened on the local stack
    page.goto(stack.url + "/_local/insights")
    assert _loaded(page) == f"{data['from']}/{data['to']}"
    _shoot(page, "local")
    assert complaints == []  # no error, no refusal by the page's own policy
    # Then the headings say what is where
    assert page.locator("h1").inner_text() == "SMS consent insights"
    assert page.locator("h2").all_inner_texts() == [
        "Summary",
        "Confirmation funnel",
        "Daily signups and opt-outs",
        "Top campaigns by opt-out rate",
        "Opt-outs by way, keyword, reason and country",
    ]
    # And the numbers are the JSON's
    cards = dict(
        zip(
            page.locator("#cards .name").all_inner_texts(),
            page.locator("#cards .value").all_inner_texts(),
            strict=True,
        )
    )
    assert cards["Signups accepted"] == "3" and cards["Confirmed"] == "2" and cards["Opt-outs"] == "1"
    assert cards["Confirm rate"] == "66.7%"
    assert page.locator("#funnel-caption").inner_text() == (
        "3 signups accepted, 3 confirmation SMS sent, 2 confirmed (66.7% of the SMS sent)."
    )
    funnel = _table(page, "funnel-table")
    assert funnel == [
        ["Signups accepted", "3", "100%"],
        ["Confirmation SMS sent", "3", "100%"],
        ["Confirmed", "2", "66.7%"],
    ]
    daily = _table(page, "daily-table")
    assert len(daily) == 30 and daily[-1] == [data["to"], "3", "2", "1"]
    assert _table(page, "campaigns-table") == [["winter-sale", "2", "1", "50%"]]
    assert (
        "Highest opt-out rate: winter-sale, 50% (1 opt-out of 2 sends)"
        in page.locator("#campaigns-caption").inner_text()
    )
    assert _table(page, "optouts-via") == [["link", "1"]]
    assert _table(page, "optouts-keyword") == [["None in this range"]]
    assert _table(page, "optouts-country") == [["DE", "1"]]
    # And no request went anywhere but this stack
    origins = "[...new Set(performance.getEntriesByType('resource').map(e => new URL(e.name).origin))]"
    assert page.evaluate(origins) == [stack.url]


def _table(page: Any, table_id: str) -> list[list[str]]:
    rows = page.locator(f"#{table_id} tbody tr")
    # text_content: a table in a closed <details> is not rendered, its text is there
    return [
        [t.strip() for t in rows.nth(i).locator("th, td").all_text_contents()] for i in range(rows.count())
    ]


@pytest.mark.parametrize("sized", ["phone"], indirect=True)
def test_a_range_is_chosen_with_the_labelled_day_fields(stack: LocalStack, sized: Any) -> None:
    page = sized
    _journeys(stack)
    page.goto(stack.url + "/_local/insights")
    _loaded(page)
    today = _today(stack)
    # When the range is set to today alone, Enter in the field sending it
    day = today.isoformat()
    page.get_by_label("From (UTC day)").fill(day)
    page.get_by_label("To (UTC day)").fill(day)
    page.get_by_label("To (UTC day)").press("Enter")
    _loaded(page, f"{day}/{day}")
    # Then the page shows that day alone
    assert _table(page, "daily-table") == [[day, "3", "2", "1"]]
    assert _table(page, "campaigns-table") == [["winter-sale", "2", "1", "50%"]]
    assert page.locator("#status").inner_text() == f"Showing {day} to {day} (UTC)."
    # And a range it cannot take says why, in the status region
    page.get_by_label("From (UTC day)").fill((today - timedelta(days=500)).isoformat())
    page.get_by_role("button", name="Show").click()
    _loaded(page, "error")
    assert page.locator("#status").inner_text() == "Not shown: a range is at most 400 days"
    _shoot(page, "range-refused")


# ---- hosted as a static page over a saved JSON ---------------------------------------------------


@pytest.fixture
def static_site(tmp_path: Path) -> Iterator[str]:
    """``web/insights.html`` as ``index.html`` beside an ``insights.json``, served from
    loopback by a plain static file server (as a tenant would host it)."""
    shutil.copy(ROOT / "web" / "insights.html", tmp_path / "index.html")
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


SAVED = {
    "from": "2026-11-01",
    "to": "2026-11-07",
    "signups": {
        "accepted": 120,
        "sms_sent": 112,
        "confirmed": 81,
        "confirm_rate": 0.7232,
        "median_minutes_to_confirm": 4,
    },
    "optouts": {
        "total": 9,
        "by_via": {"sms_keyword": 6, "link": 3},
        "by_keyword": {"STOP": 5, "ABMELDEN": 1},
        "by_reason": {"keyword": 6, "no_reason": 2, "reason_given": 1},
        "by_country": {"DE": 7, "AT": 2},
        "by_campaign": [
            {
                "campaign": "black-friday-early-birds-2026-with-a-rather-long-campaign-name",
                "sends": 200,
                "optouts": 7,
                "rate": 0.035,
            },
            {"campaign": "winter-sale", "sends": 1500, "optouts": 2, "rate": 0.0013},
            {"campaign": None, "sends": 40, "optouts": 0, "rate": 0.0},
        ],
    },
    "lapsed": 2,
    "expired": 31,
    "erased": 1,
    "daily": [
        {"date": f"2026-11-0{d}", "signups": s, "confirmed": c, "optouts": o}
        for d, s, c, o in [
            (1, 30, 20, 1),
            (2, 12, 9, 0),
            (3, 25, 17, 3),
            (4, 8, 6, 0),
            (5, 19, 13, 2),
            (6, 16, 10, 1),
            (7, 10, 6, 2),
        ]
    ],
}


@pytest.mark.parametrize("sized", list(SIZES), indirect=True)
def test_the_page_hosted_as_a_static_file_shows_a_saved_answer(
    static_site: str, sized: Any, tmp_path: Path
) -> None:
    page = sized
    (tmp_path / "insights.json").write_text(json.dumps(SAVED))
    page.goto(static_site + "/index.html")
    # The static server ignores ?from=&to=: the page shows the range the file holds
    assert _loaded(page) == "2026-11-01/2026-11-07"
    _shoot(page, "static")
    assert page.get_by_label("From (UTC day)").input_value() == "2026-11-01"
    assert _table(page, "campaigns-table")[0] == [
        "black-friday-early-birds-2026-with-a-rather-long-campaign-name",
        "200",
        "7",
        "3.5%",
    ]
    assert _table(page, "campaigns-table")[2] == ["Other campaigns", "40", "0", "0%"]
    assert page.locator("#cards .value").first.inner_text() == "120"
    # Nothing spills sideways on a phone: the page is as wide as the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[page.size_name]["width"]


def test_a_source_that_fails_says_so(static_site: str, page: Any) -> None:
    page.goto(static_site + "/index.html")  # no insights.json beside it: 404
    assert _loaded(page) == "error"
    assert page.locator("#status").inner_text() == "Not shown: the insights could not be read (404)"
    assert page.locator("#status").get_attribute("role") == "status"


# ---- accessibility basics ------------------------------------------------------------------------


@pytest.mark.parametrize("sized", list(SIZES), indirect=True)
def test_every_chart_has_a_text_alternative_and_a_table(static_site: str, sized: Any, tmp_path: Path) -> None:
    page = sized
    (tmp_path / "insights.json").write_text(json.dumps(SAVED))
    page.goto(static_site + "/index.html")
    _loaded(page)
    for figure in ("funnel", "daily", "campaigns"):
        chart = page.locator(f"#{figure} svg[role=img]")
        assert chart.count() == 1
        label = str(chart.get_attribute("aria-label"))
        caption = page.locator(f"#{figure} figcaption").inner_text()
        assert caption and caption in label  # the summary, read out for the picture
        assert chart.locator("title").text_content() == label
        table = page.locator(f"#{figure} table")
        assert str(table.locator("caption").text_content()).strip()
        assert table.locator("thead th[scope=col]").count() >= 3
        assert table.locator("tbody th[scope=row]").count() >= 1
    assert "most signups on 2026-11-01 (30)" in page.locator("#daily-caption").inner_text()
    # Decorative parts are hidden from screen readers; nothing else hides text
    assert page.locator(".legend").get_attribute("aria-hidden") == "true"


@pytest.mark.parametrize("sized", list(SIZES), indirect=True)
def test_fields_are_labelled_and_colours_keep_their_contrast(
    static_site: str, sized: Any, tmp_path: Path
) -> None:
    page = sized
    (tmp_path / "insights.json").write_text(json.dumps(SAVED))
    page.goto(static_site + "/index.html")
    _loaded(page)
    # Every field has a label naming it
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input, select, textarea')]"
        ".filter(e => !e.labels.length || !e.labels[0].innerText.trim()).map(e => e.id)"
    )
    assert unlabelled == []
    assert page.evaluate("document.documentElement.lang") == "en"
    # Every visible text, and every mark of a chart, is at least 4.5:1 against what is behind it
    low = page.evaluate(CONTRAST)
    assert low == [], low


@pytest.mark.parametrize("sized", list(SIZES), indirect=True)
def test_the_keyboard_goes_through_the_page_in_reading_order(
    static_site: str, sized: Any, tmp_path: Path
) -> None:
    page = sized
    (tmp_path / "insights.json").write_text(json.dumps(SAVED))
    page.goto(static_site + "/index.html")
    _loaded(page)
    seen: list[str] = []
    where: list[tuple[float, float]] = []
    for _ in range(16):
        page.keyboard.press("Tab")
        stop, top, left = page.evaluate(
            "(() => { const e = document.activeElement, f = e.closest('figure');"
            " const r = e.getBoundingClientRect();"
            " return [e.id || (f ? f.id + ':' + e.tagName : e.tagName), r.top + scrollY, r.left]; })()"
        )
        if not seen or seen[-1] != stop:  # a day field takes a Tab per part (month, day, year)
            seen.append(stop)
            where.append((top, left))
    assert seen[:6] == ["from", "to", "show", "funnel:SUMMARY", "daily:SUMMARY", "campaigns:SUMMARY"]
    # Each stop comes after the one before as the page reads: further down, or right of it
    # on the same line
    for (top, left), (next_top, next_left) in itertools.pairwise(where[:6]):
        assert next_top > top + 1 or (abs(next_top - top) <= 40 and next_left > left), where
    # And focus shows where it is
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    # A table opens from the keyboard
    page.locator("#funnel summary").focus()
    page.keyboard.press("Enter")
    assert page.locator("#funnel details").get_attribute("open") is not None
    assert page.locator("#funnel-table").is_visible()
    _shoot(page, "keyboard")


# Text and chart marks below 4.5:1 against their background, as "what: colour on colour (ratio)".
CONTRAST = """
(() => {
  const parse = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const hex = h => ({r: parseInt(h.slice(1, 3), 16), g: parseInt(h.slice(3, 5), 16),
    b: parseInt(h.slice(5, 7), 16), a: 1});
  const lum = c => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const ratio = (a, b) => {
    const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const background = e => { for (let n = e; n; n = n.parentElement) {
      if (n instanceof SVGElement) continue;
      const c = parse(getComputedStyle(n).backgroundColor); if (c && c.a > 0) return c; }
    return {r: 255, g: 255, b: 255, a: 1}; };
  const low = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    const e = t.parentElement;
    if (!t.textContent.trim() || !e || e.closest('script,style,title')) continue;
    if (!e.getClientRects().length) continue;
    if (e.closest('details:not([open])') && !e.closest('summary')) continue;
    const colour = e instanceof SVGElement ? hex(e.getAttribute('fill')) : parse(getComputedStyle(e).color);
    const r = ratio(colour, background(e));
    if (r < 4.5) low.push(t.textContent.trim().slice(0, 30) + ': ' + r.toFixed(2));
  }
  for (const mark of document.querySelectorAll('svg polyline, svg circle, svg rect')) {
    const stroked = mark.getAttribute('stroke') && mark.tagName !== 'rect';
    const colour = stroked ? mark.getAttribute('stroke') : mark.getAttribute('fill');
    if (mark.tagName === 'rect' && mark.getAttribute('stroke')) continue;  // a bar's track, not a mark
    if (!colour || colour === 'none') continue;
    const r = ratio(hex(colour), background(mark.closest('svg')));
    if (r < 4.5) low.push(mark.tagName + ' ' + colour + ': ' + r.toFixed(2));
  }
  return low;
})()
"""
