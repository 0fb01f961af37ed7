"""The stand-in AWS opt-out list on the local stack: an opt-out is on it within moments
(GET /_local/provider-optouts), a STOP the person sent to AWS (POST) is found by the
reconciliation run through `make invoke`'s route, and a reset empties it."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from local.stack import LocalStack
from tests.fixtures.journeys import JSON_ACCEPT, PHONE, call, link_in, outbox, signup

pytestmark = pytest.mark.usefixtures("fresh")

OTHER = "+4915199999999"


def shown(stack: LocalStack) -> dict[str, bool]:
    answer = call(stack, "GET", "/_local/provider-optouts", headers=JSON_ACCEPT)
    assert answer.status == 200, answer.text
    return {e["phone"]: e["end_user_opted_out"] for e in answer.json()["lists"].get("demo-optouts", [])}


def test_an_opt_out_reaches_the_list_and_a_reconciliation_finds_the_lists_own(stack: LocalStack) -> None:
    assert signup(stack).status == 202
    path = link_in(stack, outbox(stack)[-1])
    assert call(stack, "POST", path, headers=JSON_ACCEPT).json() == {"status": "confirmed"}
    assert shown(stack) == {}
    assert call(stack, "POST", f"/v1/demo/subjects/{quote(PHONE)}/optout", json_body={}).status == 200
    assert shown(stack) == {PHONE: False}
    # A number that replied STOP to AWS itself
    added = call(stack, "POST", "/_local/provider-optouts", json_body={"phone": OTHER})
    assert added.status == 200 and OTHER in json.dumps(added.json())
    run = call(stack, "POST", "/_local/invoke/ListReconcileFunction", json_body={})
    assert run.status == 200, run.text
    [summary] = run.json()["tenants"]
    assert (summary["listed"], summary["drift_found"], summary["opted_out"]) == (2, 1, 1)
    subject = call(stack, "GET", f"/v1/demo/subjects/{quote(OTHER)}", headers=JSON_ACCEPT)
    assert subject.status == 200, subject.text
    assert "opted_out" in subject.text
    # A reset empties the stand-in list too
    call(stack, "POST", "/_local/reset", data=b"", headers={"X-Requested-With": "tests"})
    assert shown(stack) == {}


def test_bad_additions_are_refused_with_the_field(stack: LocalStack) -> None:
    bad = call(stack, "POST", "/_local/provider-optouts", json_body={"phone": "0151 123"})
    assert (bad.status, bad.json()["error"]["field"]) == (422, "phone")
    assert (
        call(
            stack, "POST", "/_local/provider-optouts", data=b"[", headers={"Content-Type": "application/json"}
        ).status
        == 400
    )
    assert call(stack, "DELETE", "/_local/provider-optouts", headers={"X-Requested-With": "t"}).status == 405
