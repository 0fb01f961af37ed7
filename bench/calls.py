"""DynamoDB requests and the items they returned, counted at the botocore layer (every
client in the process: pynamodb's, the pre-send batch client, boto3's)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.common import json_object


@dataclass
class DynamoCalls:
    operations: dict[str, int] = field(default_factory=dict)
    items_read: int = 0
    seconds: float = 0.0  # wall time inside the calls (botocore and whatever answers them)

    @property
    def requests(self) -> int:
        return sum(self.operations.values())

    def reset(self) -> None:
        self.operations.clear()
        self.items_read = 0
        self.seconds = 0.0

    def add(self, operation: str, answer: Any) -> None:
        self.operations[operation] = self.operations.get(operation, 0) + 1
        if isinstance(answer, dict):
            self.items_read += len(answer.get("Items") or []) + (1 if answer.get("Item") else 0)
            self.items_read += sum(len(v) for v in (answer.get("Responses") or {}).values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "items_read": self.items_read,
            "operations": dict(self.operations),
            "seconds": round(self.seconds, 3),
        }


@contextmanager
def counting() -> Iterator[DynamoCalls]:
    """Count every DynamoDB request made in this process while inside."""
    from botocore.client import BaseClient

    calls = DynamoCalls()
    real = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private, not in the stubs

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        started = time.perf_counter()
        answer = real(client, operation, params)
        if client.meta.service_model.service_name == "dynamodb":
            calls.seconds += time.perf_counter() - started
            calls.add(operation, answer)
        return answer

    # BatchGetItem as the pre-send reader sends it, the short way (store.batch._Wire); a
    # request it hands on to botocore is counted again above, as it is sent again.
    from smsconsent.store.batch import _Wire

    fetched = _Wire.fetch

    def counted_wire(wire: Any, request: Any) -> Any:
        started = time.perf_counter()
        body = fetched(wire, request)
        calls.seconds += time.perf_counter() - started
        calls.add("BatchGetItem", json_object(body))
        return body

    setattr(BaseClient, "_make_api_call", counted)  # noqa: B010
    setattr(_Wire, "fetch", counted_wire)  # noqa: B010
    try:
        yield calls
    finally:
        setattr(BaseClient, "_make_api_call", real)  # noqa: B010
        setattr(_Wire, "fetch", fetched)  # noqa: B010
