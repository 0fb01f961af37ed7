"""Webhook deliveries on the local stack, and the demo sink that receives them.

``LocalDeliveries`` stands in for WebhookQueue and DeliveryFunction: the publisher hands it
each delivery (``publishing.set_local_deliveries``), and a few worker threads make the real
signed POSTs through ``smsconsent.delivery.attempt``. As in the FIFO queue, a group (one
subscription's events of one subject) goes out in order: its next delivery waits until
the one before is delivered, dropped or given up on; groups go side by side, so a
receiver that is slow or down holds up only its own groups. A retry is due at the time
the attempt named, on the local clock: moving the clock past it sends it (the workers look
at the clock every ``poll`` seconds). Every attempt is remembered for ``/_local/webhooks``.

``Sink`` is ``/_local/sink``: what a CRM subscribed to the demo tenant would get, each
delivery verified with the ``standardwebhooks`` library against the subscription's secret.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smsconsent.delivery import Outcome
    from smsconsent.publishing import Delivery

Now = Callable[[], datetime]

# An attempt that raised (the table failed, a bug): tried again after this, up to this often.
_ERROR_PAUSE = timedelta(seconds=1)
_MAX_ERRORS = 10


@dataclass
class _Job:
    delivery: Delivery
    attempts: int = 0  # made here (the table counts them too: its number is shown)
    errors: int = 0  # attempts that raised
    due: datetime | None = None  # on the local clock; None: now


class LocalDeliveries:
    def __init__(self, now: Now, workers: int = 6, poll: float = 0.1, keep: int = 1000) -> None:
        self._now = now
        self._workers = workers
        self._poll = poll
        self._groups: dict[str, deque[_Job]] = {}  # FIFO per group, in arrival order
        self._busy: set[str] = set()  # groups whose head is being attempted
        self._seen: set[str] = set()  # deduplication ids, as a FIFO queue drops a repeat
        self._attempts: deque[dict[str, Any]] = deque(maxlen=keep)
        self._urls: dict[str, str] = {}
        self._dead = 0
        self._generation = 0  # clear() starts a new one: older attempts' results are dropped
        self._changed = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []

    # -- what the publisher and the stack call -----------------------------------------------

    def take(self, delivery: Delivery) -> None:
        """Queue a delivery (a repeat of one already taken is dropped, as SQS FIFO does)."""
        with self._changed:
            if delivery.dedupe_id in self._seen:
                return
            self._seen.add(delivery.dedupe_id)
            self._groups.setdefault(delivery.group, deque()).append(_Job(delivery))
            self._changed.notify_all()

    def start(self) -> LocalDeliveries:
        with self._changed:
            self._stopping = False
        self._threads = [
            threading.Thread(target=self._run, name=f"local-webhooks-{n}", daemon=True)
            for n in range(self._workers)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the workers; one waiting on a slow receiver is left to finish by itself."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads = []

    def clear(self) -> None:
        """Forget every delivery and attempt; an attempt under way is not recorded here."""
        with self._changed:
            self._groups.clear()
            self._busy.clear()
            self._seen.clear()
            self._attempts.clear()
            self._urls.clear()
            self._dead = 0
            self._generation += 1
            self._changed.notify_all()

    def idle(self, timeout: float = 10.0) -> bool:
        """Wait until no delivery is due now and none is being attempted; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._busy or self._due() is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, self._poll))
            return True

    def report(self) -> dict[str, Any]:
        """``{"attempts": [...], "waiting": n, "dead": n}``, attempts oldest first;
        ``waiting`` counts the deliveries not done with (queued, being attempted, or
        waiting for a retry)."""
        with self._changed:
            return {
                "attempts": [dict(a) for a in self._attempts],
                "waiting": sum(len(jobs) for jobs in self._groups.values()),
                "dead": self._dead,
            }

    # -- the workers -------------------------------------------------------------------------

    def _due(self) -> str | None:
        """A group whose head is due and not being attempted (under the lock)."""
        now = self._now()
        for group, jobs in self._groups.items():
            if group not in self._busy and (jobs[0].due is None or jobs[0].due <= now):
                return group
        return None

    def _next(self) -> tuple[str, _Job, int] | None:
        with self._changed:
            while not self._stopping:
                group = self._due()
                if group is not None:
                    self._busy.add(group)
                    return group, self._groups[group][0], self._generation
                self._changed.wait(self._poll)
            return None

    def _run(self) -> None:
        while (picked := self._next()) is not None:
            group, job, generation = picked
            # The job is this worker's alone until its group is no longer busy.
            job.attempts += 1
            outcome, entry = self._attempt(job)
            with self._changed:
                if generation == self._generation:
                    self._busy.discard(group)
                    self._attempts.append(entry)
                    self._move_on(group, job, outcome)
                self._changed.notify_all()

    def _move_on(self, group: str, job: _Job, outcome: Outcome) -> None:
        """Keep the head for its retry, or move the group on (under the lock)."""
        if outcome.status == "retry" and outcome.next_attempt_at is not None:
            job.due = outcome.next_attempt_at
            return
        if outcome.status == "dead":
            self._dead += 1
        jobs = self._groups[group]
        jobs.popleft()
        if not jobs:
            del self._groups[group]

    def _attempt(self, job: _Job) -> tuple[Outcome, dict[str, Any]]:
        from smsconsent import clock, delivery

        now = self._now()
        entry: dict[str, Any] = {
            "webhook_id": job.delivery.webhook_id,
            "url": self._url(job.delivery),
            "event_id": job.delivery.event["id"],
            "type": job.delivery.event["type"],
            "attempt": job.attempts,
            "status": None,
            "http_status": None,
            "error": None,
            "at": clock.iso(now),
            "next_attempt_at": None,
        }
        try:
            outcome = delivery.attempt(job.delivery, now)
        except Exception as exc:  # as DeliveryFunction: the message comes back later
            if not self._stopping:  # (once stopped, the table may be gone: nothing to tell)
                print(f"local webhooks: an attempt failed: {type(exc).__name__}", file=sys.stderr)
                traceback.print_exc(file=sys.stderr)
            job.errors += 1
            retry = job.errors < _MAX_ERRORS
            outcome = delivery.Outcome("retry", now + _ERROR_PAUSE) if retry else delivery.Outcome("dead")
            entry["error"] = f"the attempt raised {type(exc).__name__}"
            entry["status"] = "failed" if retry else "dead"
        else:
            entry["status"] = "failed" if outcome.status == "retry" else outcome.status
            if outcome.recorded is not None:  # as the deliveries route shows it
                recorded = outcome.recorded
                entry.update(
                    attempt=recorded.attempt,
                    status=recorded.status,
                    http_status=recorded.http_status,
                    error=recorded.error,
                    at=recorded.at,
                )
        if outcome.next_attempt_at is not None:
            entry["next_attempt_at"] = clock.iso(outcome.next_attempt_at)
        return outcome, entry

    def _url(self, job: Delivery) -> str | None:
        """The subscription's URL (remembered: a subscription's URL never changes)."""
        if job.webhook_id not in self._urls:
            from smsconsent import store

            try:
                subscription = store.webhook(job.tenant, job.webhook_id)
            except Exception:  # the attempt will meet the same failure and report it
                return None
            if subscription is None:
                return None
            self._urls[job.webhook_id] = subscription.url
        return self._urls[job.webhook_id]


