"""Handler CPU per recipient of the pre-send check, DynamoDB answered at the API layer.

``measure(n)`` sends one ``POST /v1/demo/check`` of ``n`` distinct E.164 numbers (mostly
German, some French and US; every one with an active marketing consent, so each goes the
whole way: cap, quiet hours, footer) through the real handler. DynamoDB is a stub in place
of the pre-send reader's call to botocore (``store.batch._through_botocore``, the short
way off) returning canned items as decoded answers, so what is measured is the handler's
own CPU (``time.process_time``, every thread) minus the CPU spent inside the stub
(``time.thread_time`` around each stubbed call). The request's signing and sending and the
answer's decoding happen outside the stub's level, so they are not in the main figures;
``with_botocore_us_per_recipient`` answers at the HTTP layer instead (``before-send``) and
includes them, as a real DynamoDB would.

``cold``: the first request after the per-number caches were emptied (every number new to
the container); ``warm``: the same request again (a container that saw the numbers before).

The sending rules by country and US state apply (France's hours, Sundays and holidays, the
TCPA's hours, ...; ``rules=False`` waives every shipped rule, as a tenant could).
The holiday calendar they need is loaded before the timing, once per container as in
Lambda, and reported on its own (``holidays_load_ms``). ``side_by_side`` measures the
check with the rules on and off, alternating, best of a few rounds each.

    .venv/bin/python -m bench.presend_cpu [n]
"""

from __future__ import annotations

import io
import json
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.context import LambdaContext

ROOT = Path(__file__).resolve().parents[1]
SEND_AT = "2026-11-24T16:00:00Z"  # 17:00 in Berlin and Paris, 11:00 in New York, 08:00 in LA
_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "AWS_REGION": "eu-central-1",
    "TABLE_NAME": "sms-consent-bench",
    "PEPPER_JSON": '{"current": "b1", "b1": "bench-pepper-not-a-secret-0123456789"}',
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "sms-consent-bench",
}


# The mixes of numbers: mostly German (the demo tenant's), or all from the US, whose
# numbers phonenumbers places in a zone by area code (two zones for some: SD, NV, ...).
_MIXES = {
    "eu": ["+49151", "+49160", "+49170", "+49176"] * 4 + ["+336", "+337", "+1212", "+1415"],
    "us": [
        f"+1{code}"
        for code in ("212", "415", "305", "312", "617", "206", "713", "404", "602", "907", "808", "605")
    ],
}


def _numbers(n: int, seed: int, valid: Callable[[str], bool], mix: str = "eu") -> list[str]:
    """``n`` distinct valid E.164 numbers, shuffled: the same ones in the same order for a
    seed in every process (no set: its order follows the process's string hashing, and two
    runs to compare must ask the same question)."""
    rng = random.Random(seed)
    prefixes = _MIXES[mix]
    out: dict[str, None] = {}
    while len(out) < n:
        prefix = rng.choice(prefixes)
        digits = 8 if prefix.startswith(("+49", "+33")) else 7
        first = str(rng.randint(2, 9)) if prefix.startswith("+1") else str(rng.randint(1, 9))
        number = prefix + first + "".join(str(rng.randint(0, 9)) for _ in range(digits - 1))
        if valid(number):
            out[number] = None
    numbers = list(out)
    rng.shuffle(numbers)
    return numbers


