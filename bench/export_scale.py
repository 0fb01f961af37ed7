"""The export of consents end to end through ConsentsFunction's handler on moto in this
process: 25,000 subjects paged completely, items per second and DynamoDB requests per page.

A fresh table (the template's own definition) with the demo tenant and 25,000 subjects
shaped like the store writes them: one SMS marketing consent each, two thirds active
(confirmed, with a last contact), a third opted out, a sixth of all held only as a keyed
hash (an erasure's marker, no number). Then two exports, page after page until the cursor
is null: every record as JSON, and the opt-outs as CSV; each counts the DynamoDB requests
and the items they returned at the botocore layer (a Scan would show there).

Items per second end to end are mostly moto's (it walks and sorts the whole table for
every Query; ``local/moto_sorting`` spares it the slow sort, keeping its order);
``outside_dynamodb_items_per_s`` is the handler's own rate, the run less the time inside
DynamoDB calls: what the function itself costs per item.

    .venv/bin/python -m bench.export_scale [--out FILE] [--subjects 25000]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from bench.calls import counting
from bench.common import (
    REGION,
    ROOT,
    TABLE_NAME,
    demo_doc,
    in_process_env,
    layer_paths,
    progress,
    put_items,
    report,
    sized,
)
from local.context import LambdaContext, arn

SUBJECTS = sized(25_000, 1_200)
LIMIT = 1000
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SINCE = "2025-03-14T09:30:00Z"


def _context() -> LambdaContext:
    return LambdaContext(
        function_name="ConsentsFunction",
        invoked_function_arn=arn("ConsentsFunction", region=REGION),
        aws_request_id="bench-export",
        log_stream_name="bench",
        remaining_ms=29_000,
    )


def _subject(i: int) -> dict[str, Any]:
    """A subject as ``store.commit`` writes it, in DynamoDB's own JSON."""
    key = "b1." + hashlib.sha256(f"bench-{i}".encode()).hexdigest()
    out = i % 3 == 0
    record: dict[str, Any] = {
        "state": "active",
        "since": SINCE,
        "confirmed_at": SINCE,
        "confirmed_token": hashlib.sha256(f"t{i}".encode()).hexdigest(),
        "text": {"id": "signup-sms", "version": "1", "language": "de", "sha256": "0" * 64},
        "source": "shop-checkout",
        "language": "de",
    }
    if out:
        record = {"state": "opted_out", "since": "2026-06-01T10:00:00Z", "before_stop": "active"}
    item: dict[str, Any] = {
        "pk": {"S": f"SUBJ#demo#{key}"},
        "sk": {"S": "SUBJECT"},
        "tenant": {"S": "demo"},
        "consents": {"S": json.dumps({"sms:marketing": record}, sort_keys=True, separators=(",", ":"))},
        "ev_seq": {"N": "2"},
        "ev_head": {"S": "0" * 64},
        "created_at": {"S": SINCE},
        "updated_at": {"S": SINCE},
        "version": {"N": "2"},
        "tenant_shard": {"S": f"demo#{key[3]}"},
    }
    if i % 6 != 3:  # every other opt-out keeps its number; the rest are markers
        item["phone"] = {"S": f"+49151{i:08d}"}
        item["region"] = {"S": "DE"}
    if not out:
        item["last_contact_at"] = {"S": "2026-10-30T09:00:00Z"}
    else:
        item["sms_optout"] = {"S": f"demo#{key[3]}"}
    return item