# ---- the demo receiver ----------------------------------------------------------------------

SINK_PATH = "/_local/sink"
SINK_DESCRIPTION = "local demo sink"


class Sink:
    """What the demo tenant's subscription to ``/_local/sink`` received, newest last.

    ``secrets`` gives the signing secrets of the subscriptions that point here."""

    def __init__(self, secrets: Callable[[], list[str]], now: Now, keep: int = 500) -> None:
        self._secrets = secrets
        self._now = now
        self._received: deque[dict[str, Any]] = deque(maxlen=keep)
        self._known: list[str] | None = None  # the secrets last looked up
        self._lock = threading.Lock()

    def receive(self, headers: dict[str, str], body: bytes) -> None:
        from smsconsent import clock

        lower = {name.lower(): value for name, value in headers.items()}
        try:
            event: Any = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            event = body.decode("utf-8", "replace")
        entry = {
            "received_at": clock.iso(self._now()),
            "headers": {name: lower.get(name) for name in ("webhook-id", "webhook-timestamp")},
            "verified": self._verify(lower, body),
            "event": event,
        }
        with self._lock:
            self._received.append(entry)

    def _verify(self, headers: dict[str, str], body: bytes) -> bool | None:
        """True when a subscription's secret verifies it; None without the library. The
        secrets are remembered, and looked up again when none of them verifies."""
        try:
            from standardwebhooks.webhooks import Webhook
        except ImportError:
            return None

        def verifies(secrets: list[str]) -> bool:
            for secret in secrets:
                try:
                    Webhook(secret).verify(body, headers)
                except Exception:  # noqa: S112 - not this secret (or no valid signature at all)
                    continue
                return True
            return False

        remembered = self._known
        if remembered is not None and verifies(remembered):
            return True
        try:
            self._known = self._secrets()
        except Exception:  # the table is not there: nothing to verify against
            return False
        return verifies(self._known)

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._received]

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self._known = None