def _item(pk: str, i: int) -> dict[str, Any]:
    """A stored subject as DynamoDB holds it, every attribute (about 1.3 KB): confirmed for
    marketing and newsletter. Readers that project get only what they name (``_Stub``)."""
    text = {"id": "signup-sms", "version": "1", "sha256": "a" * 64, "language": "de"}
    record = {
        "state": "active",
        "since": "2026-06-01T09:00:00Z",
        "confirmed_at": "2026-06-01T09:00:00Z",
        "confirmed_token": "b" * 64,
        "text": text,
        "source": "https://shop.example/newsletter#sms-form",
        "language": "de",
    }
    consents = {"sms:marketing": record, "sms:newsletter": dict(record)}
    tenant = pk.split("#")[1]
    return {
        "pk": {"S": pk},
        "sk": {"S": "SUBJECT"},
        "tenant": {"S": tenant},
        "phone": {"S": "+4915100000000"},  # replaced below, as are zones and region
        "version": {"N": "3"},
        "consents": {"S": json.dumps(consents, sort_keys=True, separators=(",", ":"))},
        "language": {"S": "de" if i % 3 else "en"},
        "region": {"S": "DE"},
        "optout_code": {"S": f"c{i:015d}"},
        "sms_optout": {"S": f"{tenant}#c{i:015d}"},
        "last_contact_at": {"S": "2026-11-20T16:00:00Z"},
        "sends": {"S": json.dumps(["2026-11-20T16:00:00Z"])},
        "last_campaign": {"S": "autumn"},
        "ev_seq": {"N": "4"},
        "ev_head": {"S": "e" * 64},
        "created_at": {"S": "2026-06-01T08:58:00Z"},
        "updated_at": {"S": "2026-11-20T16:00:00Z"},
        "due_bucket": {"S": "due#2028-11-20"},
        "due_at": {"S": "2028-11-20T16:00:00Z"},
        "tenant_shard": {"S": f"{tenant}#{i % 16}"},
    }


