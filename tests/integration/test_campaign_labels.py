"""Campaign ids that carry a person (an email address, a phone number) through the real
handlers on moto: insights items, consent events on the bus, webhook deliveries and logs
get the id's label only; the raw id is kept where it is erased with the person (the
subject's last campaign, the evidence's ``pii``), and after an erasure it is nowhere in
the table. Odd ids (control characters, lone surrogates, JSON, other scripts) and other
tenants' insights are tried too."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.events import load_event
from tests.fixtures.journeys import PHONE, inbound, sign_up, subject, twilio_event

RAW = "winback-jane.doe@example.com reminder-+44 7700 900123"
LABEL = "[email] reminder-[number]"
# What of RAW must never be kept where nothing is erased (digits as any separator would
# leave them: the number, written its way and as bare digits).
SECRETS = ("jane.doe", "example.com", "7700 900123", "7700900123")
SEND_AT = "2026-11-22T11:00:00Z"

pytestmark = pytest.mark.usefixtures("aws")


def _check(context: Any, campaign: Any, recipients: list[str] | None = None, tenant: str = "demo") -> Any:
    from functions.presend.app import handler

    event = load_event("presend-http.json")
    event["pathParameters"] = {**(event.get("pathParameters") or {}), "tenant": tenant}
    event["rawPath"] = f"/v1/{tenant}/check"
    body = {
        "recipients": recipients or [PHONE],
        "campaign": campaign,
        "send_at": SEND_AT,
        "record": True,
        "category": "marketing",
    }
    event["body"] = json.dumps(body)
    return handler(event, context)


def _checked(context: Any, campaign: Any, **kwargs: Any) -> list[str]:
    answer = _check(context, campaign, **kwargs)
    assert answer["statusCode"] == 200, answer["body"]
    return [r["reason"] for r in json.loads(answer["body"])["results"]]


def _scan() -> list[dict[str, Any]]:
    import boto3

    from tests.fixtures.aws import TABLE

    client = boto3.client("dynamodb")
    items, request = [], {"TableName": TABLE, "ConsistentRead": True}
    while True:
        answer = client.scan(**request)
        items += answer["Items"]
        if not answer.get("LastEvaluatedKey"):
            return items
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _bodies(receiver: Any) -> str:
    """What the CRM received: each delivery's headers and body."""
    return "\n".join(_text(got.headers) + got.body.decode() for got in receiver.got)


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


