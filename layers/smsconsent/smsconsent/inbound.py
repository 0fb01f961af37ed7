"""Inbound SMS: STOP, START, YES and HELP, exactly once per provider message.

The state change, its evidence and the provider message id are one transaction, so a
replayed webhook finds its message id taken and gets the answer stored with it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from smsconsent import (
    clock,
    confirmation,
    consent,
    evidence,
    keys,
    keywords,
    messages,
    metrics,
    phone,
    sender,
    settings,
    store,
    tenants,
)
from smsconsent.observability import logger, mask
from smsconsent.providers.base import InboundMessage
from smsconsent.tenants import Tenant

_ATTEMPTS = 5
_REMEMBER = timedelta(days=30)  # providers retry for hours at most; a month is ample


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


def receive(tenant: Tenant, message: InboundMessage) -> Outcome:
    """Apply one inbound message; the answer of a replay is the first answer. A message
    without a provider id cannot be told from a repetition, so it is always applied (every
    keyword is safe to apply twice: STOP on an opted-out number changes nothing)."""
    message_key = None
    if message.message_id:
        # Hashed: a provider's id can be any length, a DynamoDB key cannot.
        digest = hashlib.sha256(message.message_id.encode()).hexdigest()
        message_key = f"{tenant.id}#{message.provider}#{digest}"
        previous = store.message_answer(message_key)
        if previous is not None:
            return Outcome(**previous, replay=True)
    try:
        number = phone.normalise(message.sender, tenant.default_country)
    except phone.PhoneError:
        logger.info("inbound from an unusable sender", extra={"provider": message.provider})
        return Outcome("none", None)
    kind = message.handled or keywords.classify(message.text, tenant.keywords)
    hashes = keys.subject_hashes(tenant.id, number.e164)
    for _ in range(_ATTEMPTS):
        now = clock.now()
        subject = store.load_subject(tenant.id, hashes)
        decision = _apply(tenant, message, kind, subject, hashes[0], now)
        outcome = decision.outcome
        answer = {k: v for k, v in asdict(outcome).items() if k != "replay"}
        try:
            if decision.subject is None:
                if message_key and store.remember_message(message_key, answer, now + _REMEMBER) is not None:
                    break  # a concurrent delivery of the same message won: use its answer
            else:
                store.commit(
                    store.Change(
                        decision.subject,
                        decision.events,
                        code=decision.code,
                        due=consent.next_due(decision.subject, tenant),
                        message=(message_key, answer, now + _REMEMBER) if message_key else None,
                    ),
                    now,
                )
        except store.Conflict:
            if message_key and store.message_answer(message_key) is not None:
                break
            continue
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
    else:
        raise store.StoreUnavailable("inbound message kept conflicting")
    stored = store.message_answer(message_key) if message_key else None
    return Outcome(**stored, replay=True) if stored else Outcome("none", None)


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
        event = evidence.append(
            target,
            "optout",
            now,
            {
                **provider_data,
                "consents": changed,
                "via": via,
                "keyword": keywords.keyword_of(message.text, tenant.keywords),
                "campaign": target.last_campaign,
            },
            pii={"text": message.text[:320]},
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


def from_queue(body: str) -> tuple[Tenant | None, InboundMessage]:
    """A queued message and its tenant (None when it is gone); raises ValueError,
    TypeError or KeyError on anything else."""
    data = json.loads(body)
    message = InboundMessage(**data["message"])
    return tenants.get(str(data["tenant"])), message


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
                origination_identity=tenant.sms_origination_identity or message.recipient or None,
                configuration_set=tenant.sms_configuration_set,
            )
        )
    except (sender.SendError, phone.PhoneError) as exc:
        logger.warning("inbound reply not sent", extra={"provider": message.provider, "error": str(exc)})
