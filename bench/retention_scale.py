"""The retention job reads what is due, not the table: 10,000 and 100,000 subjects, the same
100 of them due, on moto in this process.

Each size gets a fresh table (the template's own definition) with the demo tenant and
``n`` subjects shaped like the store writes them: pending double opt-ins, 100 of them
overdue in today's ``due-index`` bucket, the rest due in 300 days. The job's cursor is
set to yesterday, as after yesterday's run (without a cursor the first run looks back 400
day buckets: cheap on DynamoDB, but moto answers each index Query by walking the whole
table). Then the Expiry function's handler runs once, counting DynamoDB requests and the
items they returned at the botocore layer.

Items read and requests are the scale-free figures: DynamoDB answers a Query from the
index or item partition alone. Run time is moto's, which grows with the table (it walks
the whole table for every Query: the index pages and each due subject's evidence query),
so it says nothing about DynamoDB's; ``outside_dynamodb_s`` is the run less the time
inside DynamoDB calls: the job's own work, which should not grow with the table.

    .venv/bin/python -m bench.retention_scale [--out FILE] [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
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

SIZES = sized((10_000, 100_000), (300,))
DUE = sized(100, 10)
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _context() -> LambdaContext:
    return LambdaContext(
        function_name="ExpiryFunction",
        invoked_function_arn=arn("ExpiryFunction", region=REGION),
        aws_request_id="bench-retention",
        log_stream_name="bench",
        remaining_ms=900_000,  # the template gives the retention function 15 minutes
    )


def _environment() -> None:
    # moto takes a minute over 100,000 subjects where DynamoDB takes seconds: keep the
    # tenant cached for the run, as a real run would (else it is read every 60 s).
    in_process_env(TENANT_CACHE_SECONDS="3600")


def _subject(i: int, due: bool, now: datetime) -> dict[str, Any]:
    """A pending double opt-in as the store writes it (see test_retention.py), in
    DynamoDB's own JSON."""
    from smsconsent import clock

    moment = now - timedelta(hours=1) if due else now + timedelta(days=300)
    issued = clock.iso(now - timedelta(hours=49) if due else now)
    bucket = (now if due else now + timedelta(days=300)).date().isoformat()
    consents = {"sms:marketing": {"state": "pending", "since": issued, "issued_at": issued, "token": f"{i}"}}
    return {
        "pk": {"S": f"SUBJ#demo#b1.{i:064x}"},
        "sk": {"S": "SUBJECT"},
        "tenant": {"S": "demo"},
        "consents": {"S": json.dumps(consents)},
        "ev_seq": {"N": "0"},
        "ev_head": {"S": ""},
        "created_at": {"S": issued},
        "updated_at": {"S": issued},
        "version": {"N": "1"},
        "due_bucket": {"S": f"due#{bucket}"},
        "due_at": {"S": clock.iso(moment)},
    }


def run(n: int, due: int = DUE, now: datetime = NOW) -> dict[str, Any]:
    """One fresh moto table of ``n`` subjects, ``due`` of them due; one retention run."""
    import boto3
    from moto import mock_aws

    from local import moto_transactions
    from local import template as tpl

    moto_transactions.install()  # moto would copy the whole table for each transaction
    with mock_aws():
        from smsconsent import clock, keys, settings, store, tenants

        settings.reset()
        store.bind()
        keys.reset()
        tenants.clear_cache()
        previous_clock = clock._source
        clock.set_source(lambda: now)
        try:
            definition, ttl = tpl.table_definition(tpl.load(), TABLE_NAME)
            client = boto3.client("dynamodb", region_name=REGION)
            client.create_table(**definition)
            if ttl:
                client.update_time_to_live(
                    TableName=TABLE_NAME, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
                )
            store.put_tenant_doc(demo_doc(), now)
            started = time.perf_counter()
            put_items(client, TABLE_NAME, (_subject(i, i < due, now) for i in range(n)))
            load_s = time.perf_counter() - started
            from smsconsent import retention

            store.set_job_cursor(retention.JOB, now.date() - timedelta(days=1), now)

            from functions.expiry.app import handler

            with counting() as calls:
                started, cpu_started = time.perf_counter(), time.process_time()
                summary = handler({"scheduled_time": clock.iso(now)}, _context())
                run_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
            return {
                "subjects": n,
                "due": due,
                "examined": summary["examined"],
                "pending_expired": summary["pending_expired"],
                "complete": summary["complete"],
                "items_read": calls.items_read,
                "items_read_per_due": round(calls.items_read / due, 3),
                "requests": calls.requests,
                "operations": dict(sorted(calls.operations.items())),
                "moto_run_s": round(run_s, 2),
                # The job's own time: the run less the time inside DynamoDB calls (moto's).
                "outside_dynamodb_s": round(run_s - calls.seconds, 2),
                "moto_run_cpu_s": round(cpu_s, 2),
                "load_s": round(load_s, 1),
            }
        finally:
            clock.set_source(previous_clock)


def measure(sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    import sys

    _environment()
    for path in reversed([str(ROOT), *(str(p) for p in layer_paths())]):
        if path not in sys.path:
            sys.path.insert(0, path)
    runs = {}
    for n in sizes:
        progress(f"retention: {n:,} subjects, {DUE} due")
        runs[str(n)] = run(n)
        progress(f"retention: {n:,} subjects: read {runs[str(n)]['items_read']} items")
    return {"runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", help="write the figures here as JSON (default: print them)")
    parser.add_argument(
        "--sizes", default=",".join(str(s) for s in SIZES), help="table sizes, comma-separated"
    )
    args = parser.parse_args()
    figures = measure(tuple(int(s) for s in args.sizes.split(",")))
    report(figures, args.out)


if __name__ == "__main__":
    main()
