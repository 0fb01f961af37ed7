"""Double opt-in signup: validate, open (or widen) a pending consent with its evidence in
one conditional write, then send exactly one confirmation SMS.

The HTTP answer must not tell a new number from a known one, by its content or by its
time. So the handler only validates, counts the budgets (the same for every valid
signup) and queues the request (``submit``); the rest (``process``: load, decide,
commit, send) runs off the request path, from ``SignupQueue`` in AWS and from an
in-process queue on the local stack. Without either (tests that call the handler) it
runs inline."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from smsconsent import (
    clock,
    consent,
    errors,
    evidence,
    keys,
    messages,
    metrics,
    optout,
    phone,
    sender,
    settings,
    store,
    tenants,
)
from smsconsent.observability import logger, mask
from smsconsent.retry import retry_on_conflict
from smsconsent.signup.budgets import (
    REFUSED_PER_VALID,
    _number_key,
    check_ip_budget,
    check_number_budgets,
    check_refused_budget,
)
from smsconsent.signup.form import (
    _MAX_TEXT,
    AFFIRMATIVE,
    SignupForm,
    affirmative,
    parse_form,
    public_source,
)
from smsconsent.tenants import Tenant

__all__ = [
    "AFFIRMATIVE",
    "REFUSED_PER_VALID",
    "SignupForm",
    "SignupRequest",
    "affirmative",
    "check_ip_budget",
    "check_number_budgets",
    "check_refused_budget",
    "parse_form",
    "process",
    "public_source",
    "set_local_queue",
    "sign_up",
    "submit",
]


@dataclass
class SignupRequest:
    """A valid signup within its budgets, as queued: everything ``process`` needs."""

    id: str  # random; names the request across redeliveries (and derives its token)
    tenant: str
    form: SignupForm
    ip: str
    user_agent: str
    via: str
    at: str  # when it was made

    def to_json(self) -> str:
        data = asdict(self)
        data["form"]["phone"] = asdict(self.form.phone)
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, body: str) -> SignupRequest:
        """Raises ValueError, TypeError or KeyError on anything but a queued request."""
        data = json.loads(body)
        form = dict(data["form"])
        form["phone"] = phone.Phone(**form["phone"])
        return cls(**{**data, "form": SignupForm(**form)})


# The local stack's in-process SignupQueue (``local.queue``): called with the message body.
_local_queue: Callable[[str], None] | None = None


def set_local_queue(send: Callable[[str], None] | None) -> None:
    global _local_queue
    _local_queue = send


def submit(tenant: Tenant, form: SignupForm, ip: str, user_agent: str, via: str, now: datetime) -> str:
    """Queue a signup that passed validation and budgets (``queued``), or without a queue
    process it now (what ``process`` returns)."""
    request = SignupRequest(
        id=keys.new_token(),
        tenant=tenant.id,
        form=form,
        ip=ip,
        user_agent=user_agent[:_MAX_TEXT],
        via=via,
        at=clock.iso(now),
    )
    url = settings.get().signup_queue_url
    if url:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            sender.queue_client().send_message(QueueUrl=url, MessageBody=request.to_json())
        except (BotoCoreError, ClientError) as exc:
            logger.warning("signup could not be queued", extra={"error": type(exc).__name__})
            raise errors.Unavailable(
                "service_unavailable", "the signup could not be taken; retry", retry_after=2
            ) from exc
        return "queued"
    if _local_queue is not None:
        _local_queue(request.to_json())
        return "queued"
    return sign_up(tenant, request)


def process(request: SignupRequest) -> str:
    """A queued signup (``SignupRequest.from_json`` of the message): what ``sign_up``
    returns, ``dropped`` for one that no longer can be done. Whatever it raises (a tenant
    whose settings fail validation right now included) means: try again later."""
    tenant = tenants.get(request.tenant)
    if tenant is None:
        logger.warning("queued signup for a tenant that is gone; dropped")
        return "dropped"
    if clock.now() >= clock.parse_iso(request.at) + timedelta(hours=tenant.token_ttl_hours):
        # Its link would have expired by now: a confirmation SMS this late only confuses.
        logger.warning("queued signup older than the token lifetime; dropped")
        return "dropped"
    return sign_up(tenant, request)


def _request_key(tenant: Tenant, request: SignupRequest) -> str:
    return f"{tenant.id}#signup#{request.id}"


def _request_token(request: SignupRequest, version: str | None = None) -> str:
    """The request's confirmation token: derived (keyed) from its id, so a redelivery of a
    request whose SMS may not have gone out sends the same link, never one that voids it."""
    digest = keys.keyed_digest(f"signup-token\n{request.id}".encode(), version).split(".", 1)[1]
    return base64.urlsafe_b64encode(bytes.fromhex(digest)[:18]).decode()


def sign_up(tenant: Tenant, request: SignupRequest) -> str:
    """Open or widen the pending consent and send its SMS; returns what happened
    (``sent``, ``cooldown``, ``active``, ``repeated``) for logs and metrics, never for the
    answer. A request is done once: its commit records its id, and a redelivery finds it."""
    form, ip, user_agent, via = request.form, request.ip, request.user_agent, request.via
    hashes = keys.subject_hashes(tenant.id, form.phone.e164)
    cooldown_key = _number_key(tenant, form.phone)
    message_keys = (_request_key(tenant, request),)
    done = store.message_answer(message_keys, clock.now())
    if done is not None:
        return _again(tenant, request, done, hashes, cooldown_key)
    last_sms = store.last_sms_at(cooldown_key)
    source = public_source(form.source)
    version = keys.pepper().current
    token = _request_token(request, version)

    def attempt() -> str | dict[str, Any] | _Opened:
        """Read, decide, write: what happened, the stored answer of a concurrent delivery
        of this request that committed first, or the opt-in opened (its SMS not sent yet:
        nothing goes out while the write may still be tried again)."""
        now = clock.now()
        subject = store.load_subject(tenant.id, hashes) or store.new_subject(tenant.id, hashes[0], now)
        # The number is held only for open requests (none before, or only for such):
        # the retention job drops it again when they all expire unconfirmed.
        number_from_request = subject.phone is None or any(
            p.get("number_from_request") for p in consent.open_opt_ins(subject).values()
        )
        token_sha = keys.token_hash(token)
        opt_in = consent.OptInRequest(
            purposes=form.purposes,
            channel=form.channel,
            text=form.text,
            language=form.language,
            source=source,
            country=form.phone.region,
        )
        decision = consent.request_opt_in(subject, tenant, opt_in, token_sha, now)
        if decision.action == "none":
            _reachable_again(subject, tenant, now)
            return "active"
        if decision.action == "cooldown" and not decision.purposes:
            _reachable_again(subject, tenant, now)
            return "cooldown"  # nothing the open opt-in covers: nothing to change or record
        if (
            decision.action == "send"
            and last_sms
            and now < last_sms + timedelta(minutes=tenant.resend_cooldown_minutes)
        ):
            # A link went out minutes ago (its opt-in since closed by a STOP or confirmed):
            # no second SMS yet, the same answer.
            _reachable_again(subject, tenant, now)
            return "cooldown"
        opened = (subject.pending or {}).get(form.channel)
        if number_from_request and opened is not None:
            opened["number_from_request"] = True  # gone again if this request expires
        subject.phone, subject.region = form.phone.e164, form.phone.region
        # Signed up again: a provider's earlier "no such number" no longer holds (the
        # SPEC: unreachable until the number signs up again or texts in).
        subject.unreachable = None
        event = evidence.append(
            subject,
            "optin_requested" if decision.action == "send" else "optin_repeated",
            now,
            {
                "purposes": decision.purposes,
                "channel": form.channel,
                "consent_text": form.text,
                "language": form.language,
                "source": source,
                "country": form.phone.region,
                "via": via,
                "token_sha256": consent.pending_token(subject, form.channel),
                "requested_at": request.at,
            },
            pii={
                "ip": ip,
                "user_agent": user_agent[:_MAX_TEXT],
                "source": form.source if form.source != source else None,
            },
        )
        keep_token = now + timedelta(hours=tenant.token_ttl_hours, days=30)
        answer = {"action": decision.action, "channel": form.channel, "pepper": version}
        change = store.Change(
            subject,
            [event],
            token=(token_sha, now, keep_token) if decision.action == "send" else None,
            due=consent.next_due(subject, tenant),
            message=(message_keys, answer, now + timedelta(hours=tenant.token_ttl_hours, days=1)),
        )
        try:
            store.commit(change, now)
        except store.Conflict:
            done = store.message_answer(message_keys, clock.now())
            if done is None:
                raise  # someone else changed the subject: decide again on what is there now
            return done  # a concurrent delivery of this request committed it
        if decision.action == "cooldown":
            return "cooldown"
        return _Opened(subject, decision.purposes, token_sha)

    settled = retry_on_conflict(attempt, "the number is being changed by another request; retry")
    if isinstance(settled, dict):
        return _again(tenant, request, settled, hashes, cooldown_key)
    if isinstance(settled, _Opened):
        if _send_confirmation(tenant, settled.subject, form, settled.purposes, token, settled.token_sha):
            _note_sms(tenant, cooldown_key)
        return "sent"
    return settled


def _reachable_again(subject: store.Subject, tenant: Tenant, now: datetime) -> None:
    """A signup that changes nothing else still ends a provider's "unreachable": the number
    signed up again (a lost race raises Conflict: decided again)."""
    if not subject.unreachable or subject.version is None:
        return
    subject.unreachable = None
    event = evidence.append(subject, "number_reachable", now, {"via": "signup"})
    store.commit(store.Change(subject, [event], due=consent.next_due(subject, tenant)), now)


@dataclass
class _Opened:
    """An opt-in committed with its token, whose confirmation SMS is still to send."""

    subject: store.Subject
    purposes: list[str]
    token_sha: str


def _again(
    tenant: Tenant, request: SignupRequest, done: dict[str, Any], hashes: list[str], cooldown_key: str
) -> str:
    """A request delivered again after its commit. Its SMS is sent only when the commit's
    open opt-in is still there, unsent as far as we know (the first delivery failed or
    stopped between the commit and the send), and then with the same link."""
    channel = request.form.channel
    if done.get("action") != "send":
        return "repeated"
    subject = store.load_subject(tenant.id, hashes)
    opened = consent.open_opt_ins(subject).get(channel) if subject else None
    token = _request_token(request, done.get("pepper"))
    token_sha = keys.token_hash(token)
    if subject is None or not opened or opened.get("token") != token_sha or opened.get("sms_at"):
        return "repeated"
    last_sms = store.last_sms_at(cooldown_key)
    if last_sms and last_sms >= clock.parse_iso(opened["issued_at"]):
        return "repeated"  # it went out (only its mark on the open opt-in was lost)
    if _send_confirmation(tenant, subject, request.form, opened["purposes"], token, token_sha):
        _note_sms(tenant, cooldown_key)
    return "sent"


def _note_sms(tenant: Tenant, cooldown_key: str) -> None:
    try:
        store.set_last_sms(
            cooldown_key, clock.now(), timedelta(minutes=tenant.resend_cooldown_minutes, days=1)
        )
    except store.StoreUnavailable as exc:  # the SMS is out: answer as sent (see below)
        logger.warning("resend cooldown not recorded", extra={"error": str(exc)})


def _send_confirmation(
    tenant: Tenant, subject: store.Subject, form: SignupForm, purposes: list[str], token: str, token_sha: str
) -> bool:
    """Send (or queue) the confirmation SMS; False when the provider refused the number
    because it opted out there."""
    body = messages.confirmation(tenant, purposes, form.language, tenant.link(f"/c/{token}"), form.channel)
    message = sender.SmsMessage(
        to=form.phone.e164,
        body=body,
        tenant=tenant.id,
        kind="confirmation",
        origination_identity=tenant.sms_origination_identity,
        configuration_set=tenant.sms_configuration_set,
    )
    try:
        message_id = sender.deliver(message)
    except sender.SendError as exc:
        if exc.opted_out:
            # The provider says this number opted out with it: honour that here too, and
            # answer as for any signup.
            optout.provider_opted_out(tenant, form.phone.e164, str(exc))
            return False
        # Neither sent nor queued: the pending consent stays without "sms_at", so the
        # caller's retry opens a new token and sends again; nothing is lost.
        logger.warning("confirmation SMS failed", extra={"to": mask(form.phone.e164), "error": str(exc)})
        raise errors.Unavailable(
            "sms_unavailable", "the confirmation SMS could not be sent; retry", retry_after=30
        ) from exc
    try:
        store.mark_sms_sent(subject, form.channel, token_sha, clock.now())
    except store.StoreUnavailable as exc:
        # The SMS went out and its link works; a refusal now would make the caller retry and
        # send a second SMS whose new link voids this one. Only a YES reply to this SMS
        # goes unrecognised (nothing records that it went out).
        logger.warning("confirmation SMS sent but not recorded as sent", extra={"error": str(exc)})
    metrics.count("ConfirmationSmsSent", country=form.phone.region)
    logger.info("confirmation SMS sent", extra={"to": mask(form.phone.e164), "message_id": message_id})
    return True
