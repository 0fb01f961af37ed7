"""The pre-send check (SPEC "Check request" / "Check answer", rules 3, 5 and 9): may this
message go to these numbers at ``send_at``?

Per recipient, in this order, the first rule that refuses gives the reason:

1. ``invalid_phone``: not a valid number in any common format (``phone.normalise`` with
   the tenant's default country). Any number type passes: the check answers for consent,
   not deliverability. A landline never has marketing consent (signup refuses it), so
   marketing to it is ``no_consent``; transactional SMS to landlines is a provider
   feature (read out by voice) the sender may use.
2. ``country_not_allowed``: the number's region is not in the tenant's allowed countries
   (marketing and transactional alike: it is the tenant's sending footprint).
3. Transactional sends stop here (``ok``, no footer): they need no marketing consent, and
   quiet hours and the frequency cap do not apply to an OTP or a receipt. Only where the
   tenant's ``stop_scope`` is ``all`` does an opted-out record of the purpose (or a
   pending re-signup over one) deny with ``opted_out``.
4. Marketing needs the record ``<channel>:<purpose>`` to be ``active``: none is
   ``no_consent``, else ``pending``, ``opted_out`` or ``lapsed``. Time-based changes the
   retention job has not made yet count as made at ``send_at``: an active marketing record
   whose lapse is due is ``lapsed``; a pending record whose token expired is what it was
   before (or ``no_consent``). Then ``unreachable``: a provider reported the number as not
   existing or taking no SMS (a delivery report), until it signs up again or texts in.
   Then, on SMS, ``provider_opted_out``: the tenant's AWS opt-out list still holds the
   number although it consented here since (AWS deletes a number at most once per 30
   days; ``retry_at`` is when the delete is allowed, null when someone must look).
5. ``frequency_cap``: a cap holds with this send added: the tenant's (at most N sends in
   any rolling window of D days) and those shipped for the recipient's country or US state
   (Florida: 3 in 24 hours; ``rules``). The recorded sends count on both sides of
   ``send_at``, as sending systems schedule ahead and check out of order.
6. ``quiet_hours``: a rule about the moment refuses in the recipient's local time (every
   zone the number may be in: the strictest wins): the tenant's quiet hours, or a shipped
   rule of its country or US state (France: 08:00 to 20:00, never Sundays or public
   holidays; the US: 08:00 to 21:00; Florida: 08:00 to 20:00).

   Both name the ``rule`` that refused (``FR:sunday``, ``US-FL:3-per-24h``,
   ``tenant:quiet_hours``), and ``retry_at`` is the first moment every rule allows, caps
   and hours together, DST-correct; null when the zones share no allowed moment at all.

Allowed marketing results carry ``optout_url`` (the per-recipient link) and ``footer``: the
opt-out line the message must carry, in the subject's language (the tenant's when it does
not speak it): STOP to the tenant's shortcode for the recipient's country on SMS, else the
opt-out URL.

``record: true`` makes each allowed marketing send contact: last contact, the sends that can
still count toward a cap (none older than the recipient's longest cap window before now or
``send_at``; without a cap, only this one), the
campaign (none given: the last one is forgotten, so a later STOP is not blamed on an older
campaign) and the lapse clock, in one conditional update per subject
(``store.batch``). A lost race reads that subject again and decides again. A retried
request with the same explicit ``send_at`` and campaign finds its send recorded and
answers the same without counting it twice. Duplicates in the input are one recipient.

Everything time-based is judged at ``send_at``; the states are the stored ones.

The modules: ``request`` (the request checked, and which tenant a direct invocation is
bound to), ``numbers`` (recipients normalised, cached), ``schedule`` (quiet hours and the
frequency cap: pure arithmetic over times), ``rules`` (the sending rules a recipient is held
to, shipped by country and US state and the tenant's, and when they allow a send),
``decision`` (one subject's answer, pure) and ``checking`` (the whole check: subjects read,
decided, contact recorded).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The pure parts load with the package; the rest (the store, the HTTP layer, phone
# numbers) on first use, so ``smsconsent.presend.schedule`` imports no storage or AWS.
from smsconsent.presend.reasons import (
    COUNTRY_NOT_ALLOWED,
    FREQUENCY_CAP,
    INVALID_PHONE,
    LAPSED,
    NO_CONSENT,
    OK,
    OPTED_OUT,
    PENDING,
    QUIET_HOURS,
    REASONS,
)
from smsconsent.presend.schedule import cap_free_at, next_allowed

if TYPE_CHECKING:
    from smsconsent.presend.checking import WRITE_ROUNDS, Backend, check
    from smsconsent.presend.decision import Outcome, _Context, decide
    from smsconsent.presend.numbers import _normalised_cached, _zones
    from smsconsent.presend.request import (
        MAX_CAMPAIGN,
        MAX_RECIPIENTS,
        SEND_AT_RANGE,
        TENANT_ALIAS_PREFIX,
        CheckRequest,
        alias_tenant,
        bind,
        parse_request,
    )

_LAZY = {
    **dict.fromkeys(["WRITE_ROUNDS", "Backend", "check"], "checking"),
    **dict.fromkeys(["Outcome", "_Context", "decide"], "decision"),
    **dict.fromkeys(["_normalised_cached", "_zones"], "numbers"),
    **dict.fromkeys(
        [
            "MAX_CAMPAIGN",
            "MAX_RECIPIENTS",
            "SEND_AT_RANGE",
            "TENANT_ALIAS_PREFIX",
            "CheckRequest",
            "alias_tenant",
            "bind",
            "parse_request",
        ],
        "request",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # found directly from now on
    return value


__all__ = [
    "COUNTRY_NOT_ALLOWED",
    "FREQUENCY_CAP",
    "INVALID_PHONE",
    "LAPSED",
    "MAX_CAMPAIGN",
    "MAX_RECIPIENTS",
    "NO_CONSENT",
    "OK",
    "OPTED_OUT",
    "PENDING",
    "QUIET_HOURS",
    "REASONS",
    "SEND_AT_RANGE",
    "TENANT_ALIAS_PREFIX",
    "WRITE_ROUNDS",
    "Backend",
    "CheckRequest",
    "Outcome",
    "_Context",
    "_normalised_cached",
    "_zones",
    "alias_tenant",
    "bind",
    "cap_free_at",
    "check",
    "decide",
    "next_allowed",
    "parse_request",
]
