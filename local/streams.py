"""A DynamoDB table's stream handed to a function as Lambda's event source mapping would:
``Records`` of ``aws:dynamodb`` in stream order, and on ``batchItemFailures`` the batch is
handed again from the failed record on (the checkpoint), so nothing is skipped.

The local stack polls it on a thread; tests call ``feed`` when they want events out."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

Handler = Callable[[dict[str, Any]], Any]


class TableStream:
    def __init__(self, dynamodb: Any, streams: Any, table: str, batch_size: int = 100) -> None:
        self._streams = streams
        self._arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self._iterators: dict[str, str | None] = {}
        self._held: list[dict[str, Any]] = []  # read, not yet published (a failed batch)
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self.skip_to_now()

    def skip_to_now(self) -> None:
        """Start after everything already in the stream (LATEST)."""
        with self._lock:
            self._held.clear()
            self._iterators = {
                shard["ShardId"]: self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
                )["ShardIterator"]
                for shard in self._shards()
            }

    def _shards(self) -> list[dict[str, Any]]:
        return list(self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"])

    def _read(self) -> None:
        for shard in self._shards():
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            iterator = self._iterators[shard_id]
            if iterator is None:
                continue
            answer = self._streams.get_records(ShardIterator=iterator)
            self._iterators[shard_id] = answer.get("NextShardIterator")
            self._held.extend(self._as_lambda(r) for r in answer.get("Records") or [])

    def _as_lambda(self, record: dict[str, Any]) -> dict[str, Any]:
        shaped = dict(record)
        data = dict(record.get("dynamodb") or {})
        moment = data.get("ApproximateCreationDateTime")
        if isinstance(moment, datetime):
            data["ApproximateCreationDateTime"] = int(moment.timestamp())
        shaped["dynamodb"] = data
        shaped["eventSourceARN"] = self._arn
        return shaped

    def feed(self, handler: Handler) -> int:
        """Hand what the stream holds to ``handler`` in batches; the records done with.
        A batch the handler fails on (raises, or reports a failure) stays held from the
        failed record on, and is handed again by the next call."""
        done = 0
        with self._lock:
            self._read()
            while self._held:
                batch = self._held[: self._batch_size]
                try:
                    answer = handler({"Records": batch})
                except Exception:
                    return done
                failures = [f.get("itemIdentifier") for f in (answer or {}).get("batchItemFailures") or []]
                if failures:
                    at = next(
                        (i for i, r in enumerate(batch) if r["dynamodb"].get("SequenceNumber") in failures), 0
                    )
                    del self._held[:at]
                    return done + at
                del self._held[: len(batch)]
                done += len(batch)
        return done