class _Stub:
    """BatchGetItem answered from a dict; counts requests and the CPU spent answering."""

    def __init__(self, table: str, items: dict[str, dict[str, Any]]) -> None:
        self.table = table
        self.items = items
        self.requests = 0
        self.cpu = 0.0
        self._lock = threading.Lock()

    def lookup(self, params: dict[str, Any]) -> dict[str, Any]:
        asked = params["RequestItems"][self.table]
        found = [self.items[k["pk"]["S"]] for k in asked["Keys"] if k["pk"]["S"] in self.items]
        if "ProjectionExpression" in asked:
            names = asked.get("ExpressionAttributeNames", {})
            wanted = [names.get(n.strip(), n.strip()) for n in asked["ProjectionExpression"].split(",")]
            found = [{a: item[a] for a in wanted if a in item} for item in found]
        return {"Responses": {self.table: found}, "UnprocessedKeys": {}}

    def count(self, started: float) -> None:
        spent = time.thread_time() - started
        with self._lock:
            self.requests += 1
            self.cpu += spent

    def answer(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        started = time.thread_time()
        if operation != "BatchGetItem":
            raise AssertionError(f"unexpected {operation}")
        answer = self.lookup(params)
        self.count(started)
        return answer


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def _refuse(request: Any, event_name: str, **_: Any) -> None:
    # botocore calls every before-send handler (the stub's answer is the first not None)
    if not event_name.endswith(".BatchGetItem"):
        raise AssertionError(f"the bench answers BatchGetItem only; refused {event_name} to {request.url}")


@contextmanager
def _stubbed(client: Any, stub: _Stub, layer: str) -> Iterator[None]:
    """DynamoDB answered by ``stub`` at ``layer``; any other request on ``client`` fails
    (the bench sends nothing to the network: no DynamoDB endpoint is set)."""
    if layer == "api":
        from smsconsent.store import batch

        def answer(dynamodb: Any, request_items: dict[str, Any]) -> dict[str, Any]:
            return stub.answer("BatchGetItem", {"RequestItems": request_items})

        # No short way: every page goes to botocore's call, answered here, decoded.
        real, batch._through_botocore = batch._through_botocore, answer
        reader, batch._reader = batch._reader, lambda: (client, None)
        client._make_api_call = stub.answer  # any other operation: AssertionError
        try:
            yield
        finally:
            batch._through_botocore = real
            batch._reader = reader
            del client._make_api_call
        return

    from botocore.awsrequest import AWSResponse

    def send(request: Any, **_: Any) -> AWSResponse:
        # DynamoDB's side: read the request, find the items, write the JSON answer.
        started = time.thread_time()
        body = json.dumps(stub.lookup(json.loads(request.body))).encode()
        headers: Any = {"content-type": "application/x-amz-json-1.0"}
        response = AWSResponse(request.url, 200, headers, _Raw(body))
        stub.count(started)
        return response

    client.meta.events.register("before-send.dynamodb.BatchGetItem", send)
    client.meta.events.register("before-send", _refuse)  # any other request fails
    try:
        yield
    finally:
        client.meta.events.unregister("before-send.dynamodb.BatchGetItem", send)
        client.meta.events.unregister("before-send", _refuse)


def _timed(call: Callable[[], Any], stub: _Stub) -> tuple[Any, float, int]:
    cpu_before, requests_before = stub.cpu, stub.requests
    started = time.process_time()
    result = call()
    spent = time.process_time() - started - (stub.cpu - cpu_before)
    return result, spent, stub.requests - requests_before


@contextmanager
def _environment() -> Iterator[None]:
    """The bench's settings in the environment, put back afterwards with every cache that
    read them (tests call the bench in-process)."""
    saved = dict(os.environ)
    for key, value in _ENV.items():
        os.environ.setdefault(key, value)
    os.environ.pop("DYNAMODB_ENDPOINT", None)
    if str(ROOT / "layers/smsconsent") not in sys.path:  # run as a script: the layer's import path
        sys.path[:0] = [str(ROOT), str(ROOT / "layers/smsconsent")]
    from smsconsent import keys, settings

    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        settings.reset()
        keys.reset()


def measure(
    n: int = 10_000, seed: int = 4, *, rules: bool = True, layers: tuple[str, ...] = ("api", "http")
) -> dict[str, Any]:
    """Handler CPU per recipient (µs) for one check of ``n`` distinct numbers, cold and warm,
    and the BatchGetItem requests it made (``ceil(n / 100)`` expected). ``rules``: the shipped
    sending rules apply (else the tenant waives them all); ``layers``: where DynamoDB is
    answered (``api``: the main figures; ``http``: with botocore's own work). The environment,
    settings and caches it touches are put back afterwards (tests call it in-process)."""
    with _environment():
        return _measure(n, seed, rules, layers)


def versus(n: int = 10_000, rounds: int = 5, seed: int = 4, mix: str = "eu") -> dict[str, Any]:
    """The handler against the naive peer and the floor (``bench.presend_peer``), side by
    side: alternating, the best of ``rounds`` each (this machine's noise is one-sided), on
    the same ``n`` numbers new to the container, DynamoDB answered at the HTTP layer for the
    handler and the peer alike (botocore's work counted in both). CPU µs per recipient and
    the ratios ``handler / peer`` and ``handler / floor``. ``mix``: ``eu`` (mostly German
    numbers) or ``us`` (all from the US)."""
    with _environment():
        return _versus(n, rounds, seed, mix)


def _versus(n: int, rounds: int, seed: int, mix: str) -> dict[str, Any]:
    from bench import presend_peer
    from functions.presend.app import handler
    from smsconsent import clock, keys, settings, tenants
    from smsconsent.store import batch

    setup = _setup(n, seed, rules=True, mix=mix)
    conf = settings.get()
    pepper = keys.pepper()
    key, version = pepper.keys[pepper.current], pepper.current  # the peer's own hmac.new
    peer_model: Any = presend_peer.model(conf.table_name, conf.region)
    peer_client = peer_model._get_connection().connection.client
    # The floor decodes what the check asks DynamoDB for: the items as projected.
    projected = [{a: item[a] for a in batch.ATTRIBUTES if a in item} for item in setup.items.values()]
    pages = presend_peer.pages_of(conf.table_name, projected)
    country = setup.tenant.default_country
    stub = setup.stub

    def run_handler() -> Any:
        _clear_caches()
        return _timed(lambda: handler(setup.event, setup.context), stub)

    def run_peer() -> Any:
        with _stubbed(peer_client, stub, "http"):
            return _timed(
                lambda: presend_peer.naive(peer_model, setup.numbers, setup.tenant.id, country, key, version),
                stub,
            )

    def run_floor() -> Any:
        return _timed(lambda: presend_peer.floor(setup.numbers, pages, setup.tenant.id), stub)

    best = {"handler": float("inf"), "peer": float("inf"), "floor": float("inf")}
    per_round: list[dict[str, float]] = []
    answers: dict[str, Any] = {}
    previous_source = clock._source
    clock.set_source(lambda: clock.parse_iso(SEND_AT))
    try:
        with _stubbed(batch.client(), stub, "http"):
            for _ in range(rounds):
                spent = {}
                for name, run in (("handler", run_handler), ("peer", run_peer), ("floor", run_floor)):
                    answer, spent[name], _requests = run()
                    best[name] = min(best[name], spent[name])
                    answers[name] = answer
                per_round.append(spent)
    finally:
        clock.set_source(previous_source)
        tenants.clear_cache()
    handler_body = json.loads(answers["handler"]["body"])
    peer_body = json.loads(answers["peer"])
    assert answers["handler"]["statusCode"] == 200
    assert (
        [r["input"] for r in handler_body["results"]]
        == setup.numbers
        == [r["input"] for r in peer_body["results"]]
    )
    assert answers["floor"] == n
    us = {name: round(cpu / n * 1e6, 2) for name, cpu in best.items()}
    return {
        "recipients": n,
        "mix": mix,
        "rounds": rounds,
        "handler_us_per_recipient": us["handler"],
        "peer_us_per_recipient": us["peer"],
        "floor_us_per_recipient": us["floor"],
        "ratio_to_peer": round(best["handler"] / best["peer"], 3),
        "ratio_to_floor": round(best["handler"] / best["floor"], 2),
        # The same ratios within each round (the three timed back to back), the median:
        # a second reading, steadier when the machine's load changes between rounds.
        "median_round_ratio_to_peer": round(_median_ratio(per_round, "peer"), 3),
        "median_round_ratio_to_floor": round(_median_ratio(per_round, "floor"), 2),
        "handler_summary": handler_body["summary"],
        "peer_summary": peer_body["summary"],
    }


def _median_ratio(rounds: list[dict[str, float]], to: str) -> float:
    return statistics.median(r["handler"] / r[to] for r in rounds)


def side_by_side(n: int = 10_000, rounds: int = 3) -> dict[str, Any]:
    """The check's CPU per recipient with the sending rules on and off, alternating, the
    best of ``rounds`` each (this machine's noise is one-sided), DynamoDB answered at the
    API layer."""
    runs: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    for _ in range(rounds):
        for on in (False, True):
            runs[on].append(measure(n, rules=on, layers=("api",)))
    out: dict[str, Any] = {"recipients": n, "rounds": rounds}
    for on, label in ((True, "on"), (False, "off")):
        for kind in ("cold", "warm"):
            out[f"{kind}_us_rules_{label}"] = min(r[f"{kind}_us_per_recipient"] for r in runs[on])
    for kind in ("cold", "warm"):
        out[f"{kind}_ratio_on_to_off"] = round(out[f"{kind}_us_rules_on"] / out[f"{kind}_us_rules_off"], 3)
    out["summary_rules_on"] = runs[True][0]["summary"]
    out["summary_rules_off"] = runs[False][0]["summary"]
    out["holidays_load_ms"] = max(r["holidays_load_ms"] for r in runs[True])  # the first load
    return out


def _warm_holidays() -> float:
    """Load the holiday calendar the French numbers need, as the first French recipient of a
    container would (ms of CPU; next to nothing once loaded)."""
    from smsconsent.presend import rules

    started = time.process_time()
    rules.holiday_dates("FR", ("57", "6AE"), int(SEND_AT[:4]))
    return round((time.process_time() - started) * 1000, 1)


@dataclass
class _Setup:
    tenant: Any
    numbers: list[str]
    items: dict[str, dict[str, Any]]
    stub: _Stub
    event: dict[str, Any]
    context: LambdaContext


def _setup(n: int, seed: int, rules: bool, mix: str = "eu") -> _Setup:
    """The demo tenant (``rules``: the shipped sending rules apply), ``n`` numbers with their
    stored subjects, and the HTTP event asking about them."""
    from bench.common import demo_doc, hold_tenant
    from smsconsent import keys, phone, sending_rules, settings
    from smsconsent.store import subject_pk

    settings.reset()
    keys.reset()
    doc = demo_doc()
    if not rules:
        doc["sending_rules"] = {"waive": sorted(sending_rules.rule_ids())}
    tenant = hold_tenant(doc)

    def valid(number: str) -> bool:
        try:
            return phone.normalise(number).e164 == number
        except phone.PhoneError:
            return False

    numbers = _numbers(n, seed, valid, mix)
    items = {}
    for i, number in enumerate(numbers):
        pk = subject_pk(tenant.id, keys.subject_hash(tenant.id, number))
        items[pk] = _item(pk, i)
        items[pk]["phone"] = {"S": number}
        items[pk]["zones"] = {"S": phone.stored_zones(number)}
        items[pk]["region"] = {"S": phone.normalise(number).region}
    stub = _Stub(settings.get().table_name, items)

    event = json.loads((ROOT / "events/presend-http.json").read_text())
    event["body"] = json.dumps(
        {"recipients": numbers, "category": "marketing", "campaign": "bench", "send_at": SEND_AT}
    )
    context = LambdaContext(
        function_name="bench",
        memory_limit_in_mb=512,
        aws_request_id="bench",
        log_stream_name="bench",
        remaining_ms=29_000,
    )
    return _Setup(tenant, numbers, items, stub, event, context)


def _clear_caches() -> None:
    """Every per-number cache of the check emptied: a container that never saw the numbers."""
    from smsconsent import presend
    from smsconsent.presend import numbers as presend_numbers
    from smsconsent.presend import rules as presend_rules

    presend._normalised_cached.cache_clear()
    presend._zones.cache_clear()
    presend_numbers._stored_zones.cache_clear()  # the items' zones, checked once per value
    presend.next_allowed.cache_clear()
    presend_rules.ruleset.cache_clear()  # and with them the answers each rule set keeps


def _measure(n: int, seed: int, rules: bool, layers: tuple[str, ...]) -> dict[str, Any]:
    from functions.presend.app import handler
    from smsconsent import clock, tenants
    from smsconsent.store import batch

    setup = _setup(n, seed, rules)
    numbers, stub, event, context = setup.numbers, setup.stub, setup.event, setup.context
    client = batch.client()
    figures: dict[str, Any] = {"recipients": n, "distinct": len(set(numbers)), "rules": rules}
    figures["holidays_load_ms"] = _warm_holidays() if rules else 0.0
    previous_source = clock._source
    clock.set_source(lambda: clock.parse_iso(SEND_AT))
    try:
        for layer in layers:
            _clear_caches()
            with _stubbed(client, stub, layer):
                cold, cold_cpu, requests = _timed(lambda: handler(event, context), stub)
                warm, warm_cpu, _ = _timed(lambda: handler(event, context), stub)
            for answer in (cold, warm):
                body = json.loads(answer["body"])
                assert answer["statusCode"] == 200, answer["body"][:500]
                assert [r["input"] for r in body["results"]] == numbers
            summary = json.loads(warm["body"])["summary"]
            if layer == "api":
                figures.update(
                    cold_us_per_recipient=round(cold_cpu / n * 1e6, 2),
                    warm_us_per_recipient=round(warm_cpu / n * 1e6, 2),
                    batch_get_requests=requests,
                    summary=summary,
                )
            else:
                figures.update(
                    with_botocore_cold_us_per_recipient=round(cold_cpu / n * 1e6, 2),
                    with_botocore_warm_us_per_recipient=round(warm_cpu / n * 1e6, 2),
                )
    finally:
        clock.set_source(previous_source)
        tenants.clear_cache()
    if "cold_us_per_recipient" in figures:
        figures["us_per_recipient"] = figures["cold_us_per_recipient"]
    return figures


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    figures = {
        "rules_on": measure(count),
        "side_by_side": side_by_side(count),
        "versus": versus(count),
        "versus_us": versus(count, mix="us"),
    }
    print(json.dumps(figures, indent=2))
