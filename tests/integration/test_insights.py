"""Insights: what the consent events add up to, per tenant and UTC day, each event counted
once (hand-counted journeys, duplicated stream deliveries, retried batches), the sends
the pre-send check records per campaign, and the route that reads a range with one Query."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.journeys import PHONE, inbound, sign_up, stop, subject, twilio_event


def _evidence(kind: str, phone: str = PHONE) -> list[Any]:
    from smsconsent import store

    return [e for e in store.evidence_of(subject(phone).pk) if e.type == kind]


@pytest.mark.usefixtures("aws")
def test_an_optout_names_the_numbers_country_and_a_confirmation_when_its_link_was_issued(
    context: Any, outbox: Any, clock: Any
) -> None:
    # Given a number that signs up, and confirms 7 minutes later
    sign_up(context, outbox, confirm=False)
    issued = clock.now
    clock.advance(minutes=7)
    token = outbox.messages()[-1]["body"].split("/c/")[1].split()[0]
    from smsconsent import confirmation

    assert confirmation.confirm(token, "198.51.100.1", "ua").status == "confirmed"
    # When it texts STOP
    inbound(context, twilio_event("STOP", sid="SM-country"))
    # Then the confirmation says when its link was issued, the opt-out the number's country
    (confirmed,) = _evidence("optin_confirmed")
    assert confirmed.data["issued_at"] == issued.strftime("%Y-%m-%dT%H:%M:%SZ")
    (optout,) = _evidence("optout")
    assert optout.data["country"] == "DE"
    # And so do an opt-out by link and one of a number never signed up (a bare STOP)
    austrian = "+436641234567"
    sign_up(context, outbox, phone=austrian, confirm=True)
    from smsconsent import optout

    assert optout.by_link(subject(austrian).optout_code, None, "198.51.100.2", "ua").status == "opted_out"
    (by_link,) = _evidence("optout", austrian)
    assert by_link.data["country"] == "AT"
    stop("+33612345678")
    (bare,) = _evidence("optout", "+33612345678")
    assert bare.data["country"] == "FR"


# ---- hand-counted journeys --------------------------------------------------------------------

AUSTRIAN = "+436641234567"
FRENCH = "+33612345678"
STRANGER = "+33698765432"  # texts STOP without ever signing up


def _confirm_last(outbox: Any) -> None:
    from smsconsent import confirmation

    token = outbox.messages()[-1]["body"].split("/c/")[1].split()[0]
    assert confirmation.confirm(token, "198.51.100.1", "ua").status == "confirmed"


def _check(context: Any, recipients: list[str], campaign: str, send_at: str) -> dict[str, Any]:
    import json

    from functions.presend.app import handler
    from tests.fixtures.events import load_event

    event = load_event("presend-http.json")
    body = {"recipients": recipients, "campaign": campaign, "send_at": send_at, "record": True}
    event["body"] = json.dumps({**body, "category": "marketing", "purpose": "marketing", "channel": "sms"})
    answer = handler(event, context)
    assert answer["statusCode"] == 200, answer["body"]
    return dict(json.loads(answer["body"]))


def _journeys(context: Any, outbox: Any, clock: Any) -> None:
    """On Sunday 2026-11-22 (UTC): three signups (DE, AT, FR); DE confirms after 7 minutes,
    AT after 20; the campaign "winter" goes to both (and the same request again: a retry);
    DE texts STOP, AT opts out by link, a stranger texts STOP. On Tuesday the FR signup
    has expired (48 hours) and the stranger is erased."""
    sign_up(context, outbox)  # 10:00
    clock.advance(minutes=7)
    _confirm_last(outbox)  # 10:07: 7 minutes
    sign_up(context, outbox, phone=AUSTRIAN)  # 10:07
    clock.advance(minutes=20)
    _confirm_last(outbox)  # 10:27: 20 minutes
    sign_up(context, outbox, phone=FRENCH)  # 10:27, never confirmed
    clock.advance(minutes=3)  # 10:30
    first = _check(context, [PHONE, AUSTRIAN], "winter", "2026-11-22T11:00:00Z")
    assert [r["reason"] for r in first["results"]] == ["ok", "ok"]
    again = _check(context, [PHONE, AUSTRIAN], "winter", "2026-11-22T11:00:00Z")  # a retry
    assert again["results"] == first["results"]
    clock.advance(hours=2)  # 12:30
    inbound(context, twilio_event("STOP", sid="SM-journey"))
    from smsconsent import optout, privacy, retention, tenants

    assert optout.by_link(subject(AUSTRIAN).optout_code, None, "198.51.100.2", "ua").status == "opted_out"
    stop(STRANGER)
    clock.advance(days=2)  # Tuesday 12:30: FR's link is past its 48 hours
    retention.run(clock.now, lambda: 100.0)
    demo = tenants.get("demo")
    assert demo is not None
    privacy.erase(demo, privacy.number_of(STRANGER, demo))


SUNDAY = {
    "signups": {
        "accepted": 3,
        "sms_sent": 3,
        "confirmed": 2,
        "confirm_rate": 0.6667,
        "median_minutes_to_confirm": 14.8,  # (7 + the midpoint of [20, 25)) / 2
    },
    "optouts": {
        "total": 3,
        "by_via": {"sms_keyword": 2, "link": 1},
        "by_keyword": {"STOP": 2},
        "by_reason": {"keyword": 2, "no_reason": 1},
        "by_country": {"AT": 1, "DE": 1, "FR": 1},
        "by_campaign": [{"campaign": "winter", "sends": 2, "optouts": 2, "rate": 1.0}],
    },
    "lapsed": 0,
    "expired": 0,
    "erased": 0,
}


@pytest.mark.usefixtures("aws")
def test_hand_counted_journeys_add_up_each_event_once(
    context: Any, outbox: Any, clock: Any, tallied: Any
) -> None:
    _journeys(context, outbox, clock)
    # When the stream is counted, and every batch is handed over twice (a redelivery)
    from functions.tally import app
    from tests.fixtures.context import make_context

    def twice(event: dict[str, Any]) -> Any:
        assert app.handler(event, make_context()) == {"batchItemFailures": []}
        return app.handler(event, make_context())

    assert tallied.run(twice) > 0
    # Then Sunday holds what was hand-counted, each event once
    sunday = tallied.get("from=2026-11-22&to=2026-11-22")
    assert sunday["statusCode"] == 200
    assert {k: v for k, v in sunday["json"].items() if k not in ("from", "to", "daily")} == SUNDAY
    assert sunday["json"]["daily"] == [{"date": "2026-11-22", "signups": 3, "confirmed": 2, "optouts": 3}]
    # And Tuesday the expiry and the erasure; the week has both days and the empty ones
    week = tallied.get("from=2026-11-20&to=2026-11-26")["json"]
    assert (week["expired"], week["erased"], week["lapsed"]) == (1, 1, 0)
    assert week["optouts"]["total"] == 3 and week["signups"]["accepted"] == 3
    assert [d["date"] for d in week["daily"]] == [f"2026-11-{d}" for d in range(20, 27)]
    assert [d["optouts"] for d in week["daily"]] == [0, 0, 3, 0, 0, 0, 0]


@pytest.mark.usefixtures("aws")
def test_a_batch_that_fails_midway_is_handed_again_and_counts_each_event_once(
    context: Any, outbox: Any, clock: Any, tallied: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Sunday's and Tuesday's events in one batch, and a store that fails on Tuesday's
    _journeys(context, outbox, clock)
    from smsconsent.store import StoreUnavailable
    from smsconsent.store import insights as insights_store

    real = insights_store.add
    failures = {"left": 1}

    def flaky(tenant: str, day: str, counted: Any, now: Any) -> Any:
        if day == "2026-11-24" and failures["left"]:
            failures["left"] -= 1
            raise StoreUnavailable("ProvisionedThroughputExceededException")
        return real(tenant, day, counted, now)

    monkeypatch.setattr(insights_store, "add", flaky)
    answers: list[Any] = []
    from functions.tally import app
    from tests.fixtures.context import make_context

    def record(event: dict[str, Any]) -> Any:
        answers.append(app.handler(event, make_context()))
        return answers[-1]

    # When the tally runs: Sunday is counted, the batch is handed back from Tuesday's first record
    tallied.run(record)
    assert answers[0]["batchItemFailures"] and tallied.stream.held > 0
    # And the stream hands it again from there
    tallied.run(record)
    assert answers[-1] == {"batchItemFailures": []} and tallied.stream.held == 0
    # Then every event is counted once
    week = tallied.get("from=2026-11-20&to=2026-11-26")["json"]
    assert week["signups"] == SUNDAY["signups"] and week["optouts"] == SUNDAY["optouts"]
    assert (week["expired"], week["erased"]) == (1, 1)


@pytest.mark.usefixtures("aws")
def test_a_throttled_transaction_counts_nothing_and_its_retry_counts_once(
    context: Any, outbox: Any, clock: Any, tallied: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_up(context, outbox, confirm=True)
    stop()
    from botocore.exceptions import ClientError

    from smsconsent.store import insights as insights_store

    client = insights_store._client()
    real = client.transact_write_items
    calls = {"n": 0}

    def throttled(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "TransactWriteItems"
            )
        return real(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", throttled)
    tallied.run()
    assert tallied.stream.held > 0  # nothing counted, all handed back
    found = tallied.get("from=2026-11-22&to=2026-11-22")["json"]
    assert found["signups"]["accepted"] == 1 and found["signups"]["confirmed"] == 1
    assert found["optouts"]["total"] == 1 and found["daily"][0]["optouts"] == 1


@pytest.mark.usefixtures("aws")
def test_a_transaction_that_committed_but_whose_answer_was_lost_counts_once(
    context: Any, outbox: Any, tallied: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a transaction DynamoDB commits, whose answer never reaches the function
    sign_up(context, outbox, confirm=True)
    stop()
    from botocore.exceptions import ReadTimeoutError

    from smsconsent.store import insights as insights_store

    client = insights_store._client()
    real = client.transact_write_items
    lost = {"left": 1}

    def committed_then_lost(**kwargs: Any) -> Any:
        answer = real(**kwargs)
        if lost["left"]:
            lost["left"] -= 1
            raise ReadTimeoutError(endpoint_url="https://dynamodb")
        return answer

    monkeypatch.setattr(client, "transact_write_items", committed_then_lost)
    # When the tally runs, fails, and the stream hands the same records again
    tallied.run()
    assert tallied.stream.held > 0
    tallied.run()
    assert tallied.stream.held == 0
    # Then the retry found every event counted: once each
    found = tallied.get("from=2026-11-22&to=2026-11-22")["json"]
    assert (found["signups"]["accepted"], found["signups"]["confirmed"], found["optouts"]["total"]) == (
        1,
        1,
        1,
    )
    assert found["optouts"]["by_via"] == {"sms_keyword": 1}


@pytest.mark.usefixtures("aws")
def test_two_readers_racing_over_the_same_records_count_them_once(
    context: Any, outbox: Any, tallied: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a batch that four invocations take at once (a redelivery while the first runs)
    sign_up(context, outbox, confirm=True)
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from functions.tally import app
    from smsconsent.store import insights as insights_store
    from tests.fixtures.context import make_context

    # DynamoDB commits each transaction whole; moto applies one item after another and, when
    # one fails, puts back what the items held when it began (undoing a transaction that
    # committed meanwhile). One at a time, as DynamoDB isolates them.
    client = insights_store._client()
    real, lock = client.transact_write_items, threading.Lock()

    def isolated(**kwargs: Any) -> Any:
        with lock:
            return real(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", isolated)

    def racing(event: dict[str, Any]) -> Any:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: app.handler(event, make_context()), range(4)))
        failed = [a for a in answers if a["batchItemFailures"]]
        return failed[0] if failed else answers[0]

    for _ in range(5):  # whatever a lost race hands back comes again
        tallied.run(racing)
        if not tallied.stream.held:
            break
    assert tallied.stream.held == 0
    found = tallied.get("from=2026-11-22&to=2026-11-22")["json"]["signups"]
    assert (found["accepted"], found["sms_sent"], found["confirmed"]) == (1, 1, 1)


@pytest.mark.usefixtures("aws")
def test_a_day_keeps_its_first_campaigns_and_adds_up_the_others(
    context: Any, outbox: Any, clock: Any, tallied: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsconsent import insights

    monkeypatch.setattr(insights, "MAX_CAMPAIGNS_PER_DAY", 2)
    sign_up(context, outbox, confirm=True)
    sign_up(context, outbox, phone=AUSTRIAN, confirm=True)
    # Three campaigns the same day: the third has no room of its own
    for n, campaign in enumerate(("one", "two", "three")):
        _check(context, [PHONE, AUSTRIAN], campaign, f"2026-11-22T1{n + 1}:00:00Z")
    clock.advance(hours=4)  # 14:00, after the last send
    inbound(context, twilio_event("STOP", sid="SM-three"))  # blamed on "three"
    found = tallied.get("from=2026-11-22&to=2026-11-22")["json"]["optouts"]["by_campaign"]
    assert found == [
        {"campaign": None, "sends": 2, "optouts": 1, "rate": 0.5},
        {"campaign": "one", "sends": 2, "optouts": 0, "rate": 0.0},
        {"campaign": "two", "sends": 2, "optouts": 0, "rate": 0.0},
    ]


@pytest.mark.usefixtures("aws")
def test_the_sends_of_a_request_are_one_add_on_the_day_of_send_at(
    context: Any, outbox: Any, clock: Any, tallied: Any, dynamo_calls: Any
) -> None:
    sign_up(context, outbox, confirm=True)
    sign_up(context, outbox, phone=AUSTRIAN, confirm=True)
    before = dict(dynamo_calls.operations)
    # A send scheduled for Monday, checked on Sunday
    _check(context, [PHONE, AUSTRIAN], "monday", "2026-11-23T09:00:00Z")
    updates = dynamo_calls.operations.get("UpdateItem", 0) - before.get("UpdateItem", 0)
    assert updates == 2 + 1  # each subject's contact, then the campaign's sends (admitted once)
    found = tallied.get("from=2026-11-22&to=2026-11-23")["json"]["optouts"]["by_campaign"]
    assert found == [{"campaign": "monday", "sends": 2, "optouts": 0, "rate": 0.0}]
    # Sends without a campaign are counted nowhere (nothing to blame an opt-out on)
    _check_without_campaign(context, [PHONE], "2026-11-23T10:00:00Z")
    assert tallied.get("from=2026-11-22&to=2026-11-23")["json"]["optouts"]["by_campaign"] == found


def _check_without_campaign(context: Any, recipients: list[str], send_at: str) -> None:
    import json

    from functions.presend.app import handler
    from tests.fixtures.events import load_event

    event = load_event("presend-http.json")
    body = {"recipients": recipients, "send_at": send_at, "record": True, "category": "marketing"}
    event["body"] = json.dumps({**body, "purpose": "marketing", "channel": "sms"})
    assert handler(event, context)["statusCode"] == 200


@pytest.mark.usefixtures("aws")
def test_sends_not_counted_never_fail_the_check(
    context: Any, outbox: Any, tallied: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    sign_up(context, outbox, confirm=True)
    from smsconsent.store import StoreUnavailable
    from smsconsent.store import insights as insights_store

    def down(*args: Any) -> None:
        raise StoreUnavailable("ThrottlingException")

    monkeypatch.setattr(insights_store, "add_sends", down)
    answer = _check(context, [PHONE], "winter", "2026-11-22T11:00:00Z")
    assert [r["reason"] for r in answer["results"]] == ["ok"]
    monkeypatch.undo()
    # The retry finds the send recorded: it is answered the same and counts nothing
    assert _check(context, [PHONE], "winter", "2026-11-22T11:00:00Z") == answer
    assert tallied.get("from=2026-11-22&to=2026-11-22")["json"]["optouts"]["by_campaign"] == []


# ---- the route ------------------------------------------------------------------------------


@pytest.mark.usefixtures("aws")
def test_a_range_is_read_with_one_query(context: Any, outbox: Any, tallied: Any, dynamo_calls: Any) -> None:
    sign_up(context, outbox, confirm=True)
    tallied.run()
    from tests.fixtures.insights import insights_request

    before = dict(dynamo_calls.operations)
    answer = insights_request("from=2025-10-19&to=2026-11-22")  # 400 days
    assert answer["statusCode"] == 200 and len(answer["json"]["daily"]) == 400
    assert answer["headers"]["Cache-Control"] == "no-store"
    made = {k: v - before.get(k, 0) for k, v in dynamo_calls.operations.items() if v != before.get(k, 0)}
    assert made == {"Query": 1}  # the tenant was cached by the signup


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-11-31&to=2026-12-01", "from"),
        ("from=2026-11-22&to=2026-11-21", "from"),
        ("from=2025-10-18&to=2026-11-22", "to"),
        ("to=tomorrow", "to"),
        ("from=2026-11-01&limit=5", "limit"),
    ],
)
def test_a_range_it_cannot_take_is_refused_naming_the_parameter(query: str, field: str) -> None:
    from tests.fixtures.insights import insights_request

    answer = insights_request(query)
    assert answer["statusCode"] == 422
    assert answer["json"]["error"]["code"] == "invalid_field"
    assert answer["json"]["error"]["field"] == field


@pytest.mark.usefixtures("aws")
def test_an_unknown_tenant_is_404_and_no_range_means_the_last_30_days(clock: Any) -> None:
    from tests.fixtures.insights import insights_request

    assert insights_request("", tenant="nobody")["statusCode"] == 404
    answer = insights_request("")
    assert answer["statusCode"] == 200
    assert (answer["json"]["from"], answer["json"]["to"]) == ("2026-10-24", "2026-11-22")


def test_the_sample_event_is_the_route(aws: None, context: Any) -> None:
    from functions.insights import app
    from tests.fixtures.events import load_event

    answer = app.handler(load_event("insights.json"), context)
    assert answer["statusCode"] == 200
    import json

    body = json.loads(answer["body"])
    assert (body["from"], body["to"], len(body["daily"])) == ("2026-11-01", "2026-11-30", 30)


# ---- the campaign opt-out rate alarm ---------------------------------------------------------


def _metrics(text: str, name: str) -> list[dict[str, Any]]:
    """The EMF lines of ``name`` in captured stdout."""
    import json

    found = []
    for line in text.splitlines():
        if line.startswith("{") and f'"{name}"' in line:
            found.append(json.loads(line))
    return found


def _set_alarm(clock: Any, **alarm: Any) -> None:
    from smsconsent import store, tenants
    from tests.fixtures.tenants import demo_tenant_doc

    store.put_tenant_doc({**demo_tenant_doc(), "optout_alarm": alarm}, clock.now)
    tenants.clear_cache()


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(("percent", "raised"), [(40, True), (50, False)])
def test_an_optout_over_the_tenants_threshold_raises_the_campaign_alarm_metric(
    context: Any, outbox: Any, clock: Any, tallied: Any, capsys: Any, percent: int, raised: bool
) -> None:
    # Given a tenant whose campaigns alarm above `percent` % from 2 sends
    _set_alarm(clock, percent=percent, min_sends=2)
    sign_up(context, outbox, confirm=True)
    sign_up(context, outbox, phone=AUSTRIAN, confirm=True)
    _check(context, [PHONE, AUSTRIAN], "winter", "2026-11-22T11:00:00Z")
    tallied.run()
    capsys.readouterr()
    # When one of its two recipients texts STOP (50 %)
    clock.advance(hours=2)
    inbound(context, twilio_event("STOP", sid="SM-alarm"))
    tallied.run()
    # Then the metric is written for the tenant (and the service) only above the threshold
    written = _metrics(capsys.readouterr().out, "CampaignOptOutRateHigh")
    if not raised:
        assert written == []
        return
    assert [m.get("tenant") for m in written] == [None, "demo"]
    assert all(m["CampaignOptOutRateHigh"] == [1.0] for m in written)


@pytest.mark.usefixtures("aws")
def test_too_few_sends_say_nothing_and_opt_outs_of_earlier_days_count(
    context: Any, outbox: Any, clock: Any, tallied: Any, capsys: Any
) -> None:
    _set_alarm(clock, percent=3, min_sends=3)
    sign_up(context, outbox, confirm=True)
    sign_up(context, outbox, phone=AUSTRIAN, confirm=True)
    _check(context, [PHONE, AUSTRIAN], "winter", "2026-11-22T11:00:00Z")
    clock.advance(days=1)  # Monday: the opt-out comes a day after the send
    inbound(context, twilio_event("STOP", sid="SM-late"))
    tallied.run()
    assert _metrics(capsys.readouterr().out, "CampaignOptOutRateHigh") == []  # 2 sends < 3
    _set_alarm(clock, percent=3, min_sends=2)
    from smsconsent import optout

    assert optout.by_link(subject(AUSTRIAN).optout_code, None, "198.51.100.2", "ua").status == "opted_out"
    tallied.run()
    # Sunday's sends and Monday's opt-outs: 2 of 2
    assert [m.get("tenant") for m in _metrics(capsys.readouterr().out, "CampaignOptOutRateHigh")] == [
        None,
        "demo",
    ]


@pytest.mark.usefixtures("aws")
def test_the_dashboards_metrics_count_each_event_once(
    context: Any, outbox: Any, clock: Any, tallied: Any, capsys: Any
) -> None:
    sign_up(context, outbox, confirm=True)
    stop()
    from functions.tally import app
    from tests.fixtures.context import make_context

    def twice(event: dict[str, Any]) -> Any:
        app.handler(event, make_context())
        return app.handler(event, make_context())

    capsys.readouterr()
    tallied.run(twice)
    out = capsys.readouterr().out
    accepted = _metrics(out, "SignupsAccepted")
    assert [m["SignupsAccepted"] for m in accepted] == [[1.0]]
    optouts = _metrics(out, "OptOuts")
    assert [(m.get("via"), m["OptOuts"]) for m in optouts] == [(None, [1.0]), ("sms_keyword", [1.0])]
    keywords = _metrics(out, "OptOutKeywords")
    assert [(m.get("keyword"), m["OptOutKeywords"]) for m in keywords] == [(None, [1.0]), ("STOP", [1.0])]
