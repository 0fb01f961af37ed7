"""A local stack on a free port for this folder's tests, wiped before each test."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from local.stack import LocalStack, start


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # Module scope: the stack sets process-wide environment, and puts it back on stop,
    # so tests in other folders of the same session never see it.
    running = start(port=0)
    yield running
    running.stop()


@pytest.fixture
def fresh(stack: LocalStack) -> None:
    """Given an empty table, an empty outbox, the real time and the seeded tenants."""
    request = urllib.request.Request(
        stack.url + "/_local/reset", data=b"", method="POST", headers={"X-Requested-With": "tests"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.load(answer) == {"status": "reset"}
