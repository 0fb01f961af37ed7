"""The consent state machine: pure rules over a subject, given the time.

A subject holds one record per ``<channel>:<purpose>``. States:
``pending`` -> ``active`` -> ``opted_out`` | ``lapsed``; a pending record that expires
falls back to what it was before (or disappears). Functions here decide and change the
in-memory subject; the caller commits the change with one conditional write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from smsconsent.clock import iso, parse_iso
from smsconsent.records import ConsentRecord, PendingOptIn, Subject
from smsconsent.tenants import Tenant

PENDING, ACTIVE, OPTED_OUT, LAPSED = "pending", "active", "opted_out", "lapsed"
# How long the person may take back an opt-out made on the opt-out page (``undo_opt_out``):
# long enough to notice a wrong tick on the page that answered, short enough that the
# undo stays part of the same visit.
UNDO_WINDOW = timedelta(minutes=15)


def key(channel: str, purpose: str) -> str:
    return f"{channel}:{purpose}"


def opted_out(record: ConsentRecord) -> bool:
    """The record stands for an opt-out: opted out, or a new opt-in over an opt-out that is
    still pending (unconfirmed, it changes nothing: it falls back to the opt-out)."""
    return opt_out_of(record) is not None


def opt_out_of(record: ConsentRecord) -> ConsentRecord | None:
    """The opted-out record this record stands for (itself, or the opt-out a pending
    opt-in would fall back to); None when it stands for no opt-out."""
    if record["state"] == OPTED_OUT:
        return record
    prior = record.get("prior") if record["state"] == PENDING else None
    return prior if prior is not None and prior.get("state") == OPTED_OUT else None


def holds_opt_out(subject: Subject) -> bool:
    """Whether the number opted out of anything here (what erasure and purging keep)."""
    return any(opted_out(r) for r in subject.consents.values())


def state_of(subject: Subject | None, channel: str, purpose: str) -> str | None:
    if subject is None:
        return None
    record = subject.consents.get(key(channel, purpose))
    return record["state"] if record else None


@dataclass
class OptInRequest:
    purposes: list[str]
    channel: str
    text: dict[str, str]  # id, version, sha256, language
    language: str
    source: str | None
    country: str


@dataclass
class OptInDecision:
    """``send``: a new token was opened and its SMS must go out; ``cooldown``: its SMS went
    out recently, nothing is sent (``purposes``: those the open opt-in already covers);
    ``none``: already active."""

    action: str
    purposes: list[str] = field(default_factory=list)


def request_opt_in(
    subject: Subject, tenant: Tenant, req: OptInRequest, token_sha256: str, now: datetime
) -> OptInDecision:
    """Open (or widen) the double opt-in of ``req.channel``. Each channel has its own open
    opt-in (``subject.pending[channel]``), so a WhatsApp signup never voids an SMS link."""
    wanted = [p for p in req.purposes if state_of(subject, req.channel, p) != ACTIVE]
    if not wanted:
        return OptInDecision("none")
    opened = open_opt_ins(subject)
    pending = opened.get(req.channel)
    sms_at = pending.get("sms_at") if pending else None
    if pending and sms_at:
        cooldown_ends = parse_iso(sms_at) + timedelta(minutes=tenant.resend_cooldown_minutes)
        if now < min(cooldown_ends, _expiry(pending["issued_at"], tenant)):
            # Within the cooldown nothing is sent, so the open opt-in is not widened: its
            # SMS named its purposes, and a YES or a click confirms only what was named.
            # Other purposes wait for a signup after the cooldown (a new link names all).
            covered = [p for p in wanted if p in pending["purposes"]]
            for purpose in covered:
                _make_pending(subject, req, purpose, pending["token"], pending["issued_at"], now)
            return OptInDecision("cooldown", covered)
    # A new token replaces the open one: purposes still waiting on it move over.
    purposes = set(wanted)
    if pending:
        purposes |= {
            p
            for p in pending.get("purposes", [])
            if state_of(subject, req.channel, p) == PENDING
            and now
            < _expiry(subject.consents[key(req.channel, p)].get("issued_at", pending["issued_at"]), tenant)
        }
    for purpose in sorted(purposes):
        _make_pending(subject, req, purpose, token_sha256, iso(now), now)
    opened[req.channel] = {
        "token": token_sha256,
        "purposes": sorted(purposes),
        "issued_at": iso(now),
        "sms_at": None,
    }
    subject.pending = opened
    subject.language = req.language
    return OptInDecision("send", sorted(purposes))


def open_opt_ins(subject: Subject) -> dict[str, PendingOptIn]:
    """The open double opt-ins by channel."""
    return dict(subject.pending or {})


def _expiry(issued_at: str, tenant: Tenant) -> datetime:
    return parse_iso(issued_at) + timedelta(hours=tenant.token_ttl_hours)


def pending_cutoff(tenant: Tenant, at: datetime) -> datetime:
    """A pending record issued at or before this has expired by ``at`` (``_expiry`` turned
    round: many records compared with it need no parsing)."""
    return at - timedelta(hours=tenant.token_ttl_hours)


def _make_pending(
    subject: Subject, req: OptInRequest, purpose: str, token_sha256: str, issued_at: str, now: datetime
) -> None:
    k = key(req.channel, purpose)
    old = subject.consents.get(k)
    record: ConsentRecord = {
        "state": PENDING,
        "since": iso(now),
        "token": token_sha256,
        "issued_at": issued_at,
        "text": req.text,
        "source": req.source,
        "language": req.language,
    }
    if old and old["state"] == PENDING:
        record["prior"] = old.get("prior")
    elif old:
        # Kept so an expired opt-in falls back to it: a STOP stays a STOP.
        prior = old.copy()
        prior.pop("prior", None)
        record["prior"] = prior
    subject.consents[k] = record


@dataclass
class ConfirmOutcome:
    status: str  # confirmed | already_confirmed | expired | opted_out | unknown_token
    purposes: list[str] = field(default_factory=list)
    channel: str | None = None
    issued_at: str | None = None  # confirmed: when its link was issued (time to confirm)


def confirm(subject: Subject | None, tenant: Tenant, token_sha256: str, now: datetime) -> ConfirmOutcome:
    """Decide what a confirmation by this token means now; on ``confirmed`` the subject
    is changed (records active, open opt-in closed)."""
    if subject is None:
        return ConfirmOutcome("expired")  # the token outlived its subject (expired or erased)
    matches = {
        k: r
        for k, r in subject.consents.items()
        if token_sha256 in (r.get("token"), r.get("confirmed_token"))
    }
    if not matches:
        return ConfirmOutcome("expired")  # replaced by a newer token, or expired and reverted
    states = {r["state"] for r in matches.values()}
    channel = next(iter(matches)).split(":", 1)[0]
    purposes = sorted(k.split(":", 1)[1] for k in matches)
    if OPTED_OUT in states:
        return ConfirmOutcome("opted_out", purposes, channel)  # STOP always wins
    if LAPSED in states:
        return ConfirmOutcome("expired", purposes, channel)
    if states == {ACTIVE}:
        return ConfirmOutcome("already_confirmed", purposes, channel)
    waiting = {k: r for k, r in matches.items() if r["state"] == PENDING}
    if any(now >= _expiry(r.get("issued_at", r["since"]), tenant) for r in waiting.values()):
        return ConfirmOutcome("expired", purposes, channel)
    if pending_token(subject, channel) != token_sha256:
        return ConfirmOutcome("expired", purposes, channel)  # replaced, or closed by a STOP
    issued_at = min(r.get("issued_at", r["since"]) for r in waiting.values())
    for record in waiting.values():
        record.pop("token", None)
        record.pop("prior", None)
        record.pop("issued_at", None)
        record.update(
            {"state": ACTIVE, "since": iso(now), "confirmed_at": iso(now), "confirmed_token": token_sha256}
        )
    opened = open_opt_ins(subject)
    if pending_token(subject, channel) == token_sha256:
        del opened[channel]
    subject.pending = opened or None
    return ConfirmOutcome("confirmed", sorted(k.split(":", 1)[1] for k in waiting), channel, issued_at)


def lapse_at(subject: Subject, record: ConsentRecord, tenant: Tenant) -> datetime:
    """When an active consent lapses without further marketing contact."""
    last = max(subject.last_contact_at or "", record.get("confirmed_at") or "", record["since"])
    return parse_iso(last) + timedelta(days=tenant.lapse_after_days)


def lapse_cutoff(tenant: Tenant, at: datetime) -> datetime:
    """An active marketing record whose last contact, confirmation or ``since`` is at or
    before this has lapsed by ``at`` (``lapse_at`` turned round: many records compared with
    it need no parsing)."""
    return at - timedelta(days=tenant.lapse_after_days)


def purge_at(subject: Subject, tenant: Tenant) -> datetime | None:
    """When the evidence of a subject whose consents all ended is due for purging."""
    states = [r["state"] for r in subject.consents.values()]
    if subject.purged_at or not states or any(s in (ACTIVE, PENDING) for s in states) or subject.pending:
        return None
    ended = max(parse_iso(r["since"]) for r in subject.consents.values())
    return ended + timedelta(days=tenant.evidence_retention_days)


def expire_pending(subject: Subject, tenant: Tenant, now: datetime) -> list[str]:
    """Pending consents whose token is too old fall back to what they were before (or
    vanish). Returns the keys expired."""
    expired = []
    for k, record in list(subject.consents.items()):
        if record["state"] == PENDING and now >= _expiry(record.get("issued_at", record["since"]), tenant):
            prior = record.get("prior")
            if prior:
                subject.consents[k] = prior
            else:
                del subject.consents[k]
            expired.append(k)
    opened = {ch: p for ch, p in open_opt_ins(subject).items() if now < _expiry(p["issued_at"], tenant)}
    subject.pending = opened or None
    return expired


def lapse(subject: Subject, tenant: Tenant, now: datetime) -> list[str]:
    """Active marketing consents without contact for ``lapse_after_days`` lapse."""
    lapsed = []
    marketing = set(tenant.marketing_purposes())
    for k, record in subject.consents.items():
        if (
            record["state"] == ACTIVE
            and k.split(":", 1)[1] in marketing
            and now >= lapse_at(subject, record, tenant)
        ):
            record.update({"state": LAPSED, "since": iso(now)})
            lapsed.append(k)
    return lapsed


def next_due(subject: Subject, tenant: Tenant) -> datetime | None:
    """When the retention job next has something to do for this subject."""
    moments: list[datetime] = [_expiry(p["issued_at"], tenant) for p in open_opt_ins(subject).values()]
    marketing = set(tenant.marketing_purposes())
    for k, record in subject.consents.items():
        if record["state"] == PENDING:
            moments.append(_expiry(record.get("issued_at", record["since"]), tenant))
        elif record["state"] == ACTIVE and k.split(":", 1)[1] in marketing:
            moments.append(lapse_at(subject, record, tenant))
    purge = purge_at(subject, tenant)
    if purge is not None:
        moments.append(purge)
    return min(moments) if moments else None


def _stop_scope(tenant: Tenant) -> set[str]:
    if tenant.stop_scope == "all":
        return set(tenant.purposes)
    return set(tenant.marketing_purposes())


def opt_out(
    subject: Subject,
    tenant: Tenant,
    channel: str | None,
    now: datetime,
    purposes: set[str] | None = None,
    reaffirm: bool = True,
) -> list[str]:
    """STOP: withdraw every purpose in the tenant's STOP scope (``purposes``: only these of
    it) on ``channel`` (every channel when None). Purposes without a record get an
    ``opted_out`` one, so the number stays suppressed even if it was never known. Returns
    the keys changed. ``reaffirm``: an opt-out the page could still undo counts as changed
    (and can no longer be undone); False only for the page's own opt-outs."""
    channels = [channel] if channel else sorted({k.split(":", 1)[0] for k in subject.consents} | {"sms"})
    marketing = set(tenant.marketing_purposes())
    scope = _stop_scope(tenant) if purposes is None else _stop_scope(tenant) & purposes
    changed = []
    for ch in channels:
        for purpose in sorted(scope):
            k = key(ch, purpose)
            record = subject.consents.get(k)
            if record is None:
                subject.consents[k] = {"state": OPTED_OUT, "since": iso(now)}
                changed.append(k)
            elif record["state"] == OPTED_OUT:
                if reaffirm and undoable(record, now):
                    # An opt-out the page could still take back, now said again another
                    # way (a STOP, a provider): it is that opt-out from now on, and no
                    # undo of the page may take it back.
                    del record["undo_seq"]
                    record["since"] = iso(now)
                    changed.append(k)
            else:
                lapsed = (
                    record["state"] == ACTIVE
                    and purpose in marketing
                    and now >= lapse_at(subject, record, tenant)
                )
                # A consent whose lapse is due is lapsed, whether or not the job has run yet:
                # START must not bring it back.
                record["before_stop"] = LAPSED if lapsed else record["state"]
                record.update({"state": OPTED_OUT, "since": iso(now)})
                changed.append(k)
        opened = open_opt_ins(subject)
        # A STOP closes the channel's open opt-in; a withdrawal of some purposes only one
        # that names them (a signup for another purpose stays open).
        if ch in opened and (purposes is None or scope & set(opened[ch].get("purposes", []))):
            del opened[ch]
            subject.pending = opened or None
    return changed


