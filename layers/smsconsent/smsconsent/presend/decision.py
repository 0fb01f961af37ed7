"""One subject's answer (pure): the rules in the order the package docstring gives, with
what every recipient of a request shares worked out once (``_Context``)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime

from smsconsent import consent, messages, optout_list, phone
from smsconsent.clock import iso, parse_iso
from smsconsent.presend import rules
from smsconsent.presend.numbers import _zones_of
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
    rule: str | None = None  # for deferrals: the sending rule that refused (``FR:sunday``)


_DENIED = {reason: Outcome(False, reason) for reason in REASONS if reason != OK}
_TRANSACTIONAL_OK = Outcome(True, OK)
_STATE_REASONS = {consent.PENDING: PENDING, consent.OPTED_OUT: OPTED_OUT, consent.LAPSED: LAPSED}


class _Rules:
    """A recipient's rules (``presend.rules``) with what this request's ``send_at`` makes of
    them: recorded sends that can share a cap's window with this one lie inside (send_at -
    window, send_at + window); what ``record`` keeps: none from before the longest window
    before the earlier of now and send_at (no later check can count them); the verdict of
    the rules about the moment at ``send_at``, per set of zones."""

    __slots__ = (
        "_at_send",
        "_blocked",
        "caps",
        "fewest",
        "held",
        "hi",
        "keep_from",
        "lo",
        "send_at",
        "timed",
    )

    def __init__(self, held: rules.RuleSet, send_at: datetime, now: datetime) -> None:
        self.held = held
        self.send_at = send_at
        self.caps = [(c.most, iso(send_at - c.window), iso(send_at + c.window)) for c in held.caps]
        self.fewest = min((c.most for c in held.caps), default=0)
        longest = held.longest
        self.lo = iso(send_at - longest) if longest else ""
        self.hi = iso(send_at + longest) if longest else ""
        self.keep_from = iso(min(now, send_at) - longest) if longest else None
        self.timed = bool(held.times)
        self._at_send: dict[tuple[str, ...], str | None] = {}
        self._blocked: dict[tuple[tuple[str, ...], tuple[str, ...]], Outcome | None] = {}

    def refused_at_send(self, zones: tuple[str, ...]) -> bool:
        try:
            return self._at_send[zones] is not None
        except KeyError:
            found = self._at_send[zones] = self.held.refusal(zones, self.send_at)
            return found is not None

    def blocked(self, zones: tuple[str, ...], sends: tuple[str, ...]) -> Outcome | None:
        """The refusal of a cap or a rule about the moment at ``send_at`` given the recorded
        ``sends`` (None when none refuses). Kept per request: the recipients of one earlier
        campaign share their sends, and working out ``retry_at`` is the dearest refusal."""
        key = (zones, sends)
        try:
            return self._blocked[key]
        except KeyError:
            pass
        found = self.held.settle(zones, self.send_at, [parse_iso(s) for s in sends])
        outcome = None
        if found is not None:
            reason, rule, retry_at = found
            outcome = Outcome(False, reason, iso(retry_at) if retry_at is not None else None, rule=rule)
        self._blocked[key] = outcome
        return outcome


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
        self.now = now
        self.known_rules: dict[str, _Rules] = {}  # by country, or a US number's area code
        self.link = tenant.link("/o/")
        self.shortcodes = tenant.optout_shortcodes if req.channel == "sms" else {}
        # A hold by the tenant's AWS opt-out list counts while the tenant names one: once
        # it names none, nothing here keeps the hold up to date (the daily run reads only
        # the tenants that name a list), and it would hold the consent for ever.
        self.list_holds = req.channel == "sms" and bool(tenant.sms_opt_out_list)
        self.languages: dict[str | None, str] = {}  # by the language a subject asked for
        self._footers: dict[tuple[str, str], str] = {}
        self._url_footers: dict[str, list[str]] = {}

    def rules(self, region: str, e164: str) -> _Rules:
        """The sending rules this recipient is held to (by country and US state)."""
        key = e164[:5] if region == "US" else region  # a US number's state is its area code's
        found = self.known_rules.get(key)
        if found is None:
            state = phone.us_state(e164) if region == "US" else None
            tenant = self.tenant
            held = rules.ruleset(region, state, tenant.quiet_hours, tenant.frequency_cap, tenant.waived_rules)
            found = self.known_rules[key] = _Rules(held, self.req.send_at, self.now)
        return found

    def language(self, wanted: str | None) -> str:
        lang = self.languages.get(wanted)
        if lang is None:
            lang = self.languages[wanted] = self.tenant.language(wanted)
        return lang

    def url_footer(self, lang: str, url: str | None) -> str:
        """The footer pointing at ``url`` (reply STOP without one); the wording of each
        language is found once per request (this runs for every allowed recipient)."""
        if url is None:  # a subject without an opt-out code: reply STOP
            return self.shortcode_footer(lang, "")
        around = self._url_footers.get(lang)
        if around is None:  # the wording's text around its ``{url}``: joining is cheaper than format
            wording = messages.optout_footer_wording("url", lang).format(url="\0")
            around = self._url_footers[lang] = wording.split("\0")
        return url.join(around)

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
    state, record = _state(subject.record(ctx.key) if subject else None, ctx)

    if ctx.transactional:
        if ctx.stop_all and record is not None and consent.opted_out(record):
            return _DENIED[OPTED_OUT]
        return _TRANSACTIONAL_OK

    if subject is None or record is None:
        return _DENIED[NO_CONSENT]
    if state != consent.ACTIVE:
        return _DENIED[_STATE_REASONS.get(state or "", NO_CONSENT)]
    # Lapsed: the last of contact, confirmation and ``since`` at or before the cut (each
    # compared on its own: the first later one settles it).
    cut = ctx.lapse_cut
    if (
        ctx.lapses
        and record["since"] <= cut
        and (subject.last_contact_at or "") <= cut
        and (record.get("confirmed_at") or "") <= cut
    ):
        return _DENIED[LAPSED]
    if subject.unreachable or subject.provider_list:
        held_back = _held_back(ctx, subject)
        if held_back is not None:
            return held_back

    send_iso = ctx.send_iso
    already = ctx.req.record and send_iso in subject.sends and subject.last_campaign == ctx.req.campaign
    held = ctx.known_rules.get(e164[:5] if region == "US" else region) or ctx.rules(region, e164)
    full = False
    if held.fewest and len(subject.sends) >= held.fewest:
        # Fewer sends near this one than a cap allows: no window of it can be full.
        close = [s for s in subject.sends if held.lo < s < held.hi]
        if already:
            close.remove(send_iso)  # this very send, recorded by an earlier try
        if len(close) >= held.fewest:
            full = any(len(close) >= n and sum(lo < s < hi for s in close) >= n for n, lo, hi in held.caps)
    if full or held.timed:
        blocked = _blocked(ctx, e164, subject, held, already, full)
        if blocked is not None:
            return blocked

    lang = ctx.languages.get(subject.language) or ctx.language(subject.language)
    code = subject.optout_code
    url = ctx.link + code if code else None
    shortcode = ctx.shortcodes.get(region)
    footer = ctx.shortcode_footer(lang, shortcode) if shortcode else ctx.url_footer(lang, url)
    contact = None
    if ctx.req.record and not already:
        contact = _contact(ctx, subject, held)
    return Outcome(True, OK, None, footer, url, contact)


def _held_back(ctx: _Context, subject: Snapshot) -> Outcome | None:
    """Marketing held back by a provider: ``unreachable`` (a receipt to a dead number just
    fails, so marketing only), or ``provider_opted_out`` while the tenant's AWS opt-out list
    holds the number, ``retry_at`` when AWS takes the delete (None: when someone clears it)."""
    if subject.unreachable:
        return _DENIED[UNREACHABLE]
    if not (subject.provider_list and ctx.list_holds):
        return None
    held, until = optout_list.held_until(json.loads(subject.provider_list))
    if not held:
        return None
    return Outcome(False, PROVIDER_OPTED_OUT, until if until and until > ctx.send_iso else None)


def _blocked(
    ctx: _Context, e164: str, subject: Snapshot, held: _Rules, already: bool, full: bool
) -> Outcome | None:
    """The refusal of a cap (``full``: one may hold) or a rule about the moment at
    ``send_at`` (None when none refuses), naming the rule, with ``retry_at`` the first
    moment every rule allows: every recorded send counts (one scheduled ahead may meet the
    morning), this one excepted. The number's zones are found once for both."""
    if not (full or held.timed):
        return None
    zones = _zones_of(e164, subject.zones)
    if not (full or held.refused_at_send(zones)):
        return None
    sends = list(subject.sends)
    if already:
        sends.remove(ctx.send_iso)
    return held.blocked(zones, tuple(sends))


def _contact(ctx: _Context, subject: Snapshot, held: _Rules) -> Contact:
    send_iso = ctx.send_iso
    # Without a cap only the last send is kept: what tells a retried request apart.
    keep_from = held.keep_from
    sends = sorted([s for s in subject.sends if s > keep_from] + [send_iso]) if keep_from else [send_iso]
    at = max(subject.last_contact_at or "", send_iso)
    after = dataclasses.replace(subject, last_contact_at=at, sends=sends)
    due = consent.next_due(after.as_subject(ctx.tenant.id), ctx.tenant)
    return Contact(subject=subject, at=at, sends=sends, campaign=ctx.req.campaign, due=due)
