"""An in-process SQS queue for the local stack: what the domain sends to it, a background
thread hands to a function as Lambda's SQS event source would (``Records`` of
``aws:sqs``, ``batchItemFailures`` delivered again after a pause, a message that keeps
failing dropped after ``max_receives`` with a line on stderr)."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Deliver = Callable[[dict[str, Any]], Any]


@dataclass
class _Message:
    id: str
    body: str
    receives: int = 0
    not_before: float = 0.0


class LocalQueue:
    def __init__(
        self, name: str, deliver: Deliver, max_receives: int = 10, retry_seconds: float = 1.0
    ) -> None:
        self.name = name
        self._deliver = deliver
        self._max_receives = max_receives
        self._retry_seconds = retry_seconds
        self._waiting: deque[_Message] = deque()
        self._busy = 0
        self._changed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.dead: list[str] = []  # ids of messages given up on (the dead-letter queue)

    def send(self, body: str) -> None:
        with self._changed:
            self._waiting.append(_Message(str(uuid.uuid4()), body))
            self._changed.notify_all()

    def start(self) -> LocalQueue:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"local-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def clear(self) -> None:
        with self._changed:
            self._waiting.clear()
            self.dead.clear()
            self._changed.notify_all()

    def idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is waiting (due now) or being delivered; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._busy or any(m.not_before <= time.monotonic() for m in self._waiting):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.05))
            return True

    def _next(self) -> _Message | None:
        with self._changed:
            while not self._stopping:
                now = time.monotonic()
                due = next((m for m in self._waiting if m.not_before <= now), None)
                if due is not None:
                    self._waiting.remove(due)
                    self._busy += 1
                    return due
                self._changed.wait(0.05)
            return None

    def _run(self) -> None:
        while (message := self._next()) is not None:
            message.receives += 1
            record = {
                "messageId": message.id,
                "receiptHandle": message.id,
                "body": message.body,
                "attributes": {"ApproximateReceiveCount": str(message.receives)},
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:eu-central-1:123456789012:{self.name}",
                "awsRegion": "eu-central-1",
            }
            try:
                answer = self._deliver({"Records": [record]})
                failed = any(
                    f.get("itemIdentifier") == message.id
                    for f in (answer or {}).get("batchItemFailures") or []
                )
            except Exception as exc:  # the function raised: Lambda would retry the batch
                print(f"{self.name}: delivery failed: {type(exc).__name__}", file=sys.stderr)
                failed = True
            with self._changed:
                self._busy -= 1
                if failed and message.receives < self._max_receives:
                    message.not_before = time.monotonic() + self._retry_seconds
                    self._waiting.append(message)
                elif failed:
                    self.dead.append(message.id)
                    print(f"{self.name}: message {message.id} given up on", file=sys.stderr)
                self._changed.notify_all()
