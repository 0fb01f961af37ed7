"""The pre-send check end to end on the local stack, plus its handler CPU per recipient.

``cpu()``: ``bench.presend_cpu.measure(10_000)`` (DynamoDB answered at the botocore
layer: the handler's own CPU per recipient and its ``BatchGetItem`` requests), and
``side_by_side``: the same with the sending rules on and off.

``end_to_end()``: a local stack in this process (HTTP server, the real handler, moto's
DynamoDB server), its table loaded with one subject per recipient, each with an active
marketing consent (so every number goes the whole way: cap, quiet hours, footer). Then
``POST /v1/demo/check`` with 1,000 and with 10,000 distinct numbers, timed at the client
(cold: numbers new to the function; warm: the same request again), counting the DynamoDB
requests each made. Wall times are moto's (a Python server sharing this process and its
two cores), not DynamoDB's.

    .venv/bin/python -m bench.presend_e2e [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.calls import counting
from bench.common import REGION, progress, put_items, report, sized

SIZES = sized((1_000, 10_000), (100, 300))
CPU_RECIPIENTS = sized(10_000, 300)
SEND_AT = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 17:00 in Berlin and Paris: no quiet hours
_PREFIXES = ("+49151", "+49160", "+49170", "+49176", "+49152", "+336", "+337")


def cpu(n: int = CPU_RECIPIENTS) -> dict[str, Any]:
    """Handler CPU per recipient and requests, from ``bench.presend_cpu`` (``{"error": ...}``
    when it is missing or fails)."""
    try:
        from bench import presend_cpu

        figures: dict[str, Any] = presend_cpu.measure(n)
        # The sending rules' cost (issue 17): the same check with them on and off.
        figures["sending_rules"] = presend_cpu.side_by_side(n, rounds=5)
        # Issue 18: the handler against a naive peer and the floor, in the same run.
        figures["versus"] = presend_cpu.versus(n)
        figures["versus_us"] = presend_cpu.versus(n, mix="us")
    except Exception as exc:  # its own failure must not lose the end-to-end figures
        import traceback

        traceback.print_exc()
        return {"error": f"bench.presend_cpu: {type(exc).__name__}: {exc}"}
    return figures


def numbers(n: int, valid: Callable[[str], bool], seed: int = 7) -> list[str]:
    """``n`` distinct valid German and French mobile numbers in E.164, shuffled."""
    rng = random.Random(seed)
    found: set[str] = set()
    while len(found) < n:
        number = (
            rng.choice(_PREFIXES) + str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(7))
        )
        if number not in found and valid(number):
            found.add(number)
    out = sorted(found)
    rng.shuffle(out)
    return out


def _subject_items(tenant: str, recipients: list[str], now: datetime) -> list[dict[str, Any]]:
    """The stored subjects, as the store writes them: confirmed for marketing and newsletter,
    one recent send (under the cap), contacted recently (not lapsed)."""
    from smsconsent import clock, keys, phone, store

    since = clock.iso(now - timedelta(days=120))
    last_send = clock.iso(now - timedelta(days=4))
    items = []
    for i, e164 in enumerate(recipients):
        record: store.ConsentRecord = {
            "state": "active",
            "since": since,
            "confirmed_at": since,
            "confirmed_token": f"{i:064x}",
            "text": {"id": "signup-sms", "version": "1", "sha256": "a" * 64, "language": "de"},
            "source": "https://shop.example/newsletter#sms-form",
            "language": "de",
        }
        subject = store.new_subject(tenant, keys.subject_hash(tenant, e164), now - timedelta(days=120))
        subject.phone = e164
        subject.region = phone.normalise(e164).region
        subject.language = "de" if i % 3 else "en"
        subject.consents = {"sms:marketing": record, "sms:newsletter": record.copy()}
        subject.optout_code = f"c{i:015d}"
        subject.last_contact_at = last_send
        subject.sends = [last_send]
        subject.last_campaign = "autumn"
        subject.version = 1
        items.append(store.subjects._to_item(subject, now, None).serialize())
    return items


def _load(endpoint: str, table: str, items: list[dict[str, Any]]) -> None:
    import boto3

    put_items(boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION), table, items)


def _post(url: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    data = json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)  # noqa: S310
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as answer:  # noqa: S310 - the local stack
        payload = answer.read()
    took = time.perf_counter() - started
    return took, json.loads(payload)


def end_to_end(sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    from local import stack as local_stack

    stack = local_stack.start(port=0)
    try:
        from smsconsent import phone

        stack.clock.set(SEND_AT)

        def valid(number: str) -> bool:
            try:
                return phone.normalise(number).e164 == number
            except phone.PhoneError:
                return False

        everyone = numbers(sum(sizes), valid)
        progress(f"pre-send: loading {len(everyone):,} subjects into the local stack")
        started = time.perf_counter()
        _load(stack.dynamodb_endpoint, local_stack.TABLE_NAME, _subject_items("demo", everyone, SEND_AT))
        loaded_s = time.perf_counter() - started
        url = stack.url + "/v1/demo/check"
        request: dict[str, Any] = {
            "category": "marketing",
            "campaign": "bench",
            "send_at": SEND_AT.isoformat(),
        }
        # Warm-up on another number: the handler imported, the tenant and the client made.
        warmup = numbers(1, valid, seed=99)
        _post(url, {**request, "recipients": warmup})

        figures: dict[str, Any] = {"subjects": len(everyone), "load_s": round(loaded_s, 1), "runs": {}}
        offset = 0
        for n in sizes:
            recipients, offset = everyone[offset : offset + n], offset + n
            with counting() as calls:
                cold_s, answer = _post(url, {**request, "recipients": recipients})
                cold_calls = calls.as_dict()
                calls.reset()
                warm_s, again = _post(url, {**request, "recipients": recipients})
            summary = answer.get("summary") or answer
            if again.get("summary") != answer.get("summary"):
                raise RuntimeError(f"pre-send answers differ: {again.get('summary')} != {summary}")
            figures["runs"][str(n)] = {
                "recipients": n,
                "cold_ms": round(cold_s * 1000),
                "warm_ms": round(warm_s * 1000),
                "requests": cold_calls["requests"],
                "operations": cold_calls["operations"],
                "expected_requests": math.ceil(n / 100),
                "summary": summary,
            }
            progress(f"pre-send: {n:,} recipients in {cold_s * 1000:,.0f} ms (warm {warm_s * 1000:,.0f} ms)")
        return figures
    finally:
        stack.stop()


def measure() -> dict[str, Any]:
    progress(f"pre-send: handler CPU for {CPU_RECIPIENTS:,} recipients")
    return {"cpu": cpu(), "end_to_end": end_to_end()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", help="write the figures here as JSON (default: print them)")
    args = parser.parse_args()
    figures = measure()
    report(figures, args.out)


if __name__ == "__main__":
    main()
