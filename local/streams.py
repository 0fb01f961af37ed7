"""A DynamoDB table's stream handed to a function as Lambda's event source mapping would:
``Records`` of ``aws:dynamodb`` in stream order, and on ``batchItemFailures`` the batch is
handed again from the failed record on (the checkpoint), so nothing is skipped.

The local stack polls it on a thread (``StreamPump``); tests call ``feed`` when they want
events out."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

Handler = Callable[[dict[str, Any]], Any]


class TableStream:
    """``list_shards_every``: seconds between two looks at the stream's shards (0: at every
    read); a shard that opens in between is read from its start once it is seen."""

    def __init__(
        self,
        dynamodb: Any,
        streams: Any,
        table: str,
        batch_size: int = 100,
        list_shards_every: float = 0.0,
    ) -> None:
        self._streams = streams
        self._arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self._iterators: dict[str, str | None] = {}
        self._list_every = list_shards_every
        self._listed: tuple[float, list[str]] | None = None  # when, and the shard ids
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

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def held(self) -> int:
        """Records read and not yet handled (a batch the handler failed on)."""
        with self._lock:
            return len(self._held)

    def _shards(self) -> list[dict[str, Any]]:
        return list(self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"])

    def _shard_ids(self) -> list[str]:
        now = time.monotonic()
        if self._listed is None or now - self._listed[0] >= self._list_every:
            self._listed = (now, [shard["ShardId"] for shard in self._shards()])
        return self._listed[1]

    def _read(self) -> None:
        for shard_id in self._shard_ids():
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


# ---- event filtering, as Lambda's FilterCriteria --------------------------------------------


def check_pattern(pattern: Any) -> None:
    """Raise ``ValueError`` for a pattern ``matches`` cannot judge (it knows exact values,
    ``{"prefix": ...}`` and ``{"exists": bool}``, the part of Lambda's syntax we use)."""
    if not isinstance(pattern, Mapping):
        raise ValueError("a filter pattern is an object")
    for key, wanted in pattern.items():
        if isinstance(wanted, Mapping):
            check_pattern(wanted)
            continue
        if not isinstance(wanted, list) or not wanted:
            raise ValueError(f"filter {key!r}: a list of values to match")
        for value in wanted:
            if isinstance(value, Mapping) and not (
                (set(value) == {"prefix"} and isinstance(value["prefix"], str))
                or (set(value) == {"exists"} and isinstance(value["exists"], bool))
            ):
                raise ValueError(f"filter {key!r}: unsupported rule {dict(value)}")


def matches(pattern: Mapping[str, Any], record: Any) -> bool:
    """Whether ``record`` (a stream record as Lambda sees it) matches a filter pattern."""
    if not isinstance(record, Mapping):
        return False
    for key, wanted in pattern.items():
        present = key in record
        value = record.get(key)
        if isinstance(wanted, Mapping):
            if not matches(wanted, value):
                return False
        elif not any(_accepts(rule, present, value) for rule in wanted):
            return False
    return True


def _accepts(rule: Any, present: bool, value: Any) -> bool:
    if isinstance(rule, Mapping):
        if "exists" in rule:
            return present is rule["exists"]
        return isinstance(value, str) and value.startswith(rule["prefix"])
    return present and value == rule


# ---- the poller -----------------------------------------------------------------------------


class StreamPump:
    """Feeds a ``TableStream`` to a handler on a thread, as Lambda's event source mapping
    polls a stream: at once after ``poke()`` (the stack pokes it after each function it
    runs, since those are what write), else every ``interval`` seconds. Records no filter
    pattern matches are passed over without invoking the handler (no patterns: every record)."""

    def __init__(
        self,
        stream: TableStream,
        handler: Handler,
        filters: Sequence[Mapping[str, Any]] = (),
        interval: float = 1.0,
        name: str = "stream",
    ) -> None:
        for pattern in filters:
            check_pattern(pattern)
        self.stream = stream
        self._handler = handler
        self._filters = tuple(filters)
        self._interval = interval
        self.name = name  # the function fed (thread and log names)
        self._lock = threading.Lock()  # one feed at a time; held by paused()
        self._stopping = threading.Event()
        self._poked = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def _filtered(self, event: dict[str, Any]) -> Any:
        records = event.get("Records") or []
        if self._filters:
            records = [r for r in records if any(matches(p, r) for p in self._filters)]
        if not records:
            return {"batchItemFailures": []}
        try:
            return self._handler({"Records": records})
        except Exception:  # held and handed again next time, as Lambda retries a batch
            self._complain("the handler failed; the batch is handed again")
            raise

    def _complain(self, what: str) -> None:
        """One traceback per run of failures, not one every interval."""
        if not self._failing:
            print(f"{self.name}: {what}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
        self._failing = True

    def pump(self, timeout: float = -1) -> bool:
        """Feed what the stream holds now; True when none of it is left held (published).
        False too when a feed under way did not end within ``timeout`` seconds."""
        if not self._lock.acquire(timeout=timeout):
            return False
        try:
            return self._pump()
        finally:
            self._lock.release()

    def _pump(self) -> bool:
        try:
            self.stream.feed(self._filtered)
        except Exception:  # the stream cannot be read (the endpoint went away): next time
            self._complain("reading the stream failed")
            return False
        done = self.stream.held == 0
        if done:
            self._failing = False
        return done

    @contextlib.contextmanager
    def paused(self) -> Iterator[TableStream]:
        """No feed runs while inside (wait for the one running, if any)."""
        with self._lock:
            yield self.stream

    def poke(self) -> None:
        """Something may have been written: feed the stream now rather than at the next tick."""
        self._poked.set()

    def start(self) -> StreamPump:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"local-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._poked.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._poked.wait(self._interval)
            self._poked.clear()
            if not self._stopping.is_set():
                self.pump()
