"""The publisher's bench (``make bench``, Consent events) run once here so it cannot rot
unseen: every batch of real-shaped stream records published with no failure, at a CPU cost
per event far from what was measured (70 µs, 5 December)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.perf


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The bench sets the publisher's queues and bus and holds the demo tenant: undone after."""
    for name in ("EVENT_BUS_NAME", "WEBHOOK_QUEUE_URL", "LIST_SYNC_QUEUE_URL"):
        monkeypatch.setenv(name, "")
    yield
    monkeypatch.undo()
    from smsconsent import environment, tenants

    tenants.clear_cache()
    environment.reload()


@pytest.mark.usefixtures("restored")
def test_the_publisher_publishes_every_batch_of_the_bench(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.events_out import RECORDS, publisher

    figures = publisher()  # asserts every batch answered without failures
    with capsys.disabled():
        print(f"\nthe publisher over {RECORDS} stream records: {figures}")
    assert figures["events"] == RECORDS
    assert figures["cpu_us_per_event"] <= 700
