"""Bulk import: what a row costs the worker, and how fast a file goes through end to end.

- ``worker``: ``importing.run_chunk`` over chunks of 500 new rows, then the same chunks
  again (every row ``unchanged``), with DynamoDB answered at the botocore layer from a
  dict (``_make_api_call``): the worker's own CPU per row, botocore's serialising included,
  DynamoDB's side not; and DynamoDB requests per row by operation.
- ``local``: the local stack in this process (its embedded moto, its in-process chunk
  worker, the stream pump publishing each row's consent event), a file of 10,000 rows
  through the API (and, with ``--local-rows 10000,100000``, one of 100,000 through the
  import bucket): rows per second from the POST to ``done``.
- ``projection``: the time for 1,000,000 rows in AWS from the measured worker CPU, the
  template's worker concurrency and an assumed DynamoDB latency per write (stated).

    .venv/bin/python -m bench.imports [--out FILE] [--local-rows 10000[,100000]]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.common import demo_doc, in_process_env, layer_on_path, progress, report, sized

ROWS = sized(5000, 1000)  # ten chunks of the worker's 500 rows; two in the smoke run
# An assumption, not a measurement (no AWS here): TransactWriteItems of two small items
# in-region, as AWS describes DynamoDB writes ("single-digit milliseconds") doubled for the
# two-phase transaction.
ASSUMED_WRITE_MS = 10.0
ASSUMED_READ_MS = 4.0  # BatchGetItem of 100 keys
TEMPLATE_CONCURRENCY = 10  # template.yaml ImportConcurrency default
MAX_CONCURRENCY = (
    100  # what the parameter allows a large import to use (the account's Lambda limit permitting)
)


def _environment() -> None:
    in_process_env(POWERTOOLS_METRICS_NAMESPACE="SmsConsentBench", POWERTOOLS_METRICS_DISABLED="true")
    layer_on_path()


def _rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "phone": f"+49151{start + i:08d}",
            "status": "active",
            "purposes": "marketing;newsletter",
            "consented_at": "2026-03-01T10:00:00Z",
            "method": "double_opt_in",
            "source": "bench",
            "consent_text": "signup-sms:1",
            "last_contact_at": "2026-10-01T10:00:00Z",
        }
        for i in range(n)
    ]


# ---- the worker, DynamoDB at the botocore layer -------------------------------------------------


class _Dynamo:
    """Just enough of DynamoDB for the worker: items by key, answers as the API gives them."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.operations: dict[str, int] = {}

    @staticmethod
    def _key(key: dict[str, Any]) -> tuple[str, str]:
        return key["pk"]["S"], key["sk"]["S"]

    def answer(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.operations[operation] = self.operations.get(operation, 0) + 1
        answer: dict[str, Any] = {}
        if operation == "BatchGetItem":
            keys = params["RequestItems"][self.table]["Keys"]
            found = [self.items[k] for k in map(self._key, keys) if k in self.items]
            answer = {"Responses": {self.table: found}, "UnprocessedKeys": {}}
        elif operation == "GetItem":
            item = self.items.get(self._key(params["Key"]))
            answer = {"Item": item} if item else {}
        elif operation == "PutItem":
            self.items[self._key(params["Item"])] = params["Item"]
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                if "Put" in entry:
                    self.items[self._key(entry["Put"]["Item"])] = entry["Put"]["Item"]
        elif operation != "UpdateItem":
            raise AssertionError(f"unexpected {operation}")
        return answer


@contextmanager
def _answered(dynamo: _Dynamo) -> Iterator[None]:
    from botocore.client import BaseClient

    real = getattr(BaseClient, "_make_api_call")  # noqa: B009

    def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name != "dynamodb":
            return real(client, operation, params)
        # botocore's request side (parameter validation, serialising) is the caller's cost
        client._serializer.serialize_to_request(params, client.meta.service_model.operation_model(operation))
        return dynamo.answer(operation, params)

    setattr(BaseClient, "_make_api_call", call)  # noqa: B010
    try:
        yield
    finally:
        setattr(BaseClient, "_make_api_call", real)  # noqa: B010


def worker() -> dict[str, Any]:
    _environment()
    import os

    from smsconsent import clock, environment, importing, store, tenants

    os.environ["TABLE_NAME"] = "sms-consent-bench"
    environment.reload()
    dynamo = _Dynamo("sms-consent-bench")
    clock.set_source(lambda: clock.parse_iso("2026-11-24T10:00:00Z"))
    doc = demo_doc()
    tenant = tenants.Tenant.from_dict(doc)
    rows = _rows(ROWS)
    # As the import cuts the file (rows and bytes per chunk): each chunk also writes once
    figures: dict[str, Any] = {
        "rows": ROWS,
        "chunks": len(importing.chunks_of(tenant.id, "x", "0" * 64, rows)),
    }
    with _answered(dynamo):
        for label in ("new", "unchanged"):
            # The same file twice, as two imports: the second finds every row in its state
            import_id = store.new_import_id()
            chunks = importing.chunks_of(tenant.id, import_id, "0" * 64, rows)
            store.create_import(tenant.id, import_id, "0" * 64, "api", len(rows), len(chunks), clock.now())
            dynamo.operations.clear()
            # The stand-in's own work (a dict lookup per item) is counted in: it is small,
            # and timing it per call would cost more than it does.
            started = time.process_time()
            ran = [importing.run_chunk(tenant, c) for c in chunks]
            spent = time.process_time() - started
            counts = [c for c in ran if c is not None]
            done = sum(c["imported" if label == "new" else "unchanged"] for c in counts)
            assert done == len(rows), (label, counts[0])
            figures[label] = {
                "cpu_us_per_row": round(spent / len(rows) * 1e6, 1),
                "requests_per_row": round(sum(dynamo.operations.values()) / len(rows), 3),
                "write_requests_per_row": round(
                    dynamo.operations.get("TransactWriteItems", 0) / len(rows), 3
                ),
                "operations": dict(dynamo.operations),
            }
    return figures


# ---- end to end on the local stack -------------------------------------------------------------


def _csv(rows: list[dict[str, Any]]) -> bytes:
    columns = list(rows[0])
    lines = [",".join(columns)] + [",".join(str(r[c]) for c in columns) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def _call(url: str, data: bytes | None = None, content_type: str = "text/csv") -> Any:
    headers = {"Accept": "application/json", "X-Requested-With": "bench", "Content-Type": content_type}
    method = "POST" if data is not None else "GET"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=600) as answer:  # noqa: S310 - loopback
        return json.load(answer)


def local(sizes: list[int]) -> dict[str, Any]:
    _environment()
    from local.stack import start

    figures: dict[str, Any] = {}
    stack = start(port=0)
    try:
        offset = 0
        for n in sizes:
            body = _csv(_rows(n, offset))
            offset += n
            through = "api" if len(body) <= 5 * 1024 * 1024 else "bucket"
            progress(
                f"import: {n:,} rows on the local stack through the {through} ({len(body) / 1e6:.1f} MB)"
            )
            started = time.perf_counter()
            if through == "api":
                import_id = _call(f"{stack.url}/v1/demo/imports", body)["import_id"]
            else:
                import_id = _call(f"{stack.url}/_local/import-bucket/demo/bench-{n}.csv", body)["imports"][0][
                    "import_id"
                ]
            while True:
                status = _call(f"{stack.url}/v1/demo/imports/{import_id}")
                if status["status"] != "running":
                    break
                time.sleep(0.5)
            seconds = time.perf_counter() - started
            assert status["status"] == "done" and status["imported"] == n, status
            figures[str(n)] = {
                "through": through,
                "seconds": round(seconds, 1),
                "rows_per_second": round(n / seconds),
            }
    finally:
        stop = threading.Thread(target=stack.stop, daemon=True)
        stop.start()
        stop.join(30)
    return figures


def projection(worker_figures: dict[str, Any]) -> dict[str, Any]:
    """1,000,000 new rows in AWS: each row one write (sequential within a chunk), a read per
    100 rows, the worker's CPU; chunks in parallel up to the worker concurrency."""
    cpu_ms = worker_figures["new"]["cpu_us_per_row"] / 1000
    per_row_ms = cpu_ms + ASSUMED_WRITE_MS + ASSUMED_READ_MS / 100
    rows = 1_000_000
    answer = {
        "rows": rows,
        "assumed_write_ms": ASSUMED_WRITE_MS,
        "assumed_batch_read_ms": ASSUMED_READ_MS,
        "per_row_ms": round(per_row_ms, 2),
    }
    for concurrency in (TEMPLATE_CONCURRENCY, MAX_CONCURRENCY):
        answer[f"minutes_at_concurrency_{concurrency}"] = round(rows * per_row_ms / concurrency / 60_000, 1)
    return answer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    # 100,000 rows take the local stack over an hour (moto answers every row's write, event and
    # webhook delivery): asked for, not by default.
    parser.add_argument("--local-rows", default=sized("10000", "200"))
    args = parser.parse_args(argv)
    progress("import: the worker's CPU per row, DynamoDB answered at the botocore layer")
    figures: dict[str, Any] = {"worker": worker()}
    figures["projection"] = projection(figures["worker"])
    sizes = [int(n) for n in args.local_rows.split(",") if n]
    if sizes:
        figures["local"] = local(sizes)
    report(figures, args.out)


if __name__ == "__main__":
    main()
