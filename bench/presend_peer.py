"""What the pre-send check is measured against: a naive peer and a floor.

``naive``: the check as most teams would write it: every recipient parsed and validated by
``phonenumbers``, its subject key made, the subjects read with pynamodb's ``batch_get``
into pynamodb items (its own model and client, strongly consistent), each consent record
decoded with ``json`` and the answer built and encoded. It decides less than the real
check (no lapse clock, caps, quiet hours, footers): a peer, not a replacement.

``floor``: what no check of these numbers can avoid: the HMAC of each number (its key)
and decoding its item from DynamoDB's answer (the page's JSON and the consent records
inside it), with the fastest HMAC and decoder the layer has (``keys``, ``orjson``).

Both run against the same canned subjects as ``bench.presend_cpu`` (DynamoDB answered at
the HTTP layer, so botocore's request and response work is in the peer's figure, as in the
handler's); ``bench.presend_cpu.versus`` times them side by side.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import orjson
import phonenumbers
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

PAGE = 100


def model(table: str, region: str) -> type[Model]:
    """A subject as a team would model it, with its own pynamodb connection."""

    class NaiveSubject(Model):
        class Meta:
            table_name = table
            region: str | None = None

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        consents = UnicodeAttribute(null=True)
        region = UnicodeAttribute(null=True)
        language = UnicodeAttribute(null=True)
        optout_code = UnicodeAttribute(null=True)
        last_contact_at = UnicodeAttribute(null=True)
        sends = UnicodeAttribute(null=True)
        last_campaign = UnicodeAttribute(null=True)
        version = NumberAttribute(null=True)

    NaiveSubject.Meta.region = region
    return NaiveSubject


def naive(
    subject_model: type[Any], recipients: list[str], tenant: str, country: str, key: bytes, version: str
) -> bytes:
    """The answer body for ``recipients`` (marketing on SMS), naively."""
    numbers: dict[str, str | None] = {}
    for raw in recipients:
        try:
            parsed = phonenumbers.parse(raw, country)
            valid = phonenumbers.is_valid_number(parsed)
        except phonenumbers.NumberParseException:
            valid = False
        numbers[raw] = (
            phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) if valid else None
        )
    pks = {}
    for e164 in numbers.values():
        if e164 is not None:
            digest = hmac.new(key, f"{tenant}\n{e164}".encode(), hashlib.sha256).hexdigest()
            pks[e164] = f"SUBJ#{tenant}#{version}.{digest}"
    keys = [(pk, "SUBJECT") for pk in pks.values()]
    items = {item.pk: item for item in subject_model.batch_get(keys, consistent_read=True)}
    results = []
    for raw, e164 in numbers.items():
        item = items.get(pks[e164]) if e164 is not None else None
        record = json.loads(item.consents or "{}").get("sms:marketing") if item is not None else None
        allowed = isinstance(record, dict) and record.get("state") == "active"
        reason = "ok" if allowed else ("invalid_phone" if e164 is None else "no_consent")
        results.append({"input": raw, "phone": e164, "allowed": allowed, "reason": reason})
    allowed_count = sum(1 for r in results if r["allowed"])
    summary = {"allowed": allowed_count, "denied": len(results) - allowed_count}
    return json.dumps({"results": results, "summary": summary}).encode()


def floor(recipients: list[str], pages: list[bytes], tenant: str) -> int:
    """The unavoidable work: each number's HMAC (the fastest the layer has:
    ``keys.subject_hash``) and the decoding of its item (``pages``: DynamoDB's answer bodies
    for these numbers, as the check projects them). Returns the items decoded."""
    from smsconsent import keys

    for e164 in recipients:
        keys.subject_hash(tenant, e164)
    decoded = 0
    for body in pages:
        for items in orjson.loads(body)["Responses"].values():
            for item in items:
                orjson.loads(item["consents"]["S"])
                decoded += 1
    return decoded


def pages_of(table: str, items: list[dict[str, Any]]) -> list[bytes]:
    """DynamoDB's answers to BatchGetItem for ``items``, a page of 100 at a time."""
    return [
        json.dumps({"Responses": {table: items[i : i + PAGE]}, "UnprocessedKeys": {}}).encode()
        for i in range(0, len(items), PAGE)
    ]
