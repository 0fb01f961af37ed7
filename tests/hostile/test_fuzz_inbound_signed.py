"""Hostile events for the inbound function with every provider signature accepted (see
tests/hostile/support.py for what every answer must be)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from tests.hostile.support import (
    PROVIDERS,
    Watch,
    fuzz,
    inbound_events,
    reached,
    seeded,
)

pytestmark = pytest.mark.usefixtures("aws")


def test_inbound_webhooks_with_any_payload_signed(context, clock, outbox, monkeypatch):
    """Every signature accepted: what a provider (or anyone with a tenant's webhook
    secret: CM.com and Sinch put it in the URL) may send reaches the parsers and the
    keyword handling."""
    from functions.inbound.app import handler
    from smsconsent import providers

    for name in PROVIDERS:
        module = providers.get(name)
        assert module is not None
        monkeypatch.setattr(module, "verify", lambda hook, conf, now: True)
    seeded(context, outbox)

    watch = Watch()

    @fuzz(130)
    @given(inbound_events())
    def case(event: dict[str, Any]) -> None:
        clock.advance(seconds=61)
        watch.run("inbound (signature accepted)", handler, event, context, outbox)

    case()
    reached("inbound (signature accepted)", "200")
