"""Handlers on moto's DynamoDB, fed the real-shaped events in events/.

The table is created from template.yaml's own definition, so template and models cannot
drift. The clock is a fake the tests move. Everything a test changes in the process
(environment, model binding, clock, outbox) is put back afterwards, so the local stack
tests in the same session are not disturbed.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import template as local_template

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
TABLE = "sms-consent-test"


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 22, 10, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:eu-central-1:123456789012:function:test-function"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "test-request"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "test"
    remaining_ms: int = 10_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_event(name: str, **changes: Any) -> dict[str, Any]:
    """An event from events/, with top-level keys replaced."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    event.update(copy.deepcopy(changes))
    return event


def _rebind() -> None:
    from smsconsent import environment

    environment.reload()


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    from smsconsent import clock as clock_module

    fake = FakeClock()
    before = clock_module._source
    clock_module.set_source(fake)
    yield fake
    clock_module.set_source(before)


@pytest.fixture
def aws(clock: FakeClock) -> Iterator[None]:
    """moto's DynamoDB with the template's table and the demo tenant in it."""
    saved = dict(os.environ)
    os.environ["TABLE_NAME"] = TABLE
    os.environ.pop("DYNAMODB_ENDPOINT", None)
    os.environ["SMS_SENDER"] = "outbox"
    with mock_aws():
        definition, ttl_attribute = local_template.table_definition(local_template.load(), TABLE)
        client = boto3.client("dynamodb")
        client.create_table(**definition)
        client.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
        )
        _rebind()
        from smsconsent import store
        from smsconsent.sender.outbox import OUTBOX

        OUTBOX.clear()
        store.put_tenant_doc(json.loads((ROOT / "local/tenants/demo.json").read_text()), clock.now)
        yield
        OUTBOX.clear()
    os.environ.clear()
    os.environ.update(saved)
    _rebind()


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def outbox() -> Any:
    from smsconsent.sender.outbox import OUTBOX

    return OUTBOX


@dataclass
class DynamoCalls:
    """DynamoDB requests and the items they returned, counted at the botocore layer."""

    operations: dict[str, int] = field(default_factory=dict)
    items_read: int = 0

    def reset(self) -> None:
        self.operations.clear()
        self.items_read = 0


@pytest.fixture
def dynamo_calls(monkeypatch: pytest.MonkeyPatch) -> DynamoCalls:
    from botocore.client import BaseClient

    calls = DynamoCalls()
    real = BaseClient._make_api_call

    def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
        answer = real(client, operation, params)
        if client.meta.service_model.service_name == "dynamodb":
            calls.operations[operation] = calls.operations.get(operation, 0) + 1
            calls.items_read += len(answer.get("Items", [])) + (1 if answer.get("Item") else 0)
            calls.items_read += sum(len(v) for v in answer.get("Responses", {}).values())
        return answer

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    return calls


def queue_in_env(monkeypatch: pytest.MonkeyPatch, name: str, variable: str) -> Iterator[str]:
    """A moto SQS queue whose URL the functions read from ``variable`` (for fixtures)."""
    from smsconsent import environment

    url = boto3.client("sqs").create_queue(QueueName=name)["QueueUrl"]
    monkeypatch.setenv(variable, url)
    environment.reload()
    yield url
    monkeypatch.undo()
    environment.reload()