class _Records(logging.Handler):
    """Every log record, with every attribute (the ``extra`` fields too), as text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(_text({**record.__dict__, "message": record.getMessage()}))


@pytest.fixture
def logs() -> Iterator[_Records]:
    """What the domain logs through its logger (every level), and anything else logged at
    INFO or above (libraries' DEBUG lines, off in Lambda, show the requests themselves)."""
    from smsconsent.observability import logger

    ours, anyone = _Records(), _Records()
    anyone.setLevel(logging.INFO)
    service = logging.getLogger(logger.name)
    level = service.level
    service.setLevel(logging.DEBUG)
    service.addHandler(ours)
    logging.getLogger().addHandler(anyone)
    ours.lines = anyone.lines  # one list, in order
    yield ours
    logging.getLogger().removeHandler(anyone)
    service.removeHandler(ours)
    service.setLevel(level)


def _alarm_at_once(clock: Any) -> None:
    """The campaign alarm fires from one send: its log line names the campaign."""
    from smsconsent import store, tenants
    from tests.fixtures.tenants import demo_tenant_doc

    store.put_tenant_doc({**demo_tenant_doc(), "optout_alarm": {"percent": 1, "min_sends": 1}}, clock.now)
    tenants.clear_cache()


def _opt_out(how: str, context: Any) -> None:
    from smsconsent import optout

    if how == "sms":
        inbound(context, twilio_event("STOP", sid="SM-campaign-label"))
    elif how == "link":
        assert optout.by_link(subject().optout_code, None, "198.51.100.7", "ua").status == "opted_out"
    else:  # a provider's "opted out" in a delivery report, naming the campaign itself
        from functions.reports.app import handler

        event = load_event("delivery-reports.json")
        item = {"phone": PHONE, "provider": "twilio", "status": "failed", "error_code": "21610"}
        event["body"] = json.dumps({"reports": [{**item, "message_id": "m-1", "campaign": RAW}]})
        assert handler(event, context)["statusCode"] == 200


@pytest.mark.parametrize("how", ["sms", "link", "report"])
def test_a_personal_campaign_id_leaves_only_as_its_label_and_is_erased_with_the_person(
    how: str,
    context: Any,
    outbox: Any,
    clock: Any,
    tallied: Any,
    webhooks: Any,
    make_receiver: Any,
    logs: _Records,
    capfd: Any,
) -> None:
    from smsconsent import phone, privacy, store, tenants

    # Given a CRM subscribed to the events, a tenant whose campaign alarm fires at once,
    # and a confirmed subscriber sent a campaign whose id names a person
    receiver = make_receiver()
    webhooks.subscribe(receiver.url)
    _alarm_at_once(clock)
    sign_up(context, outbox, confirm=True)
    assert _checked(context, RAW) == ["ok"]
    assert subject().last_campaign == RAW  # erasable: the subject goes, or forgets it
    # When the subscriber opts out (the campaign is blamed) and everything is counted,
    # published and delivered
    clock.advance(hours=1)
    _opt_out(how, context)
    tallied.run()
    webhooks.run(clock)
    answer = tallied.get("from=2026-11-22&to=2026-11-22")["json"]

    # Then insights name the label, with the send and the opt-out
    assert answer["optouts"]["by_campaign"] == [{"campaign": LABEL, "sends": 1, "optouts": 1, "rate": 1.0}]
    insights_items = [i for i in _scan() if i["pk"]["S"].startswith("INSIGHTS#")]
    assert LABEL in _text(insights_items) and _leaks(_text(insights_items)) == []
    # And the consent event, on the bus and as delivered to the CRM, carries the label
    (opted_out,) = [e for e in webhooks.published.received() if e["type"] == "consent.opted_out"]
    assert opted_out["data"]["campaign"] == LABEL
    assert _leaks(_text(webhooks.published.received())) == []
    assert LABEL in [e["data"]["campaign"] for e in receiver.events()]
    assert _leaks(_bodies(receiver)) == []
    # And the evidence keeps the label in its data, the raw id only in its personal part
    (event,) = [e for e in store.evidence_of(subject().pk) if e.type == "optout"]
    assert event.data["campaign"] == LABEL and event.pii is not None and event.pii["campaign"] == RAW
    # And the logs (the alarm's line names the campaign) hold the label, never the raw id
    printed = capfd.readouterr()
    logged = "\n".join(logs.lines) + printed.out + printed.err
    assert LABEL in logged and _leaks(logged) == []

    # When the person asks for erasure
    demo = tenants.get("demo")
    assert demo is not None
    assert privacy.erase(demo, phone.normalise(PHONE))["outcome"] == "suppression_kept"
    tallied.run()
    webhooks.run(clock)
    # Then the raw id is nowhere in the table; the label stays in what is not erased
    table = _text(_scan())
    assert _leaks(table) == [] and RAW not in table
    assert LABEL in table
    assert _leaks(_text(webhooks.published.received())) == [] and _leaks(_bodies(receiver)) == []
    printed = capfd.readouterr()
    assert _leaks("\n".join(logs.lines) + printed.out + printed.err) == []


def test_before_the_erasure_the_raw_id_is_held_only_where_it_is_erased(
    context: Any, outbox: Any, clock: Any, tallied: Any
) -> None:
    # Given a subscriber sent the campaign, who then texts STOP
    sign_up(context, outbox, confirm=True)
    assert _checked(context, RAW) == ["ok"]
    inbound(context, twilio_event("STOP", sid="SM-held"))
    tallied.run()
    # Then the items holding any of it are the subject and the personal part of its evidence
    holding = [i for i in _scan() if _leaks(_text(i))]
    assert {i["sk"]["S"].split("#")[0] for i in holding} == {"SUBJECT", "EV"}
    for item in holding:
        if item["sk"]["S"].startswith("EV"):
            assert _leaks(_text({k: v for k, v in item.items() if k != "pii"})) == []


# ---- odd ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("spring\u202e\u200bsale", "springsale"),
        ("spring\u2028sale", "spring sale"),
        ('{"campaign": "x", "to": "+4915112345678"}', '{"campaign": "x", "to": "[number]"}'),
        ("冬季促销 +86 138 1234 5678", "冬季促销 [number]"),
        ("Weihnachten-2026-12-04", "Weihnachten-2026-12-04"),
        ("x" * 100, "x" * 100),
        ("O", "O"),  # as the sk suffix of the others: a campaign of its own all the same
        ("2026-11-22", "2026-11-22"),
        ("#C#other", "#C#other"),
    ],
)
def test_odd_campaign_ids_are_counted_under_their_label(
    raw: str, label: str, context: Any, outbox: Any, clock: Any, tallied: Any
) -> None:
    sign_up(context, outbox, confirm=True)
    assert _checked(context, raw) == ["ok"]
    answer = tallied.get("from=2026-11-22&to=2026-11-22")["json"]
    assert answer["optouts"]["by_campaign"] == [{"campaign": label, "sends": 1, "optouts": 0, "rate": 0.0}]
    # The day's own counters are untouched by whatever the campaign is called
    assert answer["daily"] == [{"date": "2026-11-22", "signups": 1, "confirmed": 1, "optouts": 0}]


