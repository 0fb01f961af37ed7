"""What the invariant tests share: a moto table with the demo tenant that is opened and
closed without pytest fixtures (a Hypothesis state machine builds one per example), the
events the handlers are fed, and a step counter the terminal summary reports."""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import boto3
from moto import mock_aws

from local import moto_queries, moto_transactions
from tests.fixtures.aws import TABLE, FakeClock, rebind, share_boto3_session, table_definition
from tests.fixtures.context import make_context
from tests.fixtures.events import ROOT, load_event

OUR_NUMBER = "+4915790000000"
TOKEN = re.compile(r"/c/([A-Za-z0-9_-]{16,64})")

# Filled by the tests, printed by conftest.pytest_terminal_summary.
STATS: defaultdict[str, Counter[str]] = defaultdict(Counter)


class MotoWorld:
    """moto's DynamoDB with the template's table and the demo tenant, a fake clock every
    function reads, and the outbox emptied. ``close`` puts everything back.

    ``reuse_connection``: ``store.commit`` builds a new pynamodb ``Connection`` (so a new
    botocore session and client, ~0.15 s of service-model loading) for every
    transaction; the state machine reuses one per endpoint to run ten times more steps
    in the same time. Behaviour is the same: the connection has the same settings.

    As in the ``aws`` fixture, the table has no stream (nothing here reads it) and
    transactions back up only the items they name: with the stream, moto deep-copies the
    table and every stream record it holds for each item of each transaction, and the
    state machine, whose records pile up over an example, took 85 s instead of 48 s."""

    def __init__(self, clock: FakeClock | None = None, reuse_connection: bool = False) -> None:
        from smsconsent import clock as clock_module
        from smsconsent import store

        self.clock = clock or FakeClock()
        self._env = dict(os.environ)
        self._clock_before = clock_module._source
        self._mock: AbstractContextManager[Any] | None = None
        self._connection_before = store.models.connection
        try:
            if reuse_connection:
                cache: dict[tuple[str, str | None], Any] = {}

                def connection() -> Any:
                    conf = store.models.settings.get()
                    key = (conf.region, conf.dynamodb_endpoint)
                    if key not in cache:
                        cache[key] = self._connection_before()
                    return cache[key]

                store.models.connection = connection
            os.environ["TABLE_NAME"] = TABLE
            os.environ.pop("DYNAMODB_ENDPOINT", None)
            os.environ["SMS_SENDER"] = "outbox"
            clock_module.set_source(self.clock)
            moto_transactions.install()
            moto_queries.install()
            self._mock = mock_aws()
            self._mock.__enter__()
            share_boto3_session()
            self._client = boto3.client("dynamodb")
            self._definition = table_definition()
            self._definition[0].pop("StreamSpecification", None)
            rebind()
            self.context = make_context()
            self.reset()
        except BaseException:
            self.close()
            raise

    def reset(self) -> None:
        """An empty table with the demo tenant, the clock at its start, an empty outbox."""
        from smsconsent import store, tenants
        from smsconsent.sender.outbox import OUTBOX

        if TABLE in self._client.list_tables()["TableNames"]:
            self._client.delete_table(TableName=TABLE)
        definition, ttl_attribute = self._definition
        self._client.create_table(**definition)
        self._client.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": str(ttl_attribute)}
        )
        self.clock.now = FakeClock().now
        OUTBOX.clear()
        tenants.clear_cache()
        store.put_tenant_doc(json.loads((ROOT / "local/tenants/demo.json").read_text()), self.clock.now)
        tenant = tenants.get("demo")
        assert tenant is not None
        self.tenant = tenant

    def close(self) -> None:
        from smsconsent import clock as clock_module
        from smsconsent import store
        from smsconsent.sender.outbox import OUTBOX

        store.models.connection = self._connection_before

        OUTBOX.clear()
        if self._mock is not None:
            self._mock.__exit__(None, None, None)
            self._mock = None
        os.environ.clear()
        os.environ.update(self._env)
        clock_module.set_source(self._clock_before)
        rebind()


# ---- events --------------------------------------------------------------------------------


def signup_event(phone: str, purposes: list[str], ip: str) -> dict[str, Any]:
    event = load_event("signup-json.json")
    event["body"] = json.dumps(
        {
            "phone": phone,
            "consent": True,
            "age_confirmed": True,
            "purposes": purposes,
            "language": "en",
            "source": "https://shop.example/sms",
        }
    )
    event["requestContext"]["http"]["sourceIp"] = ip
    return event


def confirm_event(token: str) -> dict[str, Any]:
    event = load_event(
        "confirm-post.json",
        rawPath=f"/c/{token}",
        pathParameters={"token": token},
    )
    event["requestContext"]["http"]["path"] = f"/c/{token}"
    event["headers"]["accept"] = "application/json"
    return event


def optout_event(code: str) -> dict[str, Any]:
    event = load_event(
        "confirm-post.json",
        routeKey="POST /o/{code}",
        rawPath=f"/o/{code}",
        pathParameters={"code": code},
    )
    event["requestContext"]["http"]["path"] = f"/o/{code}"
    event["requestContext"]["routeKey"] = "POST /o/{code}"
    event["headers"]["accept"] = "application/json"
    return event


def status_of(answer: dict[str, Any]) -> str:
    return str(json.loads(answer["body"])["status"])


def token_of(body: str) -> str:
    found = TOKEN.search(body)
    assert found, body
    return found.group(1)


def sms(provider_id: str, phone: str, text: str) -> Any:
    from smsconsent.providers.base import InboundMessage

    return InboundMessage("twilio", provider_id, phone, OUR_NUMBER, text)


def subject_of(phone: str) -> Any:
    from smsconsent import keys, store

    return store.load_subject("demo", keys.subject_hashes("demo", phone))


def parse(text: str) -> datetime:
    from smsconsent.clock import parse_iso

    return parse_iso(text)
