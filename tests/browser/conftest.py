"""Headless Chromium (Debian's, driven by Playwright) against a local stack on a free port
(``stack`` and ``fresh`` from ``tests/fixtures/stack.py``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
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