@contextmanager
def _dynamodb_intervals() -> Iterator[list[tuple[float, float]]]:
    """When each DynamoDB call ran (start, end): the export reads a page's last contacts
    on several threads at once, so the time inside DynamoDB is the union of these, not
    their sum."""
    from botocore.client import BaseClient

    spans: list[tuple[float, float]] = []
    real = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private, not in the stubs

    def timed(client: Any, operation: str, params: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return real(client, operation, params)
        finally:
            if client.meta.service_model.service_name == "dynamodb":
                spans.append((started, time.perf_counter()))  # list.append is atomic

    # The export's BatchGetItem pages go the pre-send reader's short way (store.batch._Wire).
    from smsconsent.store.batch import _Wire

    fetched = _Wire.fetch

    def timed_wire(wire: Any, request: Any) -> Any:
        started = time.perf_counter()
        try:
            return fetched(wire, request)
        finally:
            spans.append((started, time.perf_counter()))

    setattr(BaseClient, "_make_api_call", timed)  # noqa: B010
    setattr(_Wire, "fetch", timed_wire)  # noqa: B010
    try:
        yield spans
    finally:
        setattr(BaseClient, "_make_api_call", real)  # noqa: B010
        setattr(_Wire, "fetch", fetched)  # noqa: B010


def _union(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def _export(query: dict[str, str], accept: str) -> dict[str, Any]:
    """Page through the export until the cursor is null; the figures of that run."""
    from functions.consents.app import handler

    event = json.loads((ROOT / "events" / "consents-export.json").read_text())
    event["headers"]["accept"] = accept
    keys: list[tuple[str, str]] = []
    pages = 0
    cursor: str | None = None
    with _dynamodb_intervals() as spans, counting() as calls:
        started = time.perf_counter()
        while True:
            params = {**query, "limit": str(LIMIT), **({"cursor": cursor} if cursor else {})}
            event["queryStringParameters"] = params
            answer = handler(event, _context())
            if answer["statusCode"] != 200:
                raise RuntimeError(f"export answered {answer['statusCode']}: {answer['body'][:300]}")
            pages += 1
            if accept == "text/csv":
                rows = csv.DictReader(io.StringIO(answer["body"], newline=""))
                keys += [(row["key"], row["purpose"]) for row in rows]
                cursor = answer["headers"].get("X-Next-Cursor")
            else:
                body = json.loads(answer["body"])
                keys += [(i["key"], i["purpose"]) for i in body["items"]]
                cursor = body["cursor"]
            if not cursor:
                break
        run_s = time.perf_counter() - started
    operations = dict(sorted(calls.operations.items()))
    items = len(keys)
    return {
        "query": query,
        "format": "csv" if accept == "text/csv" else "json",
        "items": items,
        "unique": len(set(keys)),
        "pages": pages,
        "limit": LIMIT,
        "run_s": round(run_s, 2),
        "items_per_s": round(items / run_s),
        "outside_dynamodb_s": round(run_s - _union(spans), 2),
        "outside_dynamodb_items_per_s": round(items / max(run_s - _union(spans), 1e-9)),
        "requests": calls.requests,
        "requests_per_page": round(calls.requests / pages, 2),
        "queries_per_page": round(operations.get("Query", 0) / pages, 2),
        "batch_gets_per_page": round(operations.get("BatchGetItem", 0) / pages, 2),
        "items_read": calls.items_read,
        "operations": operations,
    }


def run(n: int = SUBJECTS) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from local import moto_sorting, moto_transactions
    from local import template as tpl

    moto_transactions.install()
    with mock_aws(), moto_sorting.sorted_by_values():
        from smsconsent import clock, keys, settings, store, tenants

        settings.reset()
        store.bind()
        keys.reset()
        tenants.clear_cache()
        previous_clock = clock._source
        clock.set_source(lambda: NOW)
        try:
            definition, _ = tpl.table_definition(tpl.load(), TABLE_NAME)
            definition.pop("StreamSpecification", None)
            client = boto3.client("dynamodb", region_name=REGION)
            client.create_table(**definition)
            store.put_tenant_doc(demo_doc(), NOW)
            started = time.perf_counter()
            put_items(client, TABLE_NAME, (_subject(i) for i in range(n)))
            load_s = time.perf_counter() - started
            expected = {"all": n, "opted_out": len(range(0, n, 3))}
            runs = {}
            for name, query, accept in (
                ("all", {}, "application/json"),
                ("opted_out", {"state": "opted_out"}, "text/csv"),
            ):
                progress(f"export: {n:,} subjects, {name} as {accept}")
                figures = _export(query, accept)
                figures["complete"] = figures["items"] == figures["unique"] == expected[name]
                runs[name] = figures
                progress(
                    f"export: {figures['items']:,} items in {figures['pages']} pages,"
                    f" {figures['items_per_s']:,}/s, {figures['requests_per_page']} requests per page"
                )
            return {"subjects": n, "load_s": round(load_s, 1), "runs": runs}
        finally:
            clock.set_source(previous_clock)


def measure(n: int = SUBJECTS) -> dict[str, Any]:
    import sys

    in_process_env(TENANT_CACHE_SECONDS="3600")
    for path in reversed([str(ROOT), *(str(p) for p in layer_paths())]):
        if path not in sys.path:
            sys.path.insert(0, path)
    return run(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", help="write the figures here as JSON (default: print them)")
    parser.add_argument("--subjects", type=int, default=SUBJECTS)
    args = parser.parse_args()
    figures = measure(args.subjects)
    report(figures, args.out)


if __name__ == "__main__":
    main()