def opt_in_again(subject: Subject, tenant: Tenant, now: datetime) -> list[str]:
    """START/UNSTOP from the phone itself: restore what was active before the STOP (on
    every channel, as a STOP from the phone withdraws every channel)."""
    restored = []
    for k, record in subject.consents.items():
        if record["state"] == OPTED_OUT and record.get("before_stop") == ACTIVE:
            record.pop("before_stop")
            record.pop("undo_seq", None)
            record.update({"state": ACTIVE, "since": iso(now)})
            restored.append(k)
    return restored


def pending_token(subject: Subject, channel: str) -> str | None:
    """The open double opt-in's token hash on ``channel``, if any."""
    opened = open_opt_ins(subject).get(channel)
    token = opened.get("token") if opened else None
    return str(token) if token else None


def reduce_to_suppression(subject: Subject, now: datetime) -> None:
    """What stays of an opted-out number after erasure or its evidence period: its keyed
    hash and the fact that it opted out, nothing personal."""
    opt_outs = {k: o for k, r in subject.consents.items() if (o := opt_out_of(r)) is not None}
    subject.consents = {k: {"state": OPTED_OUT, "since": o["since"]} for k, o in opt_outs.items()}
    subject.phone = subject.region = subject.language = subject.optout_code = None
    subject.last_campaign = subject.last_contact_at = None
    subject.sends = []
    subject.pending = None


