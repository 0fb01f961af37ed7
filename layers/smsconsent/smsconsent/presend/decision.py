"""One subject's answer (pure): the rules in the order the package docstring gives, with
what every recipient of a request shares worked out once (``_Context``)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from smsconsent import consent, messages, optout_list
from smsconsent.clock import iso, parse_iso
from smsconsent.presend.numbers import _zones
from smsconsent.presend.reasons import (
    COUNTRY_NOT_ALLOWED,
    LAPSED,
    NO_CONSENT,
    OK,
    OPTED_OUT,
    PENDING,
    PROVIDER_OPTED_OUT,
    REASONS,
    UNREACHABLE,
)
from smsconsent.presend.request import CheckRequest
from smsconsent.presend.schedule import next_allowed, settle
from smsconsent.records import ConsentRecord
from smsconsent.store.batch import Contact, Snapshot
from smsconsent.tenants import Tenant


@dataclass(slots=True)
class Outcome:
    allowed: bool
    reason: str
    retry_at: str | None = None
    footer: str | None = None
    optout_url: str | None = None
    contact: Contact | None = None  # what ``record`` writes for this subject


_DENIED = {reason: Outcome(False, reason) for reason in REASONS if reason != OK}
_TRANSACTIONAL_OK = Outcome(True, OK)
_STATE_REASONS = {consent.PENDING: PENDING, consent.OPTED_OUT: OPTED_OUT, consent.LAPSED: LAPSED}


class _Context:
    """What every recipient of one request shares, worked out once."""

    def __init__(self, tenant: Tenant, req: CheckRequest, now: datetime) -> None:
        self.tenant = tenant
        self.req = req
        self.key = consent.key(req.channel, req.purpose)
        self.transactional = req.category == "transactional"
        self.stop_all = tenant.stop_scope == "all"
        self.send_iso = iso(req.send_at)
        # Marketing purposes lapse: lapsed when the last of contact, confirmation and
        # ``since`` is at or before this.
        self.lapses = req.purpose in tenant.marketing_purposes()
        self.lapse_cut = iso(consent.lapse_cutoff(tenant, req.send_at))
        # A pending record expires when issued at or before this.
        self.pending_cut = iso(consent.pending_cutoff(tenant, req.send_at))
        self.cap = tenant.frequency_cap
        self.cap_window = timedelta(days=self.cap[1]) if self.cap else timedelta(0)
        # Recorded sends that can share a window with this one: inside (send_at - window,
        # send_at + window). What ``record`` keeps: none from before a window before the
        # earlier of now and send_at (no later check can count them).
        self.window_lo = iso(req.send_at - self.cap_window)
        self.window_hi = iso(req.send_at + self.cap_window)
        self.keep_from = iso(min(now, req.send_at) - self.cap_window)
        self.quiet = tenant.quiet_hours
        self.link = tenant.link("/o/")
        self.shortcodes = tenant.optout_shortcodes if req.channel == "sms" else {}
        # A hold by the tenant's AWS opt-out list counts while the tenant names one: once
        # it names none, nothing here keeps the hold up to date (the daily run reads only
        # the tenants that name a list), and it would hold the consent for ever.
        self.list_holds = req.channel == "sms" and bool(tenant.sms_opt_out_list)
        self._languages: dict[str | None, str] = {}
        self._footers: dict[tuple[str, str], str] = {}

    def language(self, wanted: str | None) -> str:
        lang = self._languages.get(wanted)
        if lang is None:
            lang = self._languages[wanted] = self.tenant.language(wanted)
        return lang

    def shortcode_footer(self, lang: str, code: str) -> str:
        text = self._footers.get((lang, code))
        if text is None:
            text = self._footers[(lang, code)] = messages.optout_footer(lang, shortcode=code)
        return text


def _state(record: ConsentRecord | None, ctx: _Context) -> tuple[str | None, ConsentRecord | None]:
    """The record's state at ``send_at``: a pending record past its token's lifetime is
    what it was before (the retention job's ``expire_pending``, ahead of time)."""
    if record is None:
        return None, None
    state = record.get("state")
    if state == consent.PENDING and record.get("issued_at", record.get("since", "")) <= ctx.pending_cut:
        prior = record.get("prior")
        return (prior.get("state"), prior) if prior else (None, None)
    return state, record


def decide(ctx: _Context, e164: str, region: str, subject: Snapshot | None) -> Outcome:
    """One subject's answer (pure)."""
    tenant = ctx.tenant
    if region not in tenant.allowed_countries:
        return _DENIED[COUNTRY_NOT_ALLOWED]
    state, record = _state(subject.consents.get(ctx.key) if subject else None, ctx)

    if ctx.transactional:
        if ctx.stop_all and record is not None and consent.opted_out(record):
            return _DENIED[OPTED_OUT]
        return _TRANSACTIONAL_OK

    if subject is None or record is None:
        return _DENIED[NO_CONSENT]
    if state != consent.ACTIVE:
        return _DENIED[_STATE_REASONS.get(state or "", NO_CONSENT)]
    if (
        ctx.lapses
        and max(subject.last_contact_at or "", record.get("confirmed_at") or "", record["since"])
        <= ctx.lapse_cut
    ):
        return _DENIED[LAPSED]
    if subject.unreachable:
        return _DENIED[UNREACHABLE]  # marketing only: a receipt to a dead number just fails
    if subject.provider_list and ctx.list_holds:
        held, until = optout_list.held_until(json.loads(subject.provider_list))
        if held:  # retry_at: when AWS takes the delete (None: when someone clears the list)
            return Outcome(False, PROVIDER_OPTED_OUT, until if until and until > ctx.send_iso else None)

    send_iso = ctx.send_iso
    already = ctx.req.record and send_iso in subject.sends and subject.last_campaign == ctx.req.campaign
    near: list[datetime] = []
    if ctx.cap:
        # Fewer sends near this one than the cap allows: no window can be full.
        close = [s for s in subject.sends if ctx.window_lo < s < ctx.window_hi]
        if already:
            close.remove(send_iso)  # this very send, recorded by an earlier try
        if len(close) >= ctx.cap[0]:
            near = [parse_iso(s) for s in close]
    blocked = _blocked(ctx, e164, near)
    if blocked is not None:
        return blocked

    lang = ctx.language(subject.language)
    code = subject.optout_code
    url = ctx.link + code if code else None
    shortcode = ctx.shortcodes.get(region)
    footer = ctx.shortcode_footer(lang, shortcode) if shortcode else messages.optout_footer(lang, url=url)
    contact = None
    if ctx.req.record and not already:
        contact = _contact(ctx, subject)
    return Outcome(True, OK, None, footer, url, contact)


def _blocked(ctx: _Context, e164: str, near: list[datetime]) -> Outcome | None:
    """The frequency cap's or quiet hours' refusal at ``send_at`` (None when neither
    refuses), with ``retry_at`` the first moment both allow (``schedule.settle``)."""
    send_at = ctx.req.send_at
    if not near and (not ctx.quiet or next_allowed(_zones(e164), send_at, *ctx.quiet) == send_at):
        return None  # the common case, without the settling
    most = ctx.cap[0] if ctx.cap else 0
    found = settle(send_at, near, most, ctx.cap_window, _zones(e164), ctx.quiet)
    if found is None:
        return None
    reason, retry_at = found
    return Outcome(False, reason, iso(retry_at) if retry_at is not None else None)


def _contact(ctx: _Context, subject: Snapshot) -> Contact:
    send_iso = ctx.send_iso
    # Without a cap only the last send is kept: what tells a retried request apart.
    sends = sorted([s for s in subject.sends if s > ctx.keep_from] + [send_iso]) if ctx.cap else [send_iso]
    at = max(subject.last_contact_at or "", send_iso)
    after = dataclasses.replace(subject, last_contact_at=at, sends=sends)
    due = consent.next_due(after.as_subject(ctx.tenant.id), ctx.tenant)
    return Contact(subject=subject, at=at, sends=sends, campaign=ctx.req.campaign, due=due)
