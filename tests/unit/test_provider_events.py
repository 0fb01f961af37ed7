"""Every webhook provider has its signed sample events in events/ (each provider's own
test file re-verifies them with the demo tenant's secrets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsconsent.providers import NAMES

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.mark.parametrize("provider", NAMES)
def test_each_provider_has_its_sample_events(provider: str) -> None:
    kinds = {p.stem.removeprefix(f"inbound-{provider}-") for p in EVENTS.glob(f"inbound-{provider}-*.json")}
    assert kinds >= {"stop", "start", "help", "yes", "forged"}
