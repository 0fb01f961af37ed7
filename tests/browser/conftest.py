"""Headless Chromium (Debian's, driven by Playwright) against a local stack on a free port."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from local.stack import LocalStack, start

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
def stack() -> Iterator[LocalStack]:
    running = start(port=0)
    yield running
    running.stop()


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
def fresh(stack: LocalStack) -> None:
    """Given an empty table and outbox, the real time and the seeded tenants."""
    request = urllib.request.Request(
        stack.url + "/_local/reset", data=b"", method="POST", headers={"X-Requested-With": "tests"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.load(answer) == {"status": "reset"}


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
