"""Hostile events for the webhook subscriptions API (see tests/hostile/support.py for what
every answer must be)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures.events import load_event
from tests.hostile.support import (
    PUBLIC_IP,
    Watch,
    fuzz,
    header_text,
    http_events,
    json_text,
    json_values,
    reached,
    sometimes,
)

pytestmark = pytest.mark.usefixtures("aws")

# ---- webhook subscriptions ------------------------------------------------------------------

WEBHOOK_URLS = [
    "https://crm.example.com/hooks/sms-consent",
    "https://crm.example.com:8443/hooks?tenant=demo&x=%20",
    "https://CRM.Example.COM./hooks",
    "https://v6.example.com/",
    f"https://{PUBLIC_IP}/",
    "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443/",
    "https://internal.example.com/",
    "https://metadata.example.com/latest/meta-data",
    "https://mixed.example.com/",
    "https://mapped.example.com/",
    "https://garbage.example.com/",
    "https://localhost/",
    "https://nowhere.example.org/",
    "http://127.0.0.1:1/",
    "http://crm.example.com/hooks",
    "https://10.0.0.1/",
    "https://[::1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[fe80::1%25eth0]/",
    "https://169.254.169.254/",
    "https://0.0.0.0/",
    "https://2130706433/",
    "https://0x7f.1/",
    "https://127.1/",
    "https://user:pw@crm.example.com/",
    "https://crm.example.com/#fragment",
    "https://bücher.example/",
    "https://xn--bcher-kva.example/",
    "https://crm.example.com:0/",
    "https://crm.example.com:99999/",
    "https://crm.example.com:/",
    "ftp://crm.example.com/",
    "//crm.example.com/",
    "https:///",
    "https://[::1/",
    "https://crm.example.com/" + "a" * 3000,
    " https://crm.example.com/hooks ",
    "https://crm.example.com/\n",
    "https://" + "a." * 130 + "com/",
]
WEBHOOK_FIELDS = ["url", "events", "description", "secret", "id"]
CONSENT_EVENT_TYPES = [
    "consent.requested",
    "consent.confirmed",
    "consent.opted_out",
    "consent.restored",
    "consent.lapsed",
    "consent.expired",
    "consent.imported",
    "subject.erased",
    "number.unreachable",
]
KNOWN = "@known"  # a path id replaced at run time by a subscription that exists


@st.composite
def subscription_documents(draw: st.DrawFn) -> dict[str, Any]:
    types = st.sampled_from([*CONSENT_EVENT_TYPES, "*", "consent.everything", "", "CONSENT.OPTED_OUT"])
    doc: dict[str, Any] = {}
    if not draw(sometimes(1)):
        doc["url"] = draw(st.one_of(st.sampled_from(WEBHOOK_URLS), json_text, json_values))
    if draw(st.booleans()):
        doc["events"] = draw(
            st.one_of(st.lists(types, max_size=4), st.lists(json_values, max_size=3), json_values)
        )
    if draw(st.booleans()):
        doc["description"] = draw(st.one_of(json_text, st.just("d" * 201), json_values))
    if draw(sometimes(1)):
        doc.update(
            draw(st.dictionaries(st.sampled_from(WEBHOOK_FIELDS) | json_text, json_values, max_size=2))
        )
    return doc


def _webhook_bases() -> list[dict[str, Any]]:
    bases = [
        load_event(f"webhooks-{kind}.json")
        for kind in ("create", "create", "list", "delete", "delete", "deliveries")
    ]
    for event in bases:
        params = event["pathParameters"]
        if "id" in params:  # most cases name a subscription that exists
            wanted = params["id"]
            params["id"] = KNOWN
            event["rawPath"] = event["rawPath"].replace(wanted, KNOWN)
            event["requestContext"]["http"]["path"] = event["rawPath"]
    return bases


def test_webhooks(context, clock, outbox, network, key_limits):
    """Subscriptions made, listed, deleted and their deliveries read, with any body and
    path: a URL to a private, loopback or unresolvable host is refused (no lookup for real,
    no connection), an unknown id is 404 ``unknown_webhook``, whatever its length."""
    from functions.webhooks.app import handler

    def made(answer: dict[str, Any]) -> str:
        assert answer["statusCode"] == 201, answer["body"]
        return str(json.loads(answer["body"])["id"])

    create = load_event("webhooks-create.json")
    existing = [made(handler(copy.deepcopy(create), context)) for _ in range(3)]
    odd_ids = ["wh_0123456789abcdef01234567", "wh_", "WH_" + "0" * 24, "x" * 1100, "é" * 600, "../..", " "]
    ids = st.one_of(st.sampled_from(odd_ids), header_text)

    @st.composite
    def events(draw: st.DrawFn) -> dict[str, Any]:
        event = draw(
            http_events(
                _webhook_bases(),
                WEBHOOK_FIELDS,
                methods=draw(st.sampled_from([None] * 9 + [["POST", "GET", "DELETE", "PUT"]])),
                path_values={"tenant": st.sampled_from(["demo", "demo", "nosuchtenant"]), "id": ids},
            )
        )
        params = event.get("pathParameters") or {}
        if params.get("id") == KNOWN and draw(sometimes(4)):
            params["id"] = draw(ids)
        if event["requestContext"]["http"]["method"] == "POST" and draw(sometimes(6)):
            body = json.dumps(draw(subscription_documents()), ensure_ascii=draw(st.booleans()))
            event["body"], event["isBase64Encoded"] = body, False
            event.setdefault("headers", {})["content-type"] = "application/json"
        return event

    watch = Watch()

    @fuzz(150)
    @given(events(), st.integers(min_value=0, max_value=100))
    def case(event: dict[str, Any], pick: int) -> None:
        params = event.get("pathParameters") or {}
        if params.get("id") == KNOWN:
            known = existing[pick % len(existing)] if existing else "wh_" + "f" * 24
            params["id"] = known
            event["rawPath"] = event["rawPath"].replace(KNOWN, known)
        answer = watch.run("webhooks", handler, event, context, outbox)
        network.assert_untouched()
        if answer["statusCode"] == 201:
            existing.append(json.loads(answer["body"])["id"])
        elif answer["statusCode"] == 204:
            existing.remove(params["id"])

    case()
    reached(
        "webhooks",
        "201",
        "200",
        "204",
        "404 unknown_webhook",
        "422 invalid_field",
        "404 unknown_tenant",
        "400 malformed_body",
    )