def in_force(subject: Subject, tenant: Tenant, now: datetime) -> list[str]:
    """The purposes of the STOP scope the person gets now (active on some channel, its
    lapse not due), in the tenant's order: what the opt-out page offers to keep or drop."""
    scope, marketing = _stop_scope(tenant), set(tenant.marketing_purposes())
    found = set()
    for k, record in subject.consents.items():
        purpose = k.split(":", 1)[1]
        due = purpose in marketing and now >= lapse_at(subject, record, tenant)
        if purpose in scope and record["state"] == ACTIVE and not due:
            found.add(purpose)
    return [p for p in tenant.purposes if p in found]


def undoable(record: ConsentRecord, now: datetime) -> bool:
    """The record is an opt-out of the opt-out page that may still be taken back."""
    return (
        record["state"] == OPTED_OUT
        and "undo_seq" in record
        and now < parse_iso(record["since"]) + UNDO_WINDOW
    )


def mark_undoable(subject: Subject, changed: list[str], seq: int) -> list[str]:
    """After the opt-out page's opt-out (evidence event ``seq``): mark what it withdrew of
    what was active, which ``undo_opt_out`` may bring back. Returns the keys marked."""
    marked = []
    for k in changed:
        record = subject.consents[k]
        if record["state"] == OPTED_OUT and record.get("before_stop") == ACTIVE:
            record["undo_seq"] = seq
            marked.append(k)
    return marked


def undo_opt_out(subject: Subject, seq: int, now: datetime) -> list[str]:
    """Take back the opt-out page's opt-out recorded as evidence event ``seq``: only while
    it is the subject's latest event (nothing was recorded since: no STOP, no signup, no
    other opt-out), within ``UNDO_WINDOW``, and only what it withdrew of what was active.
    Returns the keys restored (none: nothing may be undone)."""
    if subject.ev_seq != seq:
        return []
    restored = []
    for k, record in subject.consents.items():
        if record.get("undo_seq") == seq and undoable(record, now) and record.get("before_stop") == ACTIVE:
            del record["undo_seq"]
            record.pop("before_stop")
            record.update({"state": ACTIVE, "since": iso(now)})
            restored.append(k)
    return sorted(restored)
