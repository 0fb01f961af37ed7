"""Items found by a key of their own: tenant documents and the inbound numbers they own,
confirmation tokens, opt-out codes, and the provider messages already handled."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from smsconsent.clock import iso
from smsconsent.store import models
from smsconsent.store.errors import CONDITION_FAILED, Conflict, NumberTaken, guard
from smsconsent.store.models import (
    CodeItem,
    InboundNumberItem,
    ListTenantItem,
    MessageItem,
    TenantItem,
    TokenItem,
    get_or_none,
)

# ---- tenants and their inbound numbers ----------------------------------------------------


def get_tenant_doc(tenant_id: str) -> dict[str, Any] | None:
    item = get_or_none(TenantItem, f"TENANT#{tenant_id}", "CONFIG", consistent_read=False)
    if item is None:
        return None
    doc: dict[str, Any] = json.loads(item.doc)
    return doc


def put_tenant_doc(doc: dict[str, Any], now: datetime) -> None:
    """Store a (validated) tenant document and index its inbound numbers: each written
    only where no other tenant owns it (``NumberTaken``), and the numbers it no longer
    names freed. Conditional on the stored document being the one read, so two puts of
    one tenant cannot leave a number indexed that neither names."""
    tenant_id = doc["id"]
    pk = f"TENANT#{tenant_id}"
    current = get_or_none(TenantItem, pk, "CONFIG")
    before = set(json.loads(current.doc).get("inbound_numbers") or []) if current else set()
    numbers = list(dict.fromkeys(doc.get("inbound_numbers") or []))
    text = json.dumps(doc, ensure_ascii=False)
    names_list = bool((doc.get("sms") or {}).get("opt_out_list"))
    named_list = bool(current and (json.loads(current.doc).get("sms") or {}).get("opt_out_list"))
    # Where the numbers' items start in the transaction: after the document and, when it
    # changes, the tenant's entry in the opt-out list registry.
    first_number = 2 if names_list or named_list else 1
    try:
        with guard(), TransactWrite(connection=models.connection()) as tx:
            unchanged = TenantItem.doc == current.doc if current else TenantItem.pk.does_not_exist()
            tx.save(TenantItem(pk, "CONFIG", doc=text, updated_at=iso(now)), condition=unchanged)
            if names_list:
                tx.save(ListTenantItem(LIST_TENANTS, tenant_id))
            elif named_list:
                tx.delete(ListTenantItem(LIST_TENANTS, tenant_id))
            for number in numbers:
                tx.save(
                    InboundNumberItem(f"INBOUND#{number}", "NUMBER", tenant=tenant_id),
                    condition=InboundNumberItem.pk.does_not_exist() | (InboundNumberItem.tenant == tenant_id),
                )
            for number in sorted(n for n in before - set(numbers) if tenant_of_number(n) == tenant_id):
                tx.delete(
                    InboundNumberItem(f"INBOUND#{number}", "NUMBER"),
                    condition=InboundNumberItem.tenant == tenant_id,
                )
    except Conflict as exc:
        # The reasons follow the items: the document first, then one per number.
        for number, reason in zip(numbers, exc.reasons[first_number:], strict=False):
            if reason == CONDITION_FAILED:
                raise NumberTaken(number, tenant_of_number(number) or "?") from exc.__cause__
        raise  # the tenant changed meanwhile: read again


LIST_TENANTS = "OPTOUTLISTS"


def opt_out_list_tenants() -> list[str]:
    """The tenants that name an AWS opt-out list (one Query)."""
    with guard():
        return [item.sk for item in ListTenantItem.query(LIST_TENANTS)]


def tenant_of_number(e164: str) -> str | None:
    item = get_or_none(InboundNumberItem, f"INBOUND#{e164}", "NUMBER", consistent_read=False)
    return item.tenant if item is not None else None


# ---- confirmation tokens and opt-out codes ------------------------------------------------


def get_token(token_sha256: str) -> TokenItem | None:
    return get_or_none(TokenItem, f"TOKEN#{token_sha256}", "TOKEN")


def get_code(code: str) -> CodeItem | None:
    return get_or_none(CodeItem, f"OPTOUT#{code}", "CODE")


def delete_code(code: str) -> None:
    with guard():
        CodeItem(f"OPTOUT#{code}", "CODE").delete()


# ---- provider messages already handled -----------------------------------------------------


def message_item(key: str, answer: dict[str, Any], keep_until: datetime | None) -> MessageItem:
    """``keep_until`` None: kept for good (neither expiry nor ttl)."""
    if keep_until is None:
        return MessageItem(f"MSG#{key}", "MSG", answer=json.dumps(answer))
    # ttl a day after the expiry: DynamoDB's deletion is a backstop, never the rule.
    return MessageItem(
        f"MSG#{key}",
        "MSG",
        answer=json.dumps(answer),
        expires_at=int(keep_until.timestamp()),
        ttl=keep_until + timedelta(days=1),
    )


def message_free(now: datetime) -> Condition:
    """The write condition of a message record: none there, or one that has expired."""
    free: Condition = (
        MessageItem.pk.does_not_exist()
        | (MessageItem.expires_at <= int(now.timestamp()))
        | (MessageItem.expires_at.does_not_exist() & (MessageItem.ttl <= now))
    )
    return free


def remember_message(
    message_keys: tuple[str, ...], answer: dict[str, Any], keep_until: datetime | None, now: datetime
) -> dict[str, Any] | None:
    """Record a handled provider message that changed nothing, under all its keys at once;
    returns the earlier answer instead when one of them was already recorded."""
    try:
        with guard(transaction_conflict=True), TransactWrite(connection=models.connection()) as tx:
            for key in message_keys:
                tx.save(message_item(key, answer, keep_until), condition=message_free(now))
    except Conflict:
        return message_answer(message_keys, now) or answer
    return None


def message_answer(message_keys: tuple[str, ...], now: datetime) -> dict[str, Any] | None:
    """The answer a provider message got, when it was handled before under any of its keys
    and the record has not expired (an expired one is as good as absent)."""
    if not message_keys:
        return None
    with guard():
        items = list(
            MessageItem.batch_get([(f"MSG#{key}", "MSG") for key in message_keys], consistent_read=True)
        )
    for item in items:
        if item.expires_at is not None:
            live = item.expires_at > now.timestamp()
        else:
            live = item.ttl is None or item.ttl > now
        if live:
            answer: dict[str, Any] = json.loads(item.answer)
            return answer
    return None
