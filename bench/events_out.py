"""Consent events out: what publishing costs the writer, and what the publisher sustains.

- ``writer``: STOPs (the inbound use case) on moto in this process, in alternating rounds
  with the table's stream on and off. The figure is each STOP's time outside DynamoDB
  calls (the writer's own work): publishing adds nothing to it, since the stream, not the
  writer, publishes; requests per STOP are counted at the botocore layer.
- ``publisher``: the publisher handler over batches of 100 real-shaped stream records
  (opt-outs of distinct subjects, one webhook subscription), with DynamoDB, EventBridge and
  SQS answered at the botocore layer: its own CPU per event, and events per second.

    .venv/bin/python -m bench.events_out [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.calls import counting
from bench.common import (
    REGION,
    TABLE_NAME,
    demo_doc,
    hold_tenant,
    in_process_env,
    layer_on_path,
    progress,
    report,
    sized,
)
from local.context import LambdaContext

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ROUNDS = sized(6, 2)
STOPS_PER_ROUND = sized(60, 5)
RECORDS = sized(2000, 200)


def _environment() -> None:
    in_process_env(POWERTOOLS_METRICS_NAMESPACE="SmsConsentBench", POWERTOOLS_METRICS_DISABLED="true")
    layer_on_path()


def _context(name: str) -> LambdaContext:
    return LambdaContext(
        function_name=name, aws_request_id="bench", log_stream_name="bench", remaining_ms=60_000
    )


# ---- the writer ----------------------------------------------------------------------------


def _stop(number: str, label: str) -> None:
    from smsconsent import inbound, tenants
    from smsconsent.providers.base import InboundMessage

    tenant = tenants.get("demo")
    assert tenant is not None
    inbound.receive(tenant, InboundMessage("twilio", f"SM{label}", number, "+4915790000000", "STOP"))


def writer() -> dict[str, Any]:
    """Per STOP: ms outside DynamoDB calls and requests, stream on vs off, side by side."""
    import boto3
    from moto import mock_aws

    from local import template as tpl

    with mock_aws():
        from smsconsent import clock, environment, store

        clock.set_source(lambda: NOW)
        definition, _ = tpl.table_definition(tpl.load(), TABLE_NAME)
        client = boto3.client("dynamodb", region_name=REGION)
        tables = {"on": TABLE_NAME, "off": TABLE_NAME + "-no-stream"}
        for mode, name in tables.items():
            made = {**definition, "TableName": name}
            if mode == "off":
                made.pop("StreamSpecification")
            client.create_table(**made)
            os.environ["TABLE_NAME"] = name
            environment.reload()
            store.put_tenant_doc(demo_doc(), NOW)
        figures: dict[str, list[float]] = {"on": [], "off": []}
        requests: dict[str, int] = {"on": 0, "off": 0}
        count = 0
        for round_ in range(ROUNDS):
            for mode in ("on", "off") if round_ % 2 == 0 else ("off", "on"):
                os.environ["TABLE_NAME"] = tables[mode]
                environment.reload()
                _stop("+4915100000000", f"{round_}{mode}warm".encode().hex()[:32].rjust(32, "0"))
                numbers = [f"+49151{count + i:08d}" for i in range(STOPS_PER_ROUND)]
                count += STOPS_PER_ROUND
                with counting() as calls:
                    started = time.perf_counter()
                    for i, number in enumerate(numbers):
                        _stop(number, f"{round_:02d}{int(mode == 'on')}{i:029x}")
                    took = time.perf_counter() - started
                figures[mode].append((took - calls.seconds) / STOPS_PER_ROUND * 1000)
                requests[mode] += calls.requests
        on, off = statistics.median(figures["on"]), statistics.median(figures["off"])
        return {
            "stops_per_round": STOPS_PER_ROUND,
            "rounds": ROUNDS,
            "ms_outside_dynamodb_stream_on": round(on, 3),
            "ms_outside_dynamodb_stream_off": round(off, 3),
            "ratio_on_to_off": round(on / off, 3),
            "requests_per_stop_on": requests["on"] / (ROUNDS * STOPS_PER_ROUND),
            "requests_per_stop_off": requests["off"] / (ROUNDS * STOPS_PER_ROUND),
        }
    os.environ["TABLE_NAME"] = TABLE_NAME


# ---- the publisher ---------------------------------------------------------------------------


def _record(i: int) -> dict[str, Any]:
    data = {"consents": ["sms:marketing"], "keyword": "STOP", "provider": "twilio", "via": "sms_keyword"}
    pk = f"SUBJ#demo#b1.{i:064x}"
    at = (NOW + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    image = {
        "pk": {"S": pk},
        "sk": {"S": "EV#00000003"},
        "seq": {"N": "3"},
        "type": {"S": "optout"},
        "at": {"S": at},
        "data": {"S": json.dumps(data, sort_keys=True, separators=(",", ":"))},
        "prev": {"S": "0" * 64},
        "hash": {"S": f"{i:064x}"},
    }
    return {
        "eventID": f"{i:032x}",
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"pk": image["pk"], "sk": image["sk"]},
            "NewImage": image,
            "SequenceNumber": f"{i:021d}",
            "StreamViewType": "NEW_IMAGE",
        },
    }


def _answers(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """What DynamoDB, EventBridge and SQS would answer, without asking them."""
    if operation == "BatchGetItem":
        ((table, asked),) = params["RequestItems"].items()
        items = [{"pk": k["pk"], "phone": {"S": "+4915112345678"}} for k in asked["Keys"]]
        return {"Responses": {table: items}, "UnprocessedKeys": {}}
    if operation == "Query":
        item = {
            "pk": {"S": "WEBHOOK#demo"},
            "sk": {"S": "WH#wh_bench"},
            "url": {"S": "https://crm.example.com/hooks"},
            "events": {"S": '["*"]'},
            "secret": {"S": "whsec_" + "A" * 43 + "="},
            "created_at": {"S": "2026-11-22T10:00:00Z"},
        }
        return {"Items": [item], "Count": 1, "ScannedCount": 1}
    if operation == "PutEvents":
        return {
            "FailedEntryCount": 0,
            "Entries": [{"EventId": str(i)} for i in range(len(params["Entries"]))],
        }
    if operation == "SendMessageBatch":
        return {
            "Successful": [
                {"Id": e["Id"], "MessageId": e["Id"], "MD5OfMessageBody": ""} for e in params["Entries"]
            ]
        }
    raise AssertionError(f"unexpected {operation}")


def publisher() -> dict[str, Any]:
    from botocore.client import BaseClient

    os.environ["EVENT_BUS_NAME"] = "bench-bus"
    os.environ["WEBHOOK_QUEUE_URL"] = "https://sqs.eu-central-1.amazonaws.com/123456789012/bench.fifo"
    os.environ["LIST_SYNC_QUEUE_URL"] = "https://sqs.eu-central-1.amazonaws.com/123456789012/bench-list-sync"
    from smsconsent import environment

    environment.reload()
    # A warm publisher holds the tenant (it names an opt-out list, so each opt-out is also
    # queued for the list sync); the demo tenant's plain secrets never reach AWS.
    hold_tenant(demo_doc())
    from functions.publisher.app import handler

    real = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private, not in the stubs
    inside = [0.0]

    def answered(client: Any, operation: str, params: dict[str, Any]) -> Any:
        started = time.thread_time()
        answer = _answers(operation, params)
        inside[0] += time.thread_time() - started
        return answer

    records = [_record(i) for i in range(RECORDS)]
    setattr(BaseClient, "_make_api_call", answered)  # noqa: B010
    try:
        handler({"Records": records[:100]}, _context("PublisherFunction"))  # clients made, code loaded
        rounds = []
        for _ in range(5):
            inside[0] = 0.0
            started_cpu, started = time.process_time(), time.perf_counter()
            for start in range(0, RECORDS, 100):
                answer = handler({"Records": records[start : start + 100]}, _context("PublisherFunction"))
                assert answer == {"batchItemFailures": []}, answer
            rounds.append((time.process_time() - started_cpu - inside[0], time.perf_counter() - started))
    finally:
        setattr(BaseClient, "_make_api_call", real)  # noqa: B010
    cpu = statistics.median(r[0] for r in rounds)
    wall = statistics.median(r[1] for r in rounds)
    return {
        "events": RECORDS,
        "batch": 100,
        "cpu_us_per_event": round(cpu / RECORDS * 1e6, 1),
        "events_per_second": round(RECORDS / wall),
    }


# ---- the local stack ---------------------------------------------------------------------------

DELIVERIES = sized(60, 5)


def _receiver() -> tuple[Any, dict[str, float]]:
    """A loopback receiver answering at once; when each subject's first event arrived."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    arrived: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            arrived.setdefault(json.loads(body)["subject"], time.perf_counter())
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, arrived


