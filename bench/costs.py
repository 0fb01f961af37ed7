"""What one operation costs in AWS: DynamoDB request units, Lambda invocations and
GB-seconds, and the other services' requests, priced at on-demand list prices.

The real handlers run on real-shaped events against moto in this process; a meter at the
botocore layer sees every request they make and the answer, and computes DynamoDB's request
units by its documented rules (moto's own ``ConsumedCapacity`` is a constant 1.0 per call, so
it cannot be the measurement):

- item size: attribute names plus values (strings and binaries by their bytes, numbers one
  byte per two significant digits plus one, lists and maps 3 bytes plus 1 per element);
- reads: 1 RRU per 4 KB of the item (rounded up) strongly consistent, 0.5 eventually
  consistent, 2 transactional; a missing item still costs the minimum; ``BatchGetItem`` item
  by item; ``Query``/``Scan`` the sum of the items *evaluated* in a page (before any filter,
  whatever is projected), rounded up, at least one unit; an index query reads index entries
  (eventually consistent);
- writes: 1 WRU per 1 KB of the larger of the item before and after, twice in a
  transaction (``ConditionCheck`` included); every global secondary index the write touches
  by the size of its entry (table key, index key, projected attributes): a new entry one
  write, a changed index key a delete and a put, an entry whose projection is unchanged
  nothing; a failed conditional write still costs its units (the item as it is, or 1 for a
  new one), a cancelled transaction its prepare phase (1x per item, no index writes); TTL
  deletes are free and happen outside any operation here.

Lambda: the invocations each operation causes, from the HTTP request through the queue
worker and the stream publisher, each billed for ``own CPU x CPU share + assumed I/O``:
the handler's own time here (its wall time less the time inside AWS calls), scaled up for
the smaller CPU share Lambda gives below 1,769 MB (one vCPU there, in proportion below), plus
an assumed round trip per AWS request (``ASSUMED_MS``: nothing here reaches AWS), times the
function's ``MemorySize`` from template.yaml, at arm64 prices (the template's
``Architectures``). Each stream batch and queue message is handled alone (the traffic of one
operation at a time): busier traffic batches them, which only makes things cheaper.

    .venv/bin/python -m bench.costs [--out FILE] [--sizes 10000,100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import csv
import decimal
import io
import json
import math
import re
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from bench.common import (
    REGION,
    ROOT,
    TABLE_NAME,
    demo_doc,
    functions,
    in_process_env,
    json_object,
    layer_on_path,
    progress,
    put_items,
    report,
    sized,
)

# ---- prices: the one place ------------------------------------------------------------------

# On-demand list prices of one region, as published on the pages below (AWS's own pricing
# pages render their rate tables in the browser, so the stored copies readable here carry the
# rates only in their worked examples; the transcriptions named below carry them, dated).
PRICE_REGION = "us-east-1"
PRICES_TAKEN = "2026-12-03"
PRICES = {
    "dynamodb_wru": 0.625 / 1e6,  # per write request unit, Standard table class
    "dynamodb_rru": 0.125 / 1e6,  # per read request unit
    "lambda_gb_s": 0.0000133334,  # arm64, first 7.5 billion GB-s a month
    "lambda_request": 0.20 / 1e6,
    "http_api_request": 1.00 / 1e6,  # HTTP API, first 300 million a month, per 512 KB
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk
    "sqs_fifo_request": 0.50 / 1e6,
    "eventbridge_event": 1.00 / 1e6,  # custom event put on a bus, per 64 KB chunk
    "eventbridge_archive_gb": 0.10,  # events archived, per GB processed
    "scheduler_invocation": 1.00 / 1e6,  # EventBridge Scheduler, after 14 million free a month
}
PRICE_SOURCES = {
    "DynamoDB": "https://aws.amazon.com/dynamodb/pricing/on-demand/ (rates as transcribed by"
    " https://airbyte.com/data-engineering-resources/dynamodb-pricing, 2025-07-21: after the"
    " 50% on-demand cut of 2024-11-01)",
    "Lambda": "https://aws.amazon.com/lambda/pricing/ (arm64 rate as transcribed by"
    " https://cloudchipr.com/blog/aws-lambda-pricing, 2024)",
    "API Gateway": "https://aws.amazon.com/api-gateway/pricing/ (HTTP API rate as transcribed by"
    " https://awsforengineers.com/blog/aws-api-gateway-pricing-explained, 2025-05-19)",
    "SQS": "https://aws.amazon.com/sqs/pricing/ (as transcribed by"
    " https://cloudburn.io/blog/amazon-sqs-pricing, 2026-03-14)",
    "EventBridge": "https://aws.amazon.com/eventbridge/pricing/ (as transcribed by"
    " https://cloudburn.io/blog/amazon-eventbridge-pricing, 2026-03-13)",
}
NOT_PRICED = (
    "SMS (the provider's per-message price), CloudWatch Logs and X-Ray traces, KMS requests"
    " (the table, queues and logs use one customer key: data keys are cached for minutes),"
    " Secrets Manager (the pepper is read once per container), storage and PITR, and the"
    " event source mappings' idle long polls of each SQS queue (a fixed monthly amount)"
)

# Nothing here reaches AWS: what one request of each kind is assumed to take in-region,
# client work included (AWS describes DynamoDB as single-digit milliseconds; a transaction
# is two phases). An assumption, not a measurement.
ASSUMED_MS = {
    "dynamodb:GetItem": 4.0,
    "dynamodb:Query": 5.0,
    "dynamodb:BatchGetItem": 6.0,
    "dynamodb:PutItem": 6.0,
    "dynamodb:UpdateItem": 6.0,
    "dynamodb:DeleteItem": 6.0,
    "dynamodb:BatchWriteItem": 8.0,
    "dynamodb:TransactWriteItems": 10.0,
    "dynamodb:TransactGetItems": 8.0,
    "sqs": 8.0,
    "events": 15.0,
    "sms": 100.0,  # one SendTextMessage to AWS End User Messaging
}
DEFAULT_MS = 10.0
FULL_VCPU_MB = 1769  # Lambda gives one vCPU at 1,769 MB, in proportion below
# A message a queue's event source mapping hands to a function costs a ReceiveMessage and a
# DeleteMessageBatch, one message at a time (batches of up to 10 share both).
SQS_POLL_REQUESTS = 2

PRESEND_RECIPIENTS = sized(1000, 200)
IMPORT_ROWS = sized(500, 50)  # one chunk
RETENTION_SIZES = sized((10_000, 100_000), (300,))
RETENTION_DUE = sized(100, 10)
REPEAT = sized(5, 2)
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 16:00 in Berlin: no quiet hours
OUR_NUMBER = "+4915790000000"
TWILIO_URL = "http://127.0.0.1:3000/v1/demo/inbound/twilio"


# ---- DynamoDB's size rules -------------------------------------------------------------------


def _number_size(text: str) -> int:
    """1 byte per two significant digits, plus 1 (leading and trailing zeros trimmed)."""
    digits = decimal.Decimal(text).as_tuple().digits
    significant = "".join(map(str, digits)).strip("0") or "0"
    return math.ceil(len(significant) / 2) + 1


def _binary_size(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    return len(base64.b64decode(value))  # DynamoDB JSON carries binaries as base64 text


def value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value (DynamoDB JSON, ``{"S": "..."}``), its name excluded."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return _binary_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(n) for n in inner)
    if kind == "BS":
        return sum(_binary_size(b) for b in inner)
    if kind == "L":
        return 3 + sum(value_size(element) + 1 for element in inner)
    if kind == "M":
        return 3 + sum(len(name.encode()) + value_size(element) + 1 for name, element in inner.items())
    raise ValueError(f"not a DynamoDB attribute value: {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]] | None) -> int:
    """Bytes an item counts for: each attribute's name (UTF-8) plus its value."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


