"""The local outbox: messages are kept in memory instead of being sent."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from smsconsent import clock
from smsconsent.sender.base import SmsMessage


class Outbox:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def send(self, message: SmsMessage) -> str:
        with self._lock:
            message_id = f"local-{next(self._ids)}"
            self._messages.append(
                {
                    "id": message_id,
                    "to": message.to,
                    "body": message.body,
                    "tenant": message.tenant,
                    "kind": message.kind,
                    "sent_at": clock.iso(clock.now()),
                }
            )
            return message_id

    def messages(self) -> list[dict[str, Any]]:
        """Oldest first."""
        with self._lock:
            return [dict(m) for m in self._messages]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


OUTBOX = Outbox()
