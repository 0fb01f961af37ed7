"""Privacy function on moto, fed events/: export with a verified chain, erasure that keeps
only a suppression marker when the number opted out, opt-out on the person's behalf."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.events import load_event
from tests.fixtures.journeys import sign_up, stop, subject

pytestmark = pytest.mark.usefixtures("aws")

PHONE = "+4915112345678"


def call(context: Any, name: str, **changes: Any) -> tuple[int, dict[str, Any]]:
    from functions.privacy.app import handler

    answer = handler(load_event(name, **changes), context)
    return answer["statusCode"], json.loads(answer["body"])


def erasure(body: dict[str, Any]) -> dict[str, Any]:
    """An erasure's answer with its words checked: the three flags as before, plus the
    ``outcome``, a ``summary`` sentence and what was ``kept`` (by ``what``) and until when."""
    assert isinstance(body.pop("summary"), str)
    body["kept"] = [(k["what"], k["until"]) for k in body["kept"]]
    return body


def test_export_holds_everything_and_verifies_the_chain(context, outbox):
    sign_up(context, outbox, confirm=True)
    status, body = call(context, "privacy-export.json")
    assert status == 200 and body["held"] is True and body["phone"] == PHONE
    [record] = body["consents"]
    assert (record["channel"], record["purpose"], record["state"]) == ("sms", "marketing", "active")
    assert "token" not in record and "confirmed_token" not in record
    assert [e["type"] for e in body["evidence"]] == ["optin_requested", "optin_confirmed"]
    assert body["evidence"][0]["personal_data"]["ip"]
    assert body["chain"] == {"verified": True, "detail": "ok", "events": 2}
    assert body["subject"]["optout_url"].startswith("http://127.0.0.1:3000/o/")
    assert body["suppressed"] is False


def test_export_detects_an_altered_or_removed_event(context, outbox):
    sign_up(context, outbox, confirm=True)
    from smsconsent import store

    found = subject()
    first = store.EvidenceItem.get(found.pk, "EV#00000001")
    first.update(actions=[store.EvidenceItem.data.set(first.data.replace("marketing", "newsletter"))])
    status, body = call(context, "privacy-export.json")
    assert status == 200 and body["chain"]["verified"] is False and "altered" in body["chain"]["detail"]
    store.EvidenceItem.get(found.pk, "EV#00000001").delete()
    _status, body = call(context, "privacy-export.json")
    assert body["chain"]["verified"] is False and "missing" in body["chain"]["detail"]


def test_export_of_an_unknown_number_says_nothing_is_held(context):
    status, body = call(context, "privacy-export.json")
    assert (status, body["held"], body["consents"]) == (200, False, [])


def test_erasure_of_an_active_number_removes_everything(context, outbox):
    sign_up(context, outbox, confirm=True)
    code = subject().optout_code
    status, body = call(context, "privacy-erase.json")
    assert (status, erasure(body)) == (
        200,
        {"erased": True, "held": True, "suppression_kept": False, "outcome": "deleted", "kept": []},
    )
    assert subject() is None
    from smsconsent import store

    assert store.get_code(code) is None
    status, body = call(context, "privacy-export.json")
    assert body["held"] is False


@pytest.mark.parametrize("changes", [1, 5])
def test_export_reads_subject_and_evidence_as_of_one_moment(context, outbox, monkeypatch, changes):
    # Given a confirmed number, and changes committed between the export's read of the
    # subject and its read of the evidence (the list sync after a STOP, say): once, or on
    # every read
    from smsconsent import store

    sign_up(context, outbox, confirm=True)
    real = store.evidence_of
    left = [changes]

    def racing(pk: str) -> list[Any]:
        from smsconsent import inbound, tenants
        from smsconsent.providers.base import InboundMessage

        if left[0]:
            left[0] -= 1
            # a STOP or a START, committed (with its evidence) after the subject was read
            word = "STOP" if left[0] % 2 == 0 else "START"
            message = InboundMessage("twilio", f"SM-race-{left[0]}", PHONE, "+4915790000000", word)
            inbound.receive(tenants.get("demo"), message)
        return real(pk)

    monkeypatch.setattr(store, "evidence_of", racing)
    # When it is exported
    status, body = call(context, "privacy-export.json")
    # Then the chain verifies: as of a moment the subject and its evidence agree on
    assert status == 200
    assert body["chain"] == {"verified": True, "detail": "ok", "events": len(body["evidence"])}
    assert [e["seq"] for e in body["evidence"]] == list(range(1, len(body["evidence"]) + 1))


def test_an_erasure_between_the_export_s_reads_answers_as_after_it(context, outbox, monkeypatch):
    # Given a confirmed number erased (subject and evidence deleted) after the export read
    # its subject and before it read the evidence
    from smsconsent import store

    sign_up(context, outbox, confirm=True)
    real = store.evidence_of
    erased: list[int] = []

    def racing(pk: str) -> list[Any]:
        if not erased:
            erased.append(1)
            assert call(context, "privacy-erase.json")[0] == 200
        return real(pk)

    monkeypatch.setattr(store, "evidence_of", racing)
    # When it is exported, Then the answer is the one after the erasure: nothing held
    status, body = call(context, "privacy-export.json")
    assert (status, body["held"], body["evidence"]) == (200, False, [])


def test_an_evidence_item_deleted_behind_the_store_s_back_is_reported(context, outbox):
    # Given a confirmed number whose first evidence item someone deleted
    from smsconsent import store

    sign_up(context, outbox, confirm=True)
    first = next(i for i in store.EvidenceItem.query(subject().pk) if i.seq == 1)
    first.delete()
    # When it is exported (reading again finds the same), Then the chain says what is missing
    status, body = call(context, "privacy-export.json")
    assert status == 200 and body["chain"]["verified"] is False
    assert body["chain"]["detail"] == "events missing: [1]"


def test_erasure_of_an_opted_out_number_keeps_only_the_suppression_marker(context, outbox, clock):
    sign_up(context, outbox, confirm=True)
    stop()
    status, body = call(context, "privacy-erase.json")
    # the evidence of the STOP (2026-11-22T10:00:00Z) stays 1461 days, without personal data
    kept = [("suppression_marker", None), ("evidence", "2030-11-22T10:00:00Z")]
    assert (status, erasure(body)) == (
        200,
        {"erased": True, "held": True, "suppression_kept": True, "outcome": "suppression_kept", "kept": kept},
    )
    found = subject()
    assert found.phone is None and found.language is None and found.optout_code is None
    assert _item_of(found).zones is None  # the number's time zones go with it
    assert {r["state"] for r in found.consents.values()} == {"opted_out"}
    _status, export = call(context, "privacy-export.json")
    assert export["suppressed"] is True
    # nothing personal left in the evidence, and the chain still verifies
    assert all(e["personal_data"] is None for e in export["evidence"])
    assert export["evidence"][-1]["type"] == "erased"
    assert export["chain"]["verified"] is True
    # erasing again finds nothing left to erase and adds no event
    status, again = call(context, "privacy-erase.json")
    assert (status, erasure(again)) == (
        200,
        {"erased": False, "held": True, "suppression_kept": True, "outcome": "already_erased", "kept": kept},
    )
    _status, after = call(context, "privacy-export.json")
    assert after["evidence"] == export["evidence"]
    # the marker still suppresses: a new signup (after the resend cooldown) is only pending
    clock.advance(minutes=11)
    sign_up(context, outbox)
    assert subject().consents["sms:marketing"]["state"] == "pending"
    assert subject().consents["sms:marketing"]["prior"]["state"] == "opted_out"


def test_erasure_keeps_the_opt_out_under_a_new_unconfirmed_signup(context, outbox, clock):
    # Given a number that said STOP, and then a web signup for it that nobody confirmed
    # (anyone who knows the number can make one)
    sign_up(context, outbox, confirm=True)
    stop()
    clock.advance(minutes=11)
    sign_up(context, outbox)
    assert subject().consents["sms:marketing"]["state"] == "pending"
    _status, export = call(context, "privacy-export.json")
    assert export["suppressed"] is True  # the opt-out still holds until a confirmation
    # When the number is erased
    status, body = call(context, "privacy-erase.json")
    # Then the opt-out survives as the suppression marker; the request and its link go
    assert status == 200
    assert {k: body[k] for k in ("erased", "held", "suppression_kept", "outcome")} == {
        "erased": True,
        "held": True,
        "suppression_kept": True,
        "outcome": "suppression_kept",
    }
    found = subject()
    assert found.phone is None and found.pending is None
    assert _item_of(found).zones is None
    marker = {"state": "opted_out", "since": "2026-11-22T10:00:00Z"}  # the STOP's time
    assert found.consents == {"sms:marketing": marker, "sms:newsletter": marker}
    from smsconsent import consent

    assert consent.holds_opt_out(found)


def test_opt_out_on_behalf_with_a_reason(context, outbox):
    sign_up(context, outbox, confirm=True)
    status, body = call(context, "privacy-optout.json")
    assert status == 200 and body["status"] == "opted_out"
    assert subject().consents["sms:marketing"]["state"] == "opted_out"
    from smsconsent import store

    [event] = [e for e in store.evidence_of(subject().pk) if e.type == "optout"]
    assert event.data["via"] == "privacy"
    assert event.pii["reason"] == "Customer called the hotline and asked to stop"
    status, body = call(context, "privacy-optout.json")
    assert body["status"] == "already_opted_out"


def test_opt_out_on_behalf_of_an_unknown_number_suppresses_it(context):
    _status, body = call(context, "privacy-optout.json")
    assert body["status"] == "opted_out"
    assert subject().phone is None and _item_of(subject()).zones is None
    assert subject().consents["sms:marketing"]["state"] == "opted_out"


@pytest.mark.parametrize("raw", ["not-a-number", "%2B49", "+1"])
def test_a_bad_phone_is_422(context, raw):
    status, body = call(context, "privacy-export.json", pathParameters={"tenant": "demo", "phone": raw})
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "invalid_phone", "phone")


def test_unknown_tenant_is_404(context):
    status, body = call(context, "privacy-export.json", pathParameters={"tenant": "nope", "phone": PHONE})
    assert (status, body["error"]["code"]) == (404, "unknown_tenant")


def _table_text() -> str:
    """Every item of the table as text (the moto table, scanned whole)."""
    import boto3

    from tests.fixtures.aws import TABLE

    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    return json.dumps(items, ensure_ascii=False)


def test_erasure_leaves_no_personal_data_from_free_text_fields(context, outbox, clock):
    from functions.signup.app import handler
    from smsconsent import inbound, optout, tenants
    from smsconsent.providers.base import InboundMessage

    # Given a signup whose source URL carries the number and an e-mail address
    source = "https://shop.example/landing?phone=%2B4915112345678&email=jane.doe@mail.example"
    event = load_event("signup-json.json")
    event["body"] = json.dumps({"phone": PHONE, "consent": True, "age_confirmed": True, "source": source})
    assert handler(event, context)["statusCode"] == 202
    token = outbox.messages()[-1]["body"].split("/c/")[1].split()[0]
    from smsconsent import confirmation

    assert confirmation.confirm(token, "198.51.100.1", "ua").status == "confirmed"
    # a plain-language opt-out by SMS that names a number, a START, an opt-out by the link
    # with a reason holding a number, a START, and one on the person's behalf with another
    tenant = tenants.get("demo")
    text = "015112345678 wrong number"
    inbound.receive(tenant, InboundMessage("twilio", "SM-plain", PHONE, "+4915790000000", text))
    inbound.receive(tenant, InboundMessage("twilio", "SM-start-1", PHONE, "+4915790000000", "START"))
    link_reason = "please stop, call me on 0170 55512345 instead"
    assert optout.by_link(subject().optout_code, link_reason, "198.51.100.2", "ua").status == "opted_out"
    inbound.receive(tenant, InboundMessage("twilio", "SM-start-2", PHONE, "+4915790000000", "START"))
    status, body = call(
        context,
        "privacy-optout.json",
        body=json.dumps({"reason": "asked by mail from jane.doe@mail.example, 0151 98765432"}),
    )
    assert (status, body["status"]) == (200, "opted_out")
    personal = ["15112345678", "55512345", "98765432", "jane", "mail.example", "%2B49"]

    # Then the evidence data holds only what is not personal: the origin of the source URL,
    # no keyword for a plain-language opt-out, no reason
    _status, export = call(context, "privacy-export.json")
    data = json.dumps([e["data"] for e in export["evidence"]])
    assert not [p for p in personal if p in data], data
    requested = export["evidence"][0]
    assert requested["data"]["source"] == "https://shop.example"
    plain = next(e for e in export["evidence"] if e["type"] == "optout" and e["data"]["via"] == "sms_keyword")
    assert plain["data"]["keyword"] is None
    # and the privacy officer still sees all of it before the erasure
    held = json.dumps([e["personal_data"] for e in export["evidence"]], ensure_ascii=False)
    assert source in held and text in held and link_reason in held and "0151 98765432" in held
    assert export["chain"]["verified"] is True

    # When the number is erased; Then none of it is anywhere in the table
    status, erased = call(context, "privacy-erase.json")
    assert (status, erased["suppression_kept"]) == (200, True)
    left = _table_text()
    assert not [p for p in personal if p in left]
    _status, after = call(context, "privacy-export.json")
    assert after["chain"]["verified"] is True and after["suppressed"] is True


def test_a_known_keyword_is_kept_in_canonical_form(context, outbox):
    from smsconsent import inbound, store, tenants
    from smsconsent.providers.base import InboundMessage

    sign_up(context, outbox, confirm=True)
    tenant = tenants.get("demo")
    inbound.receive(tenant, InboundMessage("twilio", "SM-k", PHONE, "+4915790000000", "opt-out 0151 1234567"))
    [event] = [e for e in store.evidence_of(subject().pk) if e.type == "optout"]
    assert event.data["keyword"] == "OPTOUT"
    assert event.pii == {"text": "opt-out 0151 1234567"}


def _item_of(found: Any) -> Any:
    from smsconsent import store

    return store.SubjectItem.get(found.pk, "SUBJECT")
