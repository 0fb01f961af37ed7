"""Insights: what the consent events add up to, per tenant and UTC day, each event counted
once (hand-counted journeys, duplicated stream deliveries, retried batches), the sends
the pre-send check records per campaign, and the route that reads a range with one Query."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.journeys import PHONE, inbound, sign_up, stop, subject, twilio_event


def _evidence(kind: str, phone: str = PHONE) -> list[Any]:
    from smsconsent import store

    return [e for e in store.evidence_of(subject(phone).pk) if e.type == kind]


@pytest.mark.usefixtures("aws")
def test_an_optout_names_the_numbers_country_and_a_confirmation_when_its_link_was_issued(
    context: Any, outbox: Any, clock: Any
) -> None:
    # Given a number that signs up, and confirms 7 minutes later
    sign_up(context, outbox, confirm=False)
    issued = clock.now
    clock.advance(minutes=7)
    token = outbox.messages()[-1]["body"].split("/c/")[1].split()[0]
    from smsconsent import confirmation

    assert confirmation.confirm(token, "198.51.100.1", "ua").status == "confirmed"
    # When it texts STOP
    inbound(context, twilio_event("STOP", sid="SM-country"))
    # Then the confirmation says when its link was issued, the opt-out the number's country
    (confirmed,) = _evidence("optin_confirmed")
    assert confirmed.data["issued_at"] == issued.strftime("%Y-%m-%dT%H:%M:%SZ")
    (optout,) = _evidence("optout")
    assert optout.data["country"] == "DE"
    # And so do an opt-out by link and one of a number never signed up (a bare STOP)
    austrian = "+436641234567"
    sign_up(context, outbox, phone=austrian, confirm=True)
    from smsconsent import optout

    assert optout.by_link(subject(austrian).optout_code, None, "198.51.100.2", "ua").status == "opted_out"
    (by_link,) = _evidence("optout", austrian)
    assert by_link.data["country"] == "AT"
    stop("+33612345678")
    (bare,) = _evidence("optout", "+33612345678")
    assert bare.data["country"] == "FR"
