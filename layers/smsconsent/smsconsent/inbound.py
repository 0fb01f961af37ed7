"""Inbound SMS: STOP, START, YES and HELP, exactly once per provider message.

The state change, its evidence and the provider message's records are one transaction,
so a replayed webhook finds its message taken and gets the answer stored with it. A
message is recorded under its provider id and, when signed, under a digest of the
signed bytes (a replay re-cut to show a new id still signs the same bytes); per provider,
not per tenant, so one provider message never applies at two tenants."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from smsconsent import (
    campaigns,
    clock,
    confirmation,
    consent,
    errors,
    evidence,
    keys,
    keywords,
    messages,
    metrics,
    phone,
    sender,
    settings,
    store,
)
from smsconsent.observability import logger, mask
from smsconsent.providers.base import InboundMessage
from smsconsent.retry import retry_on_conflict
from smsconsent.tenants import Tenant

_REMEMBER = timedelta(days=30)  # providers retry for hours at most; a month is ample
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Outcome:
    action: str  # optout | optin | confirmed | help | none
    reply: str | None  # text to send back (None: nothing)
    reply_kind: str | None = None
    replay: bool = False  # the same message came before: this is its stored answer


@dataclass
class _Decision:
    outcome: Outcome
    subject: store.Subject | None = None  # the subject to write, when something changed
    events: list[store.Evidence] = field(default_factory=list)
    code: str | None = None


def message_keys(message: InboundMessage) -> tuple[str, ...]:
    """The keys a message is recorded under: its provider id and its signed bytes, each
    hashed (a DynamoDB key is bounded, a provider's id is not)."""
    found = []
    if message.message_id:
        found.append(f"{message.provider}#{hashlib.sha256(message.message_id.encode()).hexdigest()}")
    if message.signed_digest:
        found.append(f"{message.provider}#signed#{message.signed_digest}")
    return tuple(found)


def _keep_until(message: InboundMessage, now: datetime) -> datetime | None:
    """How long a message's record counts. A signature that never goes stale (Twilio and
    Plivo sign no time; neither does a URL secret or an SNS delivery) lets whoever captured
    the message replay it at any time, and a START replayed after any later STOP would
    restore consent (a STOP can come years after the START): such records are kept for
    good (None). About 200 bytes per inbound message, nothing personal: keys are digests."""
    if message.replay_window is None:
        return None
    return now + max(_REMEMBER, timedelta(seconds=message.replay_window))


def receive(tenant: Tenant, message: InboundMessage) -> Outcome:
    """Apply one inbound message; the answer of a replay is the first answer. A message
    without a provider id cannot be told from a repetition, so it is always applied (every
    keyword is safe to apply twice: STOP on an opted-out number changes nothing)."""
    keys_of_message = message_keys(message)
    if keys_of_message:
        # Records from before dedup was per provider were per tenant too: still read.
        legacy = f"{tenant.id}#{keys_of_message[0]}" if message.message_id else None
        lookup = (*keys_of_message, legacy) if legacy else keys_of_message
        previous = store.message_answer(lookup, clock.now())
        if previous is not None:
            return Outcome(**previous, replay=True)
    try:
        number = phone.normalise(message.sender, tenant.default_country)
    except phone.PhoneError:
        logger.info("inbound from an unusable sender", extra={"provider": message.provider})
        return Outcome("none", None)
    kind = message.handled or keywords.classify(message.text, tenant.keywords)
    hashes = keys.subject_hashes(tenant.id, number.e164)
    may_reply: dict[str, str | None] = {}  # reply kind -> its budget key; None: withheld
    try:
        outcome, stored = _settle(tenant, message, kind, hashes, keys_of_message, may_reply)
    except Exception:
        _give_back(may_reply)  # nothing went out: the budget is not spent
        raise
    if stored is not None:
        _give_back(may_reply)  # another delivery of the message answered (or will)
        return stored
    if outcome.action == "confirmed":
        metrics.count("ConsentConfirmed", country=number.region)
    logger.info(
        "inbound handled",
        extra={
            "tenant": tenant.id,
            "provider": message.provider,
            "action": outcome.action,
            "from": mask(number.e164),
        },
    )
    return outcome


def _settle(
    tenant: Tenant,
    message: InboundMessage,
    kind: str | None,
    hashes: list[str],
    keys_of_message: tuple[str, ...],
    may_reply: dict[str, str | None],
) -> tuple[Outcome, Outcome | None]:
    """Decide and write, re-deciding after a lost race. Returns the outcome, and the
    stored answer instead when a concurrent delivery of the same message won."""

    def attempt() -> tuple[Outcome, Outcome | None]:
        now = clock.now()
        subject = store.load_subject(tenant.id, hashes)
        decision = _apply(tenant, message, kind, subject, hashes[0], now)
        if subject is not None and subject.unreachable:
            decision = _reachable_again(decision, tenant, message, hashes, now)
        outcome = decision.outcome
        if outcome.reply and outcome.reply_kind:
            if outcome.reply_kind not in may_reply:  # counted once, whatever the retries
                may_reply[outcome.reply_kind] = _reply_budget(tenant, message, outcome.reply_kind, now)
            if may_reply[outcome.reply_kind] is None:
                outcome = Outcome(outcome.action, None)  # recorded, not answered
        answer = {k: v for k, v in asdict(outcome).items() if k != "replay"}
        keep_until = _keep_until(message, now)
        try:
            if decision.subject is None:
                if (
                    keys_of_message
                    and store.remember_message(keys_of_message, answer, keep_until, now) is not None
                ):
                    return _stored(keys_of_message)  # a concurrent delivery of the same message won
            else:
                store.commit(
                    store.Change(
                        decision.subject,
                        decision.events,
                        code=decision.code,
                        due=consent.next_due(decision.subject, tenant),
                        message=(keys_of_message, answer, keep_until) if keys_of_message else None,
                    ),
                    now,
                )
        except store.Conflict:
            if keys_of_message and store.message_answer(keys_of_message, clock.now()) is not None:
                return _stored(keys_of_message)
            raise
        return outcome, None

    try:
        return retry_on_conflict(attempt, "inbound message kept conflicting")
    except errors.Busy as exc:
        # Not a refusal to the provider: a store outage, so the message is queued or retried.
        raise store.StoreUnavailable(exc.message) from exc


def _reachable_again(
    decision: _Decision, tenant: Tenant, message: InboundMessage, hashes: list[str], now: datetime
) -> _Decision:
    """A number that texts in exists: a provider's "unreachable" no longer holds. Written
    with whatever else the message changes (a subject left unchanged is read afresh, so
    nothing a rule tried and dropped is written)."""
    target = decision.subject or store.load_subject(tenant.id, hashes)
    if target is None or not target.unreachable:
        return decision
    target.unreachable = None
    data = {"via": "inbound", "provider": message.provider, "provider_message_id": message.message_id}
    event = evidence.append(target, "number_reachable", now, data)
    return _Decision(decision.outcome, target, [*decision.events, event], decision.code)


def _stored(keys_of_message: tuple[str, ...]) -> tuple[Outcome, Outcome | None]:
    """The answer a concurrent delivery of the message stored, as ``_settle`` returns it."""
    stored = store.message_answer(keys_of_message, clock.now()) if keys_of_message else None
    return Outcome("none", None), Outcome(**stored, replay=True) if stored else Outcome("none", None)


def _give_back(may_reply: dict[str, str | None]) -> None:
    for key in may_reply.values():
        if key is not None:
            store.count_undo(key, _DAY, clock.now())


def _reply_budget(tenant: Tenant, message: InboundMessage, reply_kind: str, now: datetime) -> str | None:
    """The budget key a reply was counted under, or None when it is withheld: only a mobile
    in the tenant's countries, and one reply of each kind per number a day. Anyone can
    text a keyword from anywhere (or sign a webhook with a leaked secret), and each reply
    is an SMS paid for: premium and satellite ranges would be pumped through HELP and STOP
    replies. The opt-out itself is recorded either way; only the answer is withheld."""
    try:
        number = phone.normalise_mobile(message.sender, tenant.default_country)
    except phone.PhoneError:
        _withheld(tenant, message, reply_kind, "not_mobile")
        return None
    if number.region not in tenant.allowed_countries:
        _withheld(tenant, message, reply_kind, "country_not_allowed")
        return None
    key = f"{tenant.id}#reply#{reply_kind}#{keys.counter_key(tenant.id, number.e164)}"
    if store.count_hit(key, _DAY, now) > 1:
        _withheld(tenant, message, reply_kind, "daily_budget")
        return None
    return key


def _withheld(tenant: Tenant, message: InboundMessage, reply_kind: str, reason: str) -> None:
    logger.info(
        "inbound reply withheld",
        extra={"tenant": tenant.id, "provider": message.provider, "kind": reply_kind, "reason": reason},
    )
    metrics.count("InboundReplyWithheld", reason=reason)


def owns_recipient(tenant: Tenant, recipient: str) -> bool:
    """Whether a message's recipient is one of the tenant's inbound numbers: an E.164 number
    (written by the provider in any form the tenant's country reads), or a short code,
    which providers write as its digits alone (Vonage and Plivo with a ``+``)."""
    text = recipient.strip()
    try:
        if phone.normalise(text, tenant.default_country).e164 in tenant.inbound_numbers:
            return True
    except phone.PhoneError:
        pass
    digits = text.removeprefix("+")
    if not (digits.isascii() and digits.isdigit()):
        return False
    return any(number.partition(":")[2] == digits for number in tenant.inbound_numbers if ":" in number)


def _apply(
    tenant: Tenant,
    message: InboundMessage,
    kind: str | None,
    subject: store.Subject | None,
    new_key: str,
    now: datetime,
) -> _Decision:
    """Decide and change the (in-memory) subject."""
    language = subject.language if subject else None
    provider_data = {
        "provider": message.provider,
        "provider_message_id": message.message_id,
        "channel": message.channel,
    }
    via = "provider_keyword" if message.handled else "sms_keyword"

    def reply(reply_kind: str) -> Outcome:
        action = {"optout_confirmation": "optout", "optin_confirmation": "optin"}.get(reply_kind, reply_kind)
        if message.handled:
            return Outcome(action, None)  # the provider already answered the keyword
        # The outbox kinds are the SPEC's: a confirmation by YES is an opt-in confirmation.
        kind = "optin_confirmation" if reply_kind == "confirmed" else reply_kind
        return Outcome(action, messages.reply(tenant, reply_kind, language), kind)

    if kind == keywords.OPTOUT:
        # An unknown number is suppressed too: it gets a subject of its keyed hash alone.
        target = subject or store.new_subject(tenant.id, new_key, now)
        # Every channel: STOP withdraws consent for the tenant (SPEC rule 4), as the
        # reply says and as the opt-out link does; WhatsApp marketing after an SMS STOP
        # would be a message to someone who said STOP.
        changed = consent.opt_out(target, tenant, None, now)
        if not changed:
            return _Decision(reply("optout_confirmation"))
        named, raw = campaigns.evidence_parts(target.last_campaign)
        event = evidence.append(
            target,
            "optout",
            now,
            {
                **provider_data,
                "consents": changed,
                "via": via,
                "keyword": keywords.keyword_of(message.text, tenant.keywords),
                **named,
                "country": phone.normalise(message.sender, tenant.default_country).region,
            },
            pii={"text": message.text[:320], **raw},
        )
        return _Decision(reply("optout_confirmation"), target, [event])

    if subject is None:
        # START, YES or HELP from a number we hold nothing on: answer HELP, change nothing.
        return _Decision(reply("help") if kind == keywords.HELP else Outcome("none", None))

    if kind == keywords.YES and tenant.confirm_by_reply:
        # Every confirmation goes by SMS to this number and asks for a YES, whichever
        # channel it is for (a WhatsApp opt-in too): the YES confirms each open opt-in
        # whose SMS went out.
        events, code = [], None
        for channel, opened in sorted(consent.open_opt_ins(subject).items()):
            token = opened.get("token")
            if not token or not opened.get("sms_at"):
                continue
            result = consent.confirm(subject, tenant, token, now)
            if result.status == "confirmed":
                # "channel": the consent's, as for a link; the reply's own beside it.
                data = {
                    **provider_data,
                    "channel": channel,
                    "reply_channel": message.channel,
                    "purposes": result.purposes,
                    "via": "sms_reply",
                    "issued_at": result.issued_at,
                }
                event, issued = confirmation.confirmed_evidence(subject, token, now, data)
                events.append(event)
                code = code or issued
        if events:
            return _Decision(reply("confirmed"), subject, events, code)
    if kind == keywords.YES:
        kind = keywords.OPTIN  # no open opt-in to confirm: YES means START

    if kind == keywords.OPTIN:
        restored = consent.opt_in_again(subject, tenant, now)  # what the STOP withdrew
        if not restored:
            return _Decision(Outcome("none", None))
        event = evidence.append(
            subject,
            "optin_restored",
            now,
            {**provider_data, "consents": restored, "via": via},
            pii={"text": message.text[:320]},
        )
        return _Decision(reply("optin_confirmation"), subject, [event])

    if kind == keywords.HELP:
        return _Decision(reply("help"))
    return _Decision(Outcome("none", None))


def queue_for_later(tenant: Tenant, message: InboundMessage) -> bool:
    """Keep a verified message DynamoDB could not take (throttling, 5xx) in the inbound
    queue, to be applied from there: a provider that does not retry a failed webhook
    (Twilio, by default) would otherwise lose the STOP with it. False: no queue, or it
    failed too (the caller answers 503 then)."""
    url = settings.get().inbound_queue_url
    if not url:
        return False
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        sender.queue_client().send_message(
            QueueUrl=url, MessageBody=json.dumps({"tenant": tenant.id, "message": asdict(message)})
        )
    except (BotoCoreError, ClientError) as exc:
        logger.warning("inbound message could not be queued", extra={"error": type(exc).__name__})
        return False
    return True


def from_queue(body: str) -> tuple[str, InboundMessage]:
    """A queued message and its tenant's id; raises ValueError, TypeError or KeyError on
    a malformed one. The tenant is loaded by the caller, apart: a tenant whose settings
    fail validation right now (a ``TenantError``, a ValueError too) is a reason to try
    again later, never to drop a STOP as malformed."""
    data = json.loads(body)
    return str(data["tenant"]), InboundMessage(**data["message"])


def send_reply(tenant: Tenant, message: InboundMessage, outcome: Outcome) -> None:
    """Send the reply through the SMS sender (for providers whose answer cannot carry it).
    The opt-out is already stored: a failed reply is logged, never undoes it."""
    if not outcome.reply or outcome.replay:
        return
    try:
        number = phone.normalise(message.sender, tenant.default_country).e164
        sender.deliver(
            sender.SmsMessage(
                to=number,
                body=outcome.reply,
                tenant=tenant.id,
                kind=outcome.reply_kind or "help",
                # Never the webhook's To: that would let a request choose who the SMS is from.
                origination_identity=tenant.sms_origination_identity,
                configuration_set=tenant.sms_configuration_set,
            )
        )
    except (sender.SendError, phone.PhoneError) as exc:
        logger.warning("inbound reply not sent", extra={"provider": message.provider, "error": str(exc)})