def _direct(context: Any, campaign: Any) -> dict[str, Any]:
    """The check invoked directly through the demo tenant's alias (JSON decoded by Lambda)."""
    import dataclasses

    from functions.presend.app import handler

    arn = [*context.invoked_function_arn.split(":")[:7], "tenant-demo"]
    event = {"tenant": "demo", "recipients": [PHONE], "category": "marketing", "record": True}
    event |= {"campaign": campaign, "send_at": SEND_AT}
    answer: dict[str, Any] = handler(event, dataclasses.replace(context, invoked_function_arn=":".join(arn)))
    return answer


@pytest.mark.parametrize(
    "campaign", ["a\ud800b", "spring\x00sale", "spring\r\nsale", "a\x85b", "x" * 101, 7, ""]
)
def test_forged_campaign_ids_are_refused_before_anything_is_written(
    campaign: Any, context: Any, outbox: Any, clock: Any
) -> None:
    # A lone surrogate made the direct check fail with a 500 once the send was recorded.
    sign_up(context, outbox, confirm=True)
    before = _text(_scan())
    answer = _direct(context, campaign)
    assert answer.get("error", {}).get("field") == "campaign", answer
    assert answer["error"]["status"] == 422
    over_http = _check(context, campaign)
    assert over_http["statusCode"] in (400, 422), over_http["body"]  # the edge refuses lone surrogates
    assert _text(_scan()) == before


# ---- tenants ------------------------------------------------------------------------------------


def _other_tenant(clock: Any) -> None:
    from smsconsent import store, tenants
    from tests.fixtures.tenants import demo_tenant_doc

    store.put_tenant_doc({**demo_tenant_doc(), "id": "other", "inbound_numbers": []}, clock.now)
    tenants.clear_cache()


def test_a_tenants_campaigns_stay_in_its_own_insights(
    context: Any, outbox: Any, clock: Any, tallied: Any
) -> None:
    from tests.fixtures.insights import insights_request

    # Given two tenants, each sending to its own subscriber, one campaign named like the
    # other tenant's insights key and one with the other's name
    _other_tenant(clock)
    sign_up(context, outbox, confirm=True)
    assert _checked(context, "INSIGHTS#other") == ["ok"]
    assert _checked(context, "other") == ["ok"]
    assert _checked(context, "mine", tenant="other") == ["no_consent"]
    # When one of demo's subscribers texts STOP
    inbound(context, twilio_event("STOP", sid="SM-tenants"))
    tallied.run()
    # Then demo's insights have its campaigns, the other tenant's none of them
    demo = tallied.get("from=2026-11-22&to=2026-11-22")["json"]["optouts"]["by_campaign"]
    assert {c["campaign"] for c in demo} == {"INSIGHTS#other", "other"}
    other = insights_request("from=2026-11-22&to=2026-11-22", tenant="other")["json"]
    assert other["optouts"]["by_campaign"] == [] and other["optouts"]["total"] == 0
    # And every insights item sits under its own tenant's key, the campaign only in the sort key
    for item in _scan():
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if "#C#" in sk:
            assert pk == "INSIGHTS#demo", (pk, sk)