def _request(url: str, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    import urllib.request

    data = json.dumps(body).encode() if body is not None else b""
    headers = {"content-type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - the local stack
        return dict(json.loads(answer.read() or b"{}"))


def local_delivery() -> dict[str, Any]:
    """Opt-outs on behalf over HTTP on the local stack, one at a time: from each answer to
    its consent event at a loopback receiver (answering at once)."""
    from local import stack as local_stack
    from smsconsent import keys

    server, arrived = _receiver()
    stack = local_stack.start(port=0)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        _request(stack.url + "/v1/demo/webhooks", "POST", {"url": url, "events": ["consent.opted_out"]})
        sent: dict[str, float] = {}
        for i in range(DELIVERIES):
            number = f"+49151{40000000 + i:08d}"
            _request(stack.url + f"/v1/demo/subjects/{number}/optout", "POST", {})
            sent[keys.subject_hashes("demo", number)[0]] = time.perf_counter()
            time.sleep(0.05)  # one change at a time, as people make them
        deadline = time.perf_counter() + 30
        while len(arrived) < DELIVERIES and time.perf_counter() < deadline:
            time.sleep(0.02)
    finally:
        stack.stop()
        server.shutdown()
    got = dict(arrived)
    latencies = sorted((got[k] - at) * 1000 for k, at in sent.items() if k in got)
    if len(latencies) < DELIVERIES:
        raise RuntimeError(f"only {len(latencies)} of {DELIVERIES} events arrived")
    return {
        "deliveries": DELIVERIES,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
    }


def measure() -> dict[str, Any]:
    _environment()
    progress(f"events: the writer, {ROUNDS} rounds of {STOPS_PER_ROUND} STOPs, stream on and off")
    figures = {"writer": writer()}
    progress(f"events: the publisher, {RECORDS} stream records, AWS answered at the botocore layer")
    figures["publisher"] = publisher()
    progress(f"events: the local stack, {DELIVERIES} opt-outs to a loopback receiver")
    figures["local_delivery"] = local_delivery()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", help="write the figures here as JSON (default: print them)")
    args = parser.parse_args()
    figures = measure()
    report(figures, args.out)


if __name__ == "__main__":
    main()
