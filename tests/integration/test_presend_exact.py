"""The pre-send check answers exactly as the frozen oracle (``tests/fixtures/presend_v0.py``)
does, every field of every result, for ~28,000 mixed inputs (issue 18: the guard under
which the check may be optimised). The real handler runs on API Gateway's event and the
direct invocation; DynamoDB is answered at the botocore HTTP layer from full items, the
projection honoured. Also: pages left in part unprocessed, throttling (503, never a
partial answer), the same number many times in one request."""

from __future__ import annotations

import random
import time

from tests.fixtures import presend_exact as exact

SEED = 18


def test_twenty_thousand_mixed_inputs_answer_as_the_oracle(context, exact_dynamo):
    started = time.perf_counter()
    pop = exact.population(8_000, SEED)
    # Small requests over every variant and send time, then two of the API's maximum.
    exact_dynamo.items = pop.items
    rng = random.Random(SEED)
    compared = 0
    for i, variant in enumerate(exact.VARIANTS):
        for j, send_at in enumerate(exact.SEND_TIMES):
            doc = exact.tenant_doc(variant.tenant)
            exact.use_tenant(doc)
            body = exact.body(variant, send_at, exact.recipients(pop, 100, rng))
            status, got = exact.real_answer(context, variant, body)
            assert status == 200, got
            want = exact.expected(exact.oracle_for(doc, pop.items), body, exact.NOW)
            diff = exact.differences(got, want)
            assert not diff, f"variant {i} {variant}, send_at {send_at} ({j}):\n{diff}"
            compared += len(body["recipients"])
    compared += exact.compare(context, exact_dynamo, pop, 20_000, SEED + 1)
    assert compared >= 20_000
    reasons = {r["reason"] for r in exact.expected(
        exact.oracle_for(exact.tenant_doc("demo"), pop.items),
        exact.body(exact.VARIANTS[0], exact.SEND_TIMES[1], exact.recipients(pop, 5_000, rng)),
        exact.NOW,
    )["results"]}  # fmt: skip
    # The population reaches every reason a marketing check can give.
    assert reasons >= {
        "ok", "invalid_phone", "country_not_allowed", "no_consent", "pending", "opted_out",
        "lapsed", "unreachable", "provider_opted_out", "quiet_hours", "frequency_cap",
    }  # fmt: skip
    assert time.perf_counter() - started < 60  # ~20,000 inputs; a budget, loosely


def test_pages_cut_short_are_asked_again_and_answer_the_same(context, exact_dynamo):
    pop = exact.population(1_500, SEED + 2)
    exact_dynamo.items = pop.items
    exact_dynamo.cut_short = 12  # twelve pages come back in part, the rest as UnprocessedKeys
    rng = random.Random(SEED + 2)
    doc = exact.tenant_doc("demo")
    exact.use_tenant(doc)
    body = exact.body(exact.VARIANTS[0], exact.SEND_TIMES[0], exact.recipients(pop, 2_500, rng))
    status, got = exact.real_answer(context, exact.VARIANTS[0], body)
    assert status == 200, got
    assert exact_dynamo.cut_short == 0
    diff = exact.differences(got, exact.expected(exact.oracle_for(doc, pop.items), body, exact.NOW))
    assert not diff, diff


def test_throttling_is_a_503_never_a_partial_answer(context, exact_dynamo, monkeypatch):
    import botocore.endpoint

    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda seconds: None)  # botocore's own retries
    pop = exact.population(300, SEED + 3)
    exact_dynamo.items = pop.items
    doc = exact.tenant_doc("demo")
    exact.use_tenant(doc)
    body = exact.body(exact.Variant(), exact.SEND_TIMES[0], pop.numbers)
    # Throttled a few times, then answered: botocore's retries hide it, the answer is whole.
    exact_dynamo.throttle = 2
    status, got = exact.real_answer(context, exact.Variant(), body)
    assert status == 200, got
    assert exact_dynamo.throttle == 0
    assert not exact.differences(got, exact.expected(exact.oracle_for(doc, pop.items), body, exact.NOW))
    # Throttled on every retry: 503 with Retry-After, over HTTP and directly.
    exact_dynamo.throttle = 10_000
    status, got = exact.real_answer(context, exact.Variant(), body)
    assert status == 503 and got["error"]["code"] == "service_unavailable"
    status, got = exact.real_answer(context, exact.Variant(direct=True), body)
    assert status == 503 and got["error"] == {
        "code": "service_unavailable",
        "message": got["error"]["message"],
        "status": 503,
        "retry_after": 2,
    }


def test_one_number_many_times_and_in_many_formats_is_one_recipient(context, exact_dynamo):
    pop = exact.population(400, SEED + 4)
    exact_dynamo.items = pop.items
    rng = random.Random(SEED + 4)
    doc = exact.tenant_doc("demo")
    exact.use_tenant(doc)
    oracle = exact.oracle_for(doc, pop.items)
    stored = [n for n in pop.numbers if oracle.subject(n) is not None]
    written = [exact._written(rng, n) for n in stored[:50] for _ in range(4)]
    recipients = [*written, *written[:100], *stored[:50]]
    rng.shuffle(recipients)
    for variant in (exact.Variant(), exact.Variant(record=True)):
        exact_dynamo.batch_gets.clear()
        exact_dynamo.asked.clear()
        body = exact.body(variant, exact.SEND_TIMES[0], recipients)
        status, got = exact.real_answer(context, variant, body)
        assert status == 200, got
        diff = exact.differences(got, exact.expected(exact.oracle_for(doc, pop.items), body, exact.NOW))
        assert not diff, diff
        # Each key asked for once, however often and however its number was written.
        assert len(exact_dynamo.asked) == len(set(exact_dynamo.asked))