READ_FACTOR = {"strong": 1.0, "eventual": 0.5, "transactional": 2.0}


def read_units(size: int, consistency: str) -> float:
    """RRU for reading ``size`` bytes at once: 4 KB blocks rounded up, at least one."""
    return max(1, math.ceil(size / 4096)) * READ_FACTOR[consistency]


def write_units(size: int) -> int:
    """WRU for writing an item of ``size`` bytes: 1 KB blocks rounded up, at least one."""
    return max(1, math.ceil(size / 1024))


@dataclass(frozen=True)
class Index:
    """A global secondary index as template.yaml defines it."""

    name: str
    keys: tuple[str, ...]
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    non_key: tuple[str, ...] = ()

    def entry(self, item: Mapping[str, Any] | None, table_keys: Sequence[str]) -> dict[str, Any] | None:
        """The item's entry in the index (None: the item is not in it, a key attribute missing)."""
        if item is None or any(k not in item for k in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        wanted = {*table_keys, *self.keys, *(self.non_key if self.projection == "INCLUDE" else ())}
        return {name: value for name, value in item.items() if name in wanted}

    def write_units(
        self, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, table_keys: Sequence[str]
    ) -> int:
        """What a write of the table item from ``old`` to ``new`` costs this index."""
        before, after = self.entry(old, table_keys), self.entry(new, table_keys)
        if before is None and after is None:
            return 0
        if before is None:
            return write_units(item_size(after))
        if after is None:
            return write_units(item_size(before))
        if any(before[k] != after[k] for k in self.keys):  # moved: a delete and a put
            return write_units(item_size(before)) + write_units(item_size(after))
        if before == after:
            return 0  # nothing the index holds changed: no index write
        return write_units(max(item_size(before), item_size(after)))


@dataclass(frozen=True)
class TableShape:
    keys: tuple[str, ...]
    indexes: tuple[Index, ...]

    @classmethod
    def of(cls, definition: Mapping[str, Any]) -> TableShape:
        keys = tuple(k["AttributeName"] for k in definition["KeySchema"])
        indexes = tuple(
            Index(
                gsi["IndexName"],
                tuple(k["AttributeName"] for k in gsi["KeySchema"]),
                gsi["Projection"]["ProjectionType"],
                tuple(gsi["Projection"].get("NonKeyAttributes") or ()),
            )
            for gsi in definition.get("GlobalSecondaryIndexes") or ()
        )
        return cls(keys, indexes)

    def key_of(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: item[k] for k in self.keys}

    def index(self, name: str) -> Index:
        return next(i for i in self.indexes if i.name == name)


# ---- what was consumed -----------------------------------------------------------------------


@dataclass
class Usage:
    """What some work consumed: DynamoDB units and requests of every service."""

    rru: float = 0.0
    wru: float = 0.0  # the table's own
    index_wru: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)  # "service:Operation"
    billed: Counter[str] = field(default_factory=Counter)  # priced units: sqs, sqs_fifo, events...
    failed_conditions: int = 0
    archive_bytes: int = 0
    cpu_in_aws: float = 0.0  # CPU seconds inside AWS calls: botocore's, moto's, the meter's
    threads: set[int] = field(default_factory=set)  # threads that called DynamoDB
    # What each request's units went to: "Operation kind" -> [count, RRU, WRU]
    ledger: dict[str, list[float]] = field(default_factory=dict)

    def note(
        self, operation: str, item: Mapping[str, Any] | None, rru: float = 0.0, wru: float = 0.0
    ) -> None:
        entry = self.ledger.setdefault(f"{operation} {_kind(item)}", [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += rru
        entry[2] += wru

    @property
    def total_wru(self) -> float:
        return self.wru + sum(self.index_wru.values())

    def add(self, other: Usage) -> None:
        self.rru += other.rru
        self.wru += other.wru
        self.index_wru.update(other.index_wru)
        self.requests.update(other.requests)
        self.billed.update(other.billed)
        self.failed_conditions += other.failed_conditions
        self.archive_bytes += other.archive_bytes
        for name, (count, rru, wru) in other.ledger.items():
            entry = self.ledger.setdefault(name, [0, 0.0, 0.0])
            entry[0] += count
            entry[1] += rru
            entry[2] += wru


def _kind(item: Mapping[str, Any] | None) -> str:
    """What kind of item this is, for the ledger: its key's prefixes (``SUBJ/SUBJECT``)."""
    if not item:
        return "(none)"

    def prefix(name: str) -> str:
        value = item.get(name) or {}
        text = str(value.get("S", "")) if isinstance(value, Mapping) else ""
        return re.split(r"[#.]", text, maxsplit=1)[0]

    return f"{prefix('pk')}/{prefix('sk')}"


def _referenced(expressions: Sequence[str | None], mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entries of ``ExpressionAttributeNames``/``Values`` the expressions still use."""
    text = " ".join(e for e in expressions if e)
    return {k: v for k, v in (mapping or {}).items() if re.search(re.escape(k) + r"(?![\w])", text)}


class Meter:
    """Every DynamoDB request of the process, priced by DynamoDB's rules, and every other AWS
    request counted, while inside ``metering()``. Needs moto in this process (it reads the
    items as they are, before and after a write, from moto's backend)."""

    def __init__(self, shape: TableShape, region: str = REGION) -> None:
        self.shape = shape
        self.region = region
        self.usage = Usage()
        self.changes: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
        self._lock = threading.RLock()

    # -- moto's items, as they are
    def _backend(self) -> Any:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[DEFAULT_ACCOUNT_ID][self.region]

    def stored(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self._backend().get_item(table, self.shape.key_of(_json(key)))
        return None if found is None else found.to_json()["Attributes"]

    # -- the hook
    @contextmanager
    def metering(self) -> Iterator[Meter]:
        from botocore.client import BaseClient

        real = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private, not in the stubs
        meter = self

        def metered(client: Any, operation: str, params: dict[str, Any]) -> Any:
            started = time.thread_time()  # this thread's CPU: moto answers in the caller's thread
            try:
                service = client.meta.service_model.service_name
                if service != "dynamodb":
                    answer = real(client, operation, params)
                    meter._other(service, operation, params)
                    return answer
                return meter._dynamodb(real, client, operation, params)
            finally:
                with meter._lock:
                    meter.usage.cpu_in_aws += time.thread_time() - started

        # The pre-send reader sends BatchGetItem the short way (store.batch._Wire), outside
        # _make_api_call; what it hands on to botocore (None) comes through metered above.
        from smsconsent.store.batch import _Wire

        fetched = _Wire.fetch

        def metered_wire(wire: Any, request: Any) -> Any:
            started = time.thread_time()
            try:
                body = fetched(wire, request)
                answer = json_object(body)
                if answer is None:  # handed on to botocore (metered there), or no answer
                    with meter._lock:
                        meter.usage.requests["dynamodb:BatchGetItem"] += 1
                else:
                    meter._dynamodb(lambda *_: answer, None, "BatchGetItem", json.loads(request.body))
                return body
            finally:
                with meter._lock:
                    meter.usage.cpu_in_aws += time.thread_time() - started

        setattr(BaseClient, "_make_api_call", metered)  # noqa: B010
        setattr(_Wire, "fetch", metered_wire)  # noqa: B010
        try:
            yield self
        finally:
            setattr(BaseClient, "_make_api_call", real)  # noqa: B010
            setattr(_Wire, "fetch", fetched)  # noqa: B010

    @contextmanager
    def unmetered(self) -> Iterator[None]:
        """Work that is not the operation's (setting up, the event source mappings' polls):
        its units and requests go nowhere."""
        saved, saved_changes = self.usage, self.changes
        self.usage, self.changes = Usage(), []
        try:
            yield
        finally:
            self.usage, self.changes = saved, saved_changes

    def take(self) -> tuple[Usage, list[tuple[dict[str, Any] | None, dict[str, Any] | None]]]:
        """What was consumed since the last take, and the items changed (oldest first)."""
        with self._lock:
            usage, changes = self.usage, self.changes
            self.usage, self.changes = Usage(), []
        return usage, changes

    # -- the other services
    def _other(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        with self._lock:
            self.usage.requests[f"{service}:{operation}"] += 1
            if service == "sqs":
                fifo = str(params.get("QueueUrl", "")).endswith(".fifo")
                bodies = [e.get("MessageBody", "") for e in params.get("Entries") or []]
                size = sum(len(b.encode()) for b in bodies) or len(
                    str(params.get("MessageBody", "")).encode()
                )
                self.usage.billed["sqs_fifo" if fifo else "sqs"] += max(1, math.ceil(size / 65536))
            elif service == "events" and operation == "PutEvents":
                for entry in params.get("Entries") or []:
                    size = len(json.dumps(entry, default=str).encode())
                    self.usage.billed["events"] += max(1, math.ceil(size / 65536))
                    self.usage.archive_bytes += size

    # -- DynamoDB
    def _dynamodb(self, real: Callable[..., Any], client: Any, operation: str, params: dict[str, Any]) -> Any:
        from botocore.exceptions import ClientError

        before = self._before(operation, params)
        try:
            answer = real(client, operation, params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            with self._lock:
                self.usage.requests[f"dynamodb:{operation}"] += 1
                self._failed(operation, params, before, code)
            raise
        with self._lock:
            self.usage.requests[f"dynamodb:{operation}"] += 1
            self.usage.threads.add(threading.get_ident())
        self._succeeded(real, client, operation, params, before, answer)
        return answer

    def _write_targets(
        self, operation: str, params: Mapping[str, Any]
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """(kind, table, key) of every item a write request names."""
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            kind = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}[operation]
            key = params["Item"] if operation == "PutItem" else params["Key"]
            return [(kind, params["TableName"], self.shape.key_of(key))]
        if operation == "TransactWriteItems":
            found = []
            for entry in params["TransactItems"]:
                ((kind, op),) = entry.items()
                found.append((kind, op["TableName"], self.shape.key_of(op.get("Key") or op["Item"])))
            return found
        if operation == "BatchWriteItem":
            found = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        found.append(("Put", table, self.shape.key_of(request["PutRequest"]["Item"])))
                    else:
                        found.append(("Delete", table, self.shape.key_of(request["DeleteRequest"]["Key"])))
            return found
        return []

    def _before(
        self, operation: str, params: Mapping[str, Any]
    ) -> list[tuple[str, str, dict[str, Any], Any]]:
        return [
            (kind, table, key, self.stored(table, key))
            for kind, table, key in self._write_targets(operation, params)
        ]

    def _failed(
        self,
        operation: str,
        params: Mapping[str, Any],
        before: list[tuple[str, str, dict[str, Any], Any]],
        code: Any,
    ) -> None:
        if code == "ConditionalCheckFailedException":
            # The condition was evaluated on the item as it is: it still costs the write.
            self.usage.failed_conditions += 1
            kind, _, key, old = before[0]
            size = item_size(_json(params["Item"])) if kind == "Put" else item_size(old)
            units = write_units(size) if (old is not None or kind == "Put") else 1
            self.usage.wru += units
            self.usage.note(f"{operation} (condition failed)", key, wru=units)
        elif code == "TransactionCanceledException":
            # Prepared, not committed: one write per item (not the commit's second), no index.
            self.usage.failed_conditions += 1
            for _, _, key, old in before:
                self.usage.wru += write_units(item_size(old))
                self.usage.note(f"{operation} (cancelled)", key, wru=write_units(item_size(old)))

    def _succeeded(
        self,
        real: Callable[..., Any],
        client: Any,
        operation: str,
        params: Mapping[str, Any],
        before: list[tuple[str, str, dict[str, Any], Any]],
        answer: Mapping[str, Any],
    ) -> None:
        if operation == "GetItem":
            item = self.stored(params["TableName"], params["Key"])
            self._read(operation, params["Key"], read_units(item_size(item), _consistency(params)))
        elif operation == "BatchGetItem":
            for table, request in params["RequestItems"].items():
                unprocessed = {
                    json.dumps(_json(k), sort_keys=True)
                    for k in ((answer.get("UnprocessedKeys") or {}).get(table) or {}).get("Keys", [])
                }
                for key in request["Keys"]:
                    if json.dumps(_json(key), sort_keys=True) in unprocessed:
                        continue
                    item = self.stored(table, key)
                    self._read(operation, key, read_units(item_size(item), _consistency(request)))
        elif operation == "TransactGetItems":
            for entry in params["TransactItems"]:
                get = entry["Get"]
                item = self.stored(get["TableName"], get["Key"])
                self._read(operation, get["Key"], read_units(item_size(item), "transactional"))
        elif operation in ("Query", "Scan"):
            first = (answer.get("Items") or [None])[0]
            what = f"{operation} {params['IndexName']}" if params.get("IndexName") else operation
            self._read(what, first, self._page_units(real, client, operation, params, answer))
        elif before:
            transactional = operation == "TransactWriteItems"
            for kind, table, key, old in before:
                if kind == "ConditionCheck":
                    with self._lock:
                        self.usage.wru += 2 * write_units(item_size(old))
                        self.usage.note(
                            f"{operation} ConditionCheck", key, wru=2 * write_units(item_size(old))
                        )
                    continue
                new = self.stored(table, key)
                self._write(f"{operation} {kind}", key, old, new, transactional)

    def _read(self, what: str, key: Mapping[str, Any] | None, units: float) -> None:
        with self._lock:
            self.usage.rru += units
            self.usage.note(what, key, rru=units)

    def _write(
        self,
        what: str,
        key: Mapping[str, Any],
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        transactional: bool,
    ) -> None:
        units = write_units(max(item_size(old), item_size(new))) * (2 if transactional else 1)
        with self._lock:
            self.usage.wru += units
            self.usage.note(what, key, wru=units)
            for index in self.shape.indexes:
                spent = index.write_units(old, new, self.shape.keys)
                if spent:
                    self.usage.index_wru[index.name] += spent
                    self.usage.note(f"{index.name} entry", key, wru=spent)
            if old != new:
                self.changes.append((old, new))

    def _page_units(
        self,
        real: Callable[..., Any],
        client: Any,
        operation: str,
        params: Mapping[str, Any],
        answer: Mapping[str, Any],
    ) -> float:
        """One Query/Scan page: the items it evaluated (what a filter dropped and what a
        projection left out count too), summed, then rounded up to 4 KB."""
        narrowed = any(
            params.get(k) for k in ("FilterExpression", "ProjectionExpression", "Select", "AttributesToGet")
        )
        items = answer.get("Items") or []
        if narrowed:
            again = {
                k: v
                for k, v in params.items()
                if k not in ("FilterExpression", "ProjectionExpression", "Select", "AttributesToGet")
            }
            used = [again.get("KeyConditionExpression")]
            again["ExpressionAttributeNames"] = _referenced(used, params.get("ExpressionAttributeNames"))
            again["ExpressionAttributeValues"] = _referenced(used, params.get("ExpressionAttributeValues"))
            for name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
                if not again[name]:
                    del again[name]
            items = real(client, operation, again).get("Items") or []
        table = params["TableName"]
        index = self.shape.index(params["IndexName"]) if params.get("IndexName") else None
        total = 0
        for item in items:
            full = self.stored(table, self.shape.key_of(item))
            total += item_size(index.entry(full, self.shape.keys) if index else full)
        consistency = "eventual" if index else _consistency(params)
        return read_units(total, consistency)


def _consistency(params: Mapping[str, Any]) -> str:
    return "strong" if params.get("ConsistentRead") else "eventual"


def _json(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB JSON as moto's backend takes it (binaries as base64 text)."""

    def plain(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(value).decode()
        if isinstance(value, Mapping):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, set):
            return [plain(v) for v in value]
        return value

    return {name: plain(value) for name, value in item.items()}


# ---- Lambda ---------------------------------------------------------------------------------


@dataclass
class Invocation:
    """One Lambda invocation: its function, what it consumed, its own time here."""

    function: str
    trigger: str  # http, sqs, stream, schedule
    memory_mb: int
    own_ms: float
    usage: Usage
    sms: int = 0

    @property
    def io_ms(self) -> float:
        """The assumed time waiting on AWS: DynamoDB requests made from several threads at
        once (the pre-send's pages and contact updates) wait side by side."""
        dynamodb = sum(
            ASSUMED_MS.get(name, DEFAULT_MS) * n
            for name, n in self.usage.requests.items()
            if name.startswith("dynamodb:")
        )
        others = sum(
            ASSUMED_MS.get(name.split(":")[0], DEFAULT_MS) * n
            for name, n in self.usage.requests.items()
            if not name.startswith("dynamodb:")
        )
        return dynamodb / max(1, len(self.usage.threads)) + others + ASSUMED_MS["sms"] * self.sms

    @property
    def billed_ms(self) -> int:
        """Lambda bills whole milliseconds; below 1,769 MB the function has that share of a
        vCPU, so its own CPU time here (one full core) takes longer there."""
        share = min(1.0, self.memory_mb / FULL_VCPU_MB)
        return max(1, math.ceil(self.own_ms / share + self.io_ms))

    @property
    def gb_s(self) -> float:
        return self.memory_mb / 1024 * self.billed_ms / 1000


@dataclass
class Run:
    """One run of an operation: its invocations and the requests no function made (the
    HTTP API's, the event source mappings' polls, the scheduler's)."""

    invocations: list[Invocation] = field(default_factory=list)
    extra: Counter[str] = field(default_factory=Counter)  # http_api, sqs, scheduler

    def figures(self, per: int = 1) -> dict[str, Any]:
        usage = Usage()
        for invocation in self.invocations:
            usage.add(invocation.usage)
        gb_s = sum(i.gb_s for i in self.invocations)
        sqs = usage.billed["sqs"] + self.extra["sqs"]
        sqs_fifo = usage.billed["sqs_fifo"] + self.extra["sqs_fifo"]
        dollars = {
            "dynamodb": usage.rru * PRICES["dynamodb_rru"] + usage.total_wru * PRICES["dynamodb_wru"],
            "lambda": len(self.invocations) * PRICES["lambda_request"] + gb_s * PRICES["lambda_gb_s"],
            "http_api": self.extra["http_api"] * PRICES["http_api_request"],
            "sqs": sqs * PRICES["sqs_request"] + sqs_fifo * PRICES["sqs_fifo_request"],
            "eventbridge": usage.billed["events"] * PRICES["eventbridge_event"]
            + usage.archive_bytes / 2**30 * PRICES["eventbridge_archive_gb"]
            + self.extra["scheduler"] * PRICES["scheduler_invocation"],
        }
        total = sum(dollars.values())
        dynamodb_requests = sum(n for name, n in usage.requests.items() if name.startswith("dynamodb:"))
        functions_used = Counter(f"{i.function} ({i.trigger})" for i in self.invocations)
        steps = [
            {
                "function": i.function,
                "trigger": i.trigger,
                "rru": i.usage.rru,
                "wru_table": i.usage.wru,
                "wru_indexes": dict(sorted(i.usage.index_wru.items())),
                "requests": dict(sorted(i.usage.requests.items())),
                "units": {k: [int(n), r, w] for k, (n, r, w) in sorted(i.usage.ledger.items())},
                "own_ms": round(i.own_ms, 2),
                "billed_ms": i.billed_ms,
            }
            for i in self.invocations
        ]
        return {
            "rru": round(usage.rru / per, 3),
            "wru": round(usage.total_wru / per, 3),
            "wru_table": round(usage.wru / per, 3),
            "wru_indexes": {k: round(v / per, 3) for k, v in sorted(usage.index_wru.items())},
            "failed_conditions": usage.failed_conditions,
            "dynamodb_requests": round(dynamodb_requests / per, 3),
            "dynamodb_operations": dict(
                sorted(
                    Counter(
                        {k[9:]: v for k, v in usage.requests.items() if k.startswith("dynamodb:")}
                    ).items()
                )
            ),
            "http_api_requests": round(self.extra["http_api"] / per, 3),
            "sqs_requests": round((sqs + sqs_fifo) / per, 3),
            "eventbridge_events": round(usage.billed["events"] / per, 3),
            "sms": sum(i.sms for i in self.invocations),
            "lambda_invocations": round(len(self.invocations) / per, 3),
            "functions": dict(functions_used),
            "lambda_own_ms": round(sum(i.own_ms for i in self.invocations) / per, 2),
            "lambda_billed_ms": round(sum(i.billed_ms for i in self.invocations) / per, 2),
            "gb_s": round(gb_s / per, 6),
            "dollars": {k: v / per for k, v in dollars.items()},
            "dollars_per_operation": total / per,
            "dollars_per_million": total / per * 1e6,
            "steps": steps,
        }


def _median_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs' figures, each number their median (the units are the same in every run; the
    times are this shared machine's, so the median)."""
    first = copy.deepcopy(runs[0])
    for key, value in first.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            first[key] = statistics.median(r[key] for r in runs)
        elif key == "dollars":
            first[key] = {k: statistics.median(r[key][k] for r in runs) for k in value}
    first["runs"] = len(runs)
    return first


class Lab:
    """The handlers of template.yaml's functions, invoked in this process on moto, metered."""

    def __init__(self, meter: Meter) -> None:
        from local import template as tpl

        self.meter = meter
        self.functions = functions()
        # Every reader of the table's stream (the publisher, the insights tally), each with
        # its own filter and batch size, as their event source mappings.
        self.stream_readers = [s for s in tpl.stream_sources(tpl.load()) if s.table == "ConsentTable"]
        self.pending: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
        self._sequence = 0
        self._handlers: dict[str, Callable[..., Any]] = {}
        self.queues: dict[str, str] = {}
        self.moment = [NOW]  # the clock every function reads

    def handler(self, function: str) -> Callable[..., Any]:
        if function not in self._handlers:
            import importlib

            spec = self.functions[function]
            self._handlers[function] = getattr(importlib.import_module(spec.module), spec.attribute)
        return self._handlers[function]

    def invoke(self, run: Run | None, function: str, event: Any, trigger: str) -> Any:
        """Invoke ``function`` on ``event``; its invocation goes into ``run`` (None: setup,
        nothing counted)."""
        from local.context import LambdaContext, arn
        from smsconsent.sender.outbox import OUTBOX

        spec = self.functions[function]
        context = LambdaContext(
            function_name=function,
            memory_limit_in_mb=spec.memory,
            invoked_function_arn=arn(function, region=REGION),
            aws_request_id=f"bench-{function}",
            log_stream_name="bench",
            remaining_ms=spec.timeout * 1000,
        )
        handler = self.handler(function)
        self.meter.take()
        sent = len(OUTBOX.messages())
        started = time.process_time()  # every thread's: the pre-send reads pages on a pool
        with contextlib.redirect_stdout(io.StringIO()):  # the function's logs and metrics
            answer = handler(event, context)
        cpu = time.process_time() - started
        usage, changes = self.meter.take()
        self.pending += changes
        if run is not None:
            own_ms = max(0.0, (cpu - usage.cpu_in_aws) * 1000)
            run.invocations.append(
                Invocation(function, trigger, spec.memory, own_ms, usage, len(OUTBOX.messages()) - sent)
            )
            if trigger == "http":
                run.extra["http_api"] += 1
        return answer

    def _stream_record(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
        self._sequence += 1
        image = new if new is not None else old
        assert image is not None
        change: dict[str, Any] = {
            "ApproximateCreationDateTime": NOW.timestamp(),
            "Keys": self.meter.shape.key_of(image),
            "SequenceNumber": f"{self._sequence:021d}",
            "SizeBytes": item_size(image),
            "StreamViewType": "NEW_IMAGE",
        }
        if new is not None:
            change["NewImage"] = new
        return {
            "eventID": f"{self._sequence:032x}",
            "eventName": "INSERT" if old is None else "REMOVE" if new is None else "MODIFY",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": change,
            "eventSourceARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE_NAME}/stream/bench",
        }

    def publish(self, run: Run | None) -> None:
        """The table's stream since the last call, as Lambda hands it to each of its
        readers (PublisherFunction, TallyFunction): the template's filter applied (records it
        drops wake nothing: reading a stream from Lambda costs nothing), then batches of up
        to ``BatchSize``. What the readers write themselves (the tally's counters) matches
        no reader's filter."""
        from local.streams import matches

        records = [self._stream_record(old, new) for old, new in self.pending]
        self.pending = []
        for reader in self.stream_readers:
            wanted = [r for r in records if any(matches(p, r) for p in reader.filters)]
            for start in range(0, len(wanted), reader.batch_size):
                batch = wanted[start : start + reader.batch_size]
                answer = self.invoke(run, reader.function, {"Records": batch}, "stream")
                assert answer == {"batchItemFailures": []}, answer
        self.pending = []

    def drain(self, run: Run | None, queue: str, function: str, batch_size: int = 1) -> int:
        """Hand every message waiting on ``queue`` to ``function``, ``batch_size`` at a time,
        as its event source mapping would; the mapping's requests are counted (``SQS_POLL_REQUESTS``
        per batch), not metered."""
        import boto3

        url = self.queues[queue]
        handed = 0
        while True:
            with self.meter.unmetered():
                answer = boto3.client("sqs", region_name=REGION).receive_message(
                    QueueUrl=url, MaxNumberOfMessages=batch_size, VisibilityTimeout=0
                )
                messages = answer.get("Messages") or []
                for message in messages:
                    boto3.client("sqs", region_name=REGION).delete_message(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"]
                    )
            if not messages:
                return handed
            records = [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": str(int(NOW.timestamp() * 1000)),
                    },
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{queue}",
                    "awsRegion": REGION,
                }
                for m in messages
            ]
            answer = self.invoke(run, function, {"Records": records}, "sqs")
            assert not answer.get("batchItemFailures"), answer
            if run is not None:
                run.extra["sqs"] += SQS_POLL_REQUESTS
            handed += len(messages)


# ---- the world the handlers run in -----------------------------------------------------------


def _tenant_doc(unlimited: bool = False) -> dict[str, Any]:
    """The demo tenant, without an AWS End User Messaging opt-out list: the sync of one is an
    extra function and SMS API calls only tenants that name a list pay (not measured here).
    ``unlimited``: signup budgets no run reaches (they cost the same counter writes)."""
    doc: dict[str, Any] = demo_doc()
    (doc.get("sms") or {}).pop("opt_out_list", None)
    if unlimited:
        doc["rate_limits"] = {
            "signups_per_ip_per_hour": 1_000_000,
            "sms_per_number_per_day": 100,
            "sms_per_prefix_per_hour": 1_000_000,
            "sms_per_country_per_hour": {"default": 1_000_000},
        }
    return doc


@contextmanager
def world(table: str = TABLE_NAME, unlimited: bool = False) -> Iterator[Lab]:
    """moto in this process: the template's table (its stream is the meter's: every change
    it sees), the queues and bus the functions write to, the demo tenant; a metered lab."""
    import os

    import boto3
    from moto import mock_aws

    from local import moto_queries, moto_transactions
    from local import template as tpl

    in_process_env(
        TABLE_NAME=table,
        POWERTOOLS_METRICS_NAMESPACE="SmsConsentBench",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_TRACE_DISABLED="true",
        TENANT_CACHE_SECONDS="3600",
    )
    layer_on_path()
    moto_transactions.install()
    moto_queries.install()
    with mock_aws():
        from smsconsent import clock, environment, store
        from smsconsent.sender.outbox import OUTBOX

        definition, ttl = tpl.table_definition(tpl.load(), table)
        definition.pop("StreamSpecification", None)  # the meter sees every change itself
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**definition)
        if ttl:
            dynamodb.update_time_to_live(
                TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
            )
        sqs = boto3.client("sqs", region_name=REGION)
        queues = {
            "SignupQueue": sqs.create_queue(QueueName="SignupQueue")["QueueUrl"],
            "ImportQueue": sqs.create_queue(QueueName="ImportQueue")["QueueUrl"],
            "WebhookQueue": sqs.create_queue(
                QueueName="WebhookQueue.fifo",
                Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"},
            )["QueueUrl"],
        }
        boto3.client("events", region_name=REGION).create_event_bus(Name="bench-consent-events")
        os.environ.update(
            {
                "SIGNUP_QUEUE_URL": queues["SignupQueue"],
                "IMPORT_QUEUE_URL": queues["ImportQueue"],
                "WEBHOOK_QUEUE_URL": queues["WebhookQueue"],
                "EVENT_BUS_NAME": "bench-consent-events",
            }
        )
        meter = Meter(TableShape.of(definition))
        lab = Lab(meter)
        lab.queues = queues
        previous = clock._source
        clock.set_source(lambda: lab.moment[0])
        environment.reload()
        OUTBOX.clear()
        store.put_tenant_doc(_tenant_doc(unlimited), NOW)
        try:
            with meter.metering():
                yield lab
        finally:
            clock.set_source(previous)
            OUTBOX.clear()
            for name in ("SIGNUP_QUEUE_URL", "IMPORT_QUEUE_URL", "WEBHOOK_QUEUE_URL", "EVENT_BUS_NAME"):
                os.environ.pop(name, None)
            environment.reload()


def _advance(lab: Lab, **delta: float) -> None:
    lab.moment[0] += timedelta(**delta)


def _event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))
    return event


# ---- the operations ---------------------------------------------------------------------------


def _signup(lab: Lab, run: Run | None, phone: str, ip: str) -> None:
    """POST /signup, the queued worker (the SMS), the confirmation page, its button; the
    publisher after each change, as the stream would wake it."""
    from smsconsent.sender.outbox import OUTBOX

    event = _event("signup-json.json")
    event["body"] = json.dumps(
        {
            "phone": phone,
            "consent": True,
            "age_confirmed": True,
            "purposes": ["marketing", "newsletter"],
            "language": "de",
        }
    )
    event["requestContext"]["http"]["sourceIp"] = ip
    answer = lab.invoke(run, "SignupFunction", event, "http")
    assert answer["statusCode"] == 202, answer
    lab.publish(run)
    assert lab.drain(run, "SignupQueue", "SignupFunction") == 1
    lab.publish(run)
    token = str(OUTBOX.messages()[-1]["body"].split("/c/")[1].split()[0])
    for name in ("confirm-get.json", "confirm-post.json"):
        event = _event(name)
        event["rawPath"] = event["requestContext"]["http"]["path"] = f"/c/{token}"
        event["pathParameters"] = {"token": token}
        answer = lab.invoke(run, "ConfirmFunction", event, "http")
        assert answer["statusCode"] < 400, answer
        lab.publish(run)


def _twilio_stop(phone: str, label: str) -> dict[str, Any]:
    """The Twilio STOP of events/, from ``phone`` with its own message id, signed again."""
    from smsconsent.providers import twilio

    event = _event("inbound-twilio-stop.json")
    params = dict(parse_qsl(base64.b64decode(event["body"]).decode(), keep_blank_values=True))
    sid = "SM" + f"{abs(hash(label)):032x}"[:32]
    params.update({"From": phone, "MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid})
    body = urlencode(params)
    event["body"] = base64.b64encode(body.encode()).decode()
    event["headers"]["content-length"] = str(len(body))
    event["headers"]["x-twilio-signature"] = twilio.signature(
        "demo-twilio-auth-token", TWILIO_URL, list(params.items())
    )
    return event


def _journeys(lab: Lab, repeat: int) -> dict[str, Any]:
    signups, stops = [], []
    numbers = [f"+49151{30000000 + i:08d}" for i in range(repeat + 1)]
    # The first journey (and STOP) warms the handlers up (imports, clients, the tenant): not counted.
    for i, phone in enumerate(numbers):
        run = Run() if i else None
        _advance(lab, hours=2)  # the per-number, per-prefix and per-IP budgets are hourly
        _signup(lab, run, phone, f"198.51.100.{10 + i}")
        if run is not None:
            signups.append(run.figures())
    for i, phone in enumerate(numbers):
        run = Run() if i else None
        _advance(lab, minutes=5)
        answer = lab.invoke(run, "InboundFunction", _twilio_stop(phone, f"stop-{i}"), "http")
        assert answer["statusCode"] == 200, answer
        lab.publish(run)
        if run is not None:
            stops.append(run.figures())
    return {"signup": _median_figures(signups), "stop": _median_figures(stops)}


def _import_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _import_rows(n: int, start: int, status: str = "active") -> list[dict[str, str]]:
    return [
        {
            "phone": f"+49160{start + i:08d}",
            "status": status,
            "purposes": "marketing;newsletter",
            "channel": "sms",
            "consented_at": "2026-03-01T10:00:00Z",
            "method": "double_opt_in",
            "source": "bench",
            "consent_text": "signup-sms:1",
            "language": "de",
            "last_contact_at": "2026-10-01T10:00:00Z",
        }
        for i in range(n)
    ]


def _import(lab: Lab, run: Run | None, rows: list[dict[str, str]]) -> None:
    """POST /imports (the file, queued in chunks), the worker per chunk, the publisher."""
    event = _event("imports-csv.json")
    event["body"] = _import_csv(rows)
    answer = lab.invoke(run, "ImportsFunction", event, "http")
    assert answer["statusCode"] == 202, answer
    lab.publish(run)
    lab.drain(run, "ImportQueue", "ImportWorkerFunction")
    lab.publish(run)


def _imports(lab: Lab, rows: int, repeat: int) -> dict[str, Any]:
    """A file of ``rows`` new numbers, then the same file again (every row unchanged)."""
    lab.invoke(
        None,
        "ImportsFunction",
        {**_event("imports-csv.json"), "body": _import_csv(_import_rows(5, 9_000_000))},
        "http",
    )
    lab.drain(None, "ImportQueue", "ImportWorkerFunction")
    lab.publish(None)
    new: list[dict[str, Any]] = []
    same: list[dict[str, Any]] = []
    for r in range(max(1, repeat // 2)):
        file = _import_rows(rows, r * rows)
        for label, found in (("new", new), ("unchanged", same)):
            _advance(lab, minutes=10)
            run = Run()
            _import(lab, run, file)
            figures = run.figures(per=rows)
            figures["label"] = label
            found.append(figures)
    return {"new": _median_figures(new), "unchanged": _median_figures(same)}


def _presend(lab: Lab, recipients: int, repeat: int) -> dict[str, Any]:
    """1,000 recipients: 60% active subjects (imported), 10% opted out (imported, then a
    STOP), 30% numbers never seen; marketing, at an allowed hour."""
    from smsconsent import inbound, tenants
    from smsconsent.providers.base import InboundMessage

    active = int(recipients * 0.7)
    stopped = recipients // 10
    rows = _import_rows(active, 5_000_000)
    run_setup = None
    _import(lab, run_setup, rows)
    tenant = tenants.get("demo")
    assert tenant is not None
    with lab.meter.unmetered():
        for i, row in enumerate(rows[:stopped]):
            inbound.receive(tenant, InboundMessage("twilio", f"SM{i:032x}", row["phone"], OUR_NUMBER, "STOP"))
    lab.pending = []
    numbers = [row["phone"] for row in rows] + [
        f"+49170{6_000_000 + i:08d}" for i in range(recipients - active)
    ]
    send_at = lab.moment[0] + timedelta(days=1)
    send_at = send_at.replace(hour=15, minute=0)

    def check(run: Run | None, record: bool, campaign: str) -> dict[str, Any]:
        event = _event("presend-http.json")
        event["body"] = json.dumps(
            {
                "recipients": numbers,
                "category": "marketing",
                "purpose": "marketing",
                "channel": "sms",
                "campaign": campaign,
                "send_at": send_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "record": record,
            }
        )
        answer = lab.invoke(run, "PresendFunction", event, "http")
        assert answer["statusCode"] == 200, answer
        lab.publish(run)
        summary: dict[str, Any] = json.loads(answer["body"])["summary"]
        return summary

    check(None, False, "warm-up")
    plain = []
    summary: dict[str, Any] = {}
    for _ in range(repeat):
        run = Run()
        summary = check(run, False, "bench")
        plain.append(run.figures(per=1))
    run = Run()
    recorded_summary = check(run, True, "bench")
    figures: dict[str, Any] = {
        "recipients": recipients,
        "mix": {"active": active - stopped, "opted_out": stopped, "unknown": recipients - active},
        "check": {**_median_figures(plain), "summary": summary},
        "record": {**run.figures(per=1), "runs": 1, "summary": recorded_summary},
    }
    for key in ("check", "record"):
        figures[key]["rru_per_recipient"] = round(figures[key]["rru"] / recipients, 4)
        figures[key]["wru_per_recipient"] = round(figures[key]["wru"] / recipients, 4)
    return figures


def _retention(n: int, due: int) -> dict[str, Any]:
    """A daily run over ``n`` subjects, ``due`` of them due: signups (through the handlers)
    never confirmed, their token's 48 hours over; the rest pending opt-ins due in 300 days
    (``bench.retention_scale``'s, put straight into moto); the cursor at yesterday, as after
    yesterday's run."""
    import boto3

    from bench.retention_scale import _subject

    table = f"{TABLE_NAME}-retention-{n}"
    with world(table, unlimited=True) as lab:
        from smsconsent import clock, retention, store

        now = NOW
        lab.moment[0] = now - timedelta(hours=49)
        for i in range(due):
            event = _event("signup-json.json")
            event["body"] = json.dumps(
                {"phone": f"+49152{40_000_000 + i:08d}", "consent": True, "age_confirmed": True}
            )
            assert lab.invoke(None, "SignupFunction", event, "http")["statusCode"] == 202
        lab.drain(None, "SignupQueue", "SignupFunction")
        lab.publish(None)
        lab.moment[0] = now
        started = time.perf_counter()
        put_items(
            boto3.client("dynamodb", region_name=REGION),
            table,
            (_subject(i, False, now) for i in range(n - due)),
        )
        load_s = time.perf_counter() - started
        with lab.meter.unmetered():
            store.set_job_cursor(retention.JOB, now.date() - timedelta(days=1), now)
        lab.pending = []
        run = Run()
        run.extra["scheduler"] += 1
        started = time.perf_counter()
        summary = lab.invoke(run, "ExpiryFunction", {"scheduled_time": clock.iso(now)}, "schedule")
        run_s = time.perf_counter() - started
        lab.publish(run)
        figures = run.figures()
        figures.update(
            {
                "subjects": n,
                "due": due,
                "examined": summary.get("examined"),
                "expired": summary.get("pending_expired"),
                "complete": summary.get("complete"),
                "load_s": round(load_s, 1),
                "moto_run_s": round(run_s, 1),
            }
        )
        return figures


# ---- all of it --------------------------------------------------------------------------------


def measure(
    repeat: int = REPEAT, sizes: Sequence[int] = RETENTION_SIZES, recipients: int = PRESEND_RECIPIENTS
) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "prices": {"region": PRICE_REGION, "taken": PRICES_TAKEN, "rates": PRICES, "sources": PRICE_SOURCES},
        "assumed_ms": ASSUMED_MS,
        "not_priced": NOT_PRICED,
    }
    with world() as lab:
        progress(f"costs: {repeat} signup journeys and STOPs (Twilio), metered")
        figures.update(_journeys(lab, repeat))
        progress(f"costs: an import of {IMPORT_ROWS} rows, new and again unchanged")
        figures["import_row"] = _imports(lab, IMPORT_ROWS, repeat)
    with world() as lab:
        progress(f"costs: pre-send of {recipients:,} recipients, {repeat} times, then once recording contact")
        figures["presend"] = _presend(lab, recipients, repeat)
    figures["retention"] = {}
    for n in sizes:
        progress(f"costs: a retention run over {n:,} subjects, {RETENTION_DUE} due")
        figures["retention"][str(n)] = _retention(n, RETENTION_DUE)
    figures["table"] = rows(figures)
    return figures


def rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The cost table: one row per operation."""
    found = []

    def row(name: str, per: str, f: Mapping[str, Any]) -> None:
        found.append(
            {
                "operation": name,
                "per": per,
                "rru": f["rru"],
                "wru": f["wru"],
                "dynamodb_requests": f["dynamodb_requests"],
                "http_api": f["http_api_requests"],
                "sqs": f["sqs_requests"],
                "events": f["eventbridge_events"],
                "invocations": f["lambda_invocations"],
                "gb_s": f["gb_s"],
                "dollars": f["dollars_per_operation"],
                "dollars_per_million": f["dollars_per_million"],
            }
        )

    if "signup" in figures:
        row("signup journey", "1 journey", figures["signup"])
    presend = figures.get("presend")
    if presend:
        n = presend["recipients"]
        row("pre-send check", f"{n:,} recipients", presend["check"])
        row("pre-send, record: true", f"{n:,} recipients", presend["record"])
    if "stop" in figures:
        row("STOP (Twilio webhook)", "1 STOP", figures["stop"])
    imports = figures.get("import_row")
    if imports:
        row("import row, new", "1 row", imports["new"])
        row("import row, unchanged", "1 row", imports["unchanged"])
    for n, f in (figures.get("retention") or {}).items():
        row(f"retention run, {int(n):,} subjects ({f['due']} due)", "1 run", f)
    return found


def _money(value: float) -> str:
    """Dollars to the cent from $100 up, else to three significant digits."""
    if value >= 100 or value <= 0:
        return f"${value:,.2f}"
    return f"${value:.{max(2, 2 - math.floor(math.log10(value)))}f}"


def markdown(figures: Mapping[str, Any]) -> str:
    """The table as the README shows it."""
    head = (
        "| operation | per | RRU | WRU | DynamoDB requests | HTTP API / SQS / EventBridge"
        " | Lambda invocations | GB-s | $ per operation | $ per million |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in figures["table"]:
        lines.append(
            f"| {r['operation']} | {r['per']} | {r['rru']:g} | {r['wru']:g} | {r['dynamodb_requests']:g} |"
            f" {r['http_api']:g} / {r['sqs']:g} / {r['events']:g} | {r['invocations']:g} | {r['gb_s']:.4f} |"
            f" {_money(r['dollars'])} | {_money(r['dollars_per_million'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", help="write the figures here as JSON (default: print the table and them)")
    parser.add_argument(
        "--repeat", type=int, default=REPEAT, help="runs of each operation (the median is kept)"
    )
    parser.add_argument("--sizes", default=",".join(map(str, RETENTION_SIZES)), help="retention table sizes")
    parser.add_argument("--recipients", type=int, default=PRESEND_RECIPIENTS)
    args = parser.parse_args(argv)
    figures = measure(args.repeat, tuple(int(s) for s in args.sizes.split(",") if s), args.recipients)
    if args.out:
        report(figures, args.out)
    else:
        print(markdown(figures))


if __name__ == "__main__":
    main()


# ---- make bench: the goal and the table -------------------------------------------------------

PRESEND_RRU_PER_RECIPIENT = 1.0  # issue 18: items under 4 KB, strongly consistent


def goals(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pre-send reads at most one read request unit per recipient, recording or not."""
    presend = figures.get("presend")
    if not presend:
        return []
    measured = {key: presend[key]["rru_per_recipient"] for key in ("check", "record")}
    met = all(v <= PRESEND_RRU_PER_RECIPIENT for v in measured.values())
    if not met:
        progress(f"costs: GOAL MISSED: pre-send read units per recipient {measured}")
    return [
        {
            "goal": "pre-send read request units per recipient",
            "target": f"<= {PRESEND_RRU_PER_RECIPIENT:g} RRU",
            "measured": f"{measured['check']:.3f} (record: false), {measured['record']:.3f} (record: true);"
            f" {presend['recipients']:,} recipients",
            "met": met,
        }
    ]


def table_lines(figures: Mapping[str, Any]) -> list[str]:
    """The cost table for ``make bench``'s summary."""
    if not figures.get("table"):
        return []
    prices = figures["prices"]
    out = ["", f"Costs (on-demand list prices, {prices['region']}, taken {prices['taken']}; arm64 Lambda)"]
    out += ["  " + line for line in markdown(figures).splitlines()]
    presend = figures.get("presend")
    if presend:
        out.append(
            f"  pre-send: {presend['check']['rru_per_recipient']:.3f} RRU per recipient,"
            f" {presend['record']['wru_per_recipient']:.3f} WRU per recipient when recording contact"
        )
    return out
