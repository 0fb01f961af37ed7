"""The local stack's state: environment, embedded DynamoDB (and EventBridge bus), functions,
clock, tenants, and the consent events path (the table's stream fed to the publisher, the
webhook delivery worker, the demo sink).

``start()`` brings it all up on a free port (tests) or a given one (``python -m local``)::

    stack = start(port=0)
    ... urllib.request.urlopen(stack.url + "/_local/health") ...
    stack.stop()

One stack per process at a time: the domain modules read the environment once, so
``start`` sets it (and ``stop`` puts it back) for the whole process.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from local import template as tpl
from local.apigw import Router
from local.context import LambdaContext, arn
from local.errors import StackError
from local.optout_list import LocalOptOutLists
from local.queue import LocalQueue
from local.streams import StreamPump, TableStream
from local.webhooks import SINK_DESCRIPTION, SINK_PATH, LocalDeliveries, Sink

ROOT = tpl.ROOT
TENANTS = Path(__file__).resolve().parent / "tenants"
TABLE_NAME = "sms-consent-local"
EVENT_BUS_NAME = "sms-consent-local-events"
IMPORT_BUCKET = "sms-consent-local-imports"  # in the embedded moto, as ImportBucket in AWS
DEMO_TENANT = "demo"
REGION = "eu-central-1"
# Local only, never used in AWS (there the pepper is a generated Secrets Manager secret).
LOCAL_PEPPER = '{"current": "local1", "local1": "local-pepper-0123456789abcdef"}'
# Variables the stack decides itself; the template's values for them are AWS-only.
_OWN_ENV = (
    "TABLE_NAME",
    "SMS_SENDER",
    "PEPPER_SECRET_ARN",
    "DYNAMODB_ENDPOINT",
    "ALLOW_PLAIN_SECRETS",
    "EVENT_BUS_NAME",
    "WEBHOOK_QUEUE_URL",
    "WEBHOOK_DEAD_LETTER_QUEUE_URL",
    "LOCAL_WEBHOOKS",
    "LIST_SYNC_QUEUE_URL",
    "IMPORT_QUEUE_URL",
)


# ---- the one clock -------------------------------------------------------------------------


class Clock:
    """System time plus an offset: ``set`` and ``advance`` move it, and it keeps ticking."""

    # Times every function can compute with (epoch seconds, TTLs, a year of windows ahead).
    EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)
    LATEST = datetime(9000, 1, 1, tzinfo=UTC)

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def _move(self, offset: Callable[[timedelta], timedelta]) -> datetime:
        """Apply a change of the offset, or raise ``ValueError`` leaving the clock as it was."""
        with self._lock:
            try:
                new = offset(self._offset)
                moment = datetime.now(UTC) + new
            except OverflowError as exc:
                raise ValueError("the clock cannot go that far") from exc
            if not self.EARLIEST <= moment <= self.LATEST:
                raise ValueError(f"the clock must stay between {self.EARLIEST.year} and {self.LATEST.year}")
            self._offset = new
            return moment

    def set(self, moment: datetime) -> datetime:
        return self._move(lambda _: moment.astimezone(UTC) - datetime.now(UTC))

    def advance(self, seconds: float) -> datetime:
        return self._move(lambda offset: offset + timedelta(seconds=seconds))

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)


# ---- tenants ---------------------------------------------------------------------------------


def read_tenants(folder: Path, public_base_url: str) -> list[dict[str, Any]]:
    """Every ``*.json`` in ``folder``, validated, with ``public_base_url`` pointed at the stack.

    Raises ``StackError`` naming the file and the field at fault."""
    from smsconsent.tenants import Tenant, TenantError

    docs: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")):
        name = _display(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise StackError(f"tenant file {name}: cannot be read: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise StackError(f"tenant file {name}: not JSON (line {exc.lineno}, column {exc.colno})") from exc
        if not isinstance(doc, dict):
            raise StackError(f"tenant file {name}: must hold a JSON object")
        doc["public_base_url"] = public_base_url
        try:
            Tenant.from_dict(doc)
        except TenantError as exc:
            problem = str(exc).removeprefix(f"{exc.path}: ")
            raise StackError(f"tenant file {name}: field {exc.path!r} {problem}") from exc
        except ValueError as exc:  # a check that slipped past TenantError: still name the file
            raise StackError(f"tenant file {name}: {exc}") from exc
        docs.append(doc)
    return docs


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# ---- the stack -------------------------------------------------------------------------------


class LocalStack:
    """Everything behind the local HTTP server. Use ``start()`` to make one."""

    def __init__(self, template_path: Path | None = None, tenants_dir: Path | None = None) -> None:
        self.template = tpl.load(template_path)
        self.functions = tpl.functions(self.template)
        self.routes = tpl.routes(self.template)
        self.router = Router(self.routes)
        self.tenants_dir = tenants_dir or TENANTS
        self.clock = Clock()
        self.url = ""
        self.dynamodb_endpoint = ""
        self.ready = threading.Event()
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._import_lock = threading.Lock()
        self._saved_env: dict[str, str] | None = None
        self._moto: Any = None
        self._inprocess_undo: Callable[[], None] | None = None
        self._dynamodb: Any = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        # SignupQueue: valid signups wait here for SignupFunction's worker, as in AWS.
        self.signup_queue: LocalQueue | None = None
        # The table's stream fed to each function the template feeds it to (PublisherFunction,
        # TallyFunction), each reading it on its own, the publisher's webhook deliveries made
        # here (WebhookQueue and DeliveryFunction in AWS), and the demo tenant's receiver.
        self.stream_pumps: list[StreamPump] = []
        self._streams: Any = None  # the DynamoDB Streams client
        self.deliveries = LocalDeliveries(self.clock.now)
        self.sink = Sink(self._sink_secrets, self.clock.now)
        # The AWS opt-out lists tenants name, and ListSyncQueue with ListSyncFunction's worker.
        self.provider_optouts = LocalOptOutLists(self.clock.now)
        self.list_sync_queue: LocalQueue | None = None
        # ImportQueue and ImportWorkerFunction's worker; the import bucket is moto's S3.
        self.import_queue: LocalQueue | None = None
        self.import_bucket: str | None = None

    # -- functions ---------------------------------------------------------------------------

    def function(self, name: str) -> tpl.Function | None:
        """A function by logical id (``SignupFunction``) or folder name (``signup``)."""
        if name in self.functions:
            return self.functions[name]
        return next((f for f in self.functions.values() if f.folder == name), None)

    def handler(self, function: tpl.Function) -> Callable[[Any, Any], Any]:
        """The function's handler, imported on first use (after the environment is set)."""
        with self._import_lock:
            if function.logical_id not in self._handlers:
                module = importlib.import_module(function.module)
                self._handlers[function.logical_id] = getattr(module, function.attribute)
            return self._handlers[function.logical_id]

    def invoke(
        self, function: tpl.Function, event: Any, request_id: str, qualifier: str | None = None
    ) -> Any:
        """Call the handler as Lambda would, through the alias or version ``qualifier`` if
        given (any name: the local stack has every alias); exceptions propagate."""
        context = LambdaContext(
            function_name=function.logical_id,
            memory_limit_in_mb=function.memory,
            timeout_seconds=function.timeout,
            aws_request_id=request_id,
            invoked_function_arn=arn(function.logical_id, qualifier, REGION),
        )
        try:
            return self.handler(function)(event, context)
        finally:
            for pump in self.stream_pumps:
                if function.logical_id != pump.name:
                    pump.poke()  # what it wrote is in the stream: publish it now

    # -- lifecycle ---------------------------------------------------------------------------

    def _set_env(self, endpoint: str | None) -> None:
        self._saved_env = dict(os.environ)
        env = os.environ
        if endpoint is None:
            # Embedded moto: fake credentials always, so nothing here can reach AWS.
            env.update(
                {
                    "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SECURITY_TOKEN": "testing",
                    "AWS_SESSION_TOKEN": "testing",
                    "AWS_REGION": REGION,
                    "AWS_DEFAULT_REGION": REGION,
                }
            )
        else:
            for name, value in (
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_REGION", env.get("AWS_DEFAULT_REGION", REGION)),
                ("AWS_DEFAULT_REGION", env.get("AWS_REGION", REGION)),
            ):
                env.setdefault(name, value)
        # The template's plain values (POWERTOOLS_*, ...); intrinsics are AWS-only.
        for function in self.functions.values():
            for name, value in function.environment.items():
                if name not in _OWN_ENV and isinstance(value, str | int | float | bool):
                    env.setdefault(name, str(value).lower() if isinstance(value, bool) else str(value))
        env.pop("PEPPER_SECRET_ARN", None)
        env.pop("SIGNUP_QUEUE_URL", None)  # the in-process queue stands in for SignupQueue
        # The worker of local.webhooks stands in for WebhookQueue; the bus is moto's, when
        # moto is embedded (start sets it), else none.
        for name in ("WEBHOOK_QUEUE_URL", "WEBHOOK_DEAD_LETTER_QUEUE_URL", "EVENT_BUS_NAME"):
            env.pop(name, None)
        env.pop("LIST_SYNC_QUEUE_URL", None)  # the local list sync queue stands in
        env.pop("IMPORT_QUEUE_URL", None)  # the local import queue stands in
        env["LOCAL_WEBHOOKS"] = "true"  # webhooks may go to http on loopback (the demo sink)
        env.setdefault("PEPPER_JSON", LOCAL_PEPPER)
        env.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        env["TABLE_NAME"] = TABLE_NAME
        env["SMS_SENDER"] = "outbox"  # never a real SMS from the local stack
        env["ALLOW_PLAIN_SECRETS"] = "true"  # the demo tenant's {"value": ...} secrets; AWS refuses them

    def start(self, host: str = "127.0.0.1", port: int = 0, access_log: bool = False) -> LocalStack:
        for layer in reversed(tpl.layer_paths(self.template)):
            # Lambda puts a layer's code on sys.path (/opt/python); these folders are it here.
            if str(layer) not in sys.path:
                sys.path.insert(0, str(layer))
        external = os.environ.get("DYNAMODB_ENDPOINT") or None
        self._set_env(external)
        try:
            if external is None:
                from moto.server import ThreadedMotoServer

                from local import moto_inprocess, moto_queries, moto_transactions

                moto_transactions.install()  # no whole-table copy per transaction
                moto_queries.install()  # a Query on the table's key reads its partition only
                logging.getLogger("werkzeug").setLevel(logging.WARNING)
                self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
                self._moto.start()
                moto_host, moto_port = self._moto.get_host_and_port()
                self.dynamodb_endpoint = f"http://{moto_host}:{moto_port}"
                from smsconsent import aws

                # The stack's functions call their moto without a socket; others use the port.
                self._inprocess_undo = moto_inprocess.install(aws.session(), self.dynamodb_endpoint)
                # Consent events go to an EventBridge bus in the same moto, as in AWS
                # (botocore names the variable after the service id, EventBridge).
                os.environ["AWS_ENDPOINT_URL_EVENTBRIDGE"] = self.dynamodb_endpoint
                os.environ["EVENT_BUS_NAME"] = EVENT_BUS_NAME
                os.environ["AWS_ENDPOINT_URL_S3"] = self.dynamodb_endpoint
            else:
                self.dynamodb_endpoint = external
            os.environ["DYNAMODB_ENDPOINT"] = self.dynamodb_endpoint
            self._rebind()
            self._ensure_table()
            if external is None:
                self._ensure_bus()
                self._ensure_import_bucket()

            # Imported here: the server's pages import the domain layer, on sys.path only now.
            from local.server import make_server

            self._server = make_server(self, host, port, access_log)
            bound_host, bound_port = self._server.server_address[:2]
            # Listening on every interface: links still need one address that works here.
            shown = "127.0.0.1" if bound_host in ("0.0.0.0", "") else bound_host  # noqa: S104
            self.url = f"http://{shown}:{bound_port}"
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="local-stack", daemon=True
            )
            self._thread.start()

            from smsconsent import clock

            clock.set_source(self.clock.now)
            self._start_deliveries()
            self.seed()
            self._start_signup_queue()
            self._start_list_sync()
            self._start_imports()
            self._start_stream_pump()
        except BaseException:
            self.stop()
            raise
        self.ready.set()
        return self

    def _start_signup_queue(self) -> None:
        function = self.function("SignupFunction")
        if function is None:
            return
        from smsconsent import signup

        def deliver(event: dict[str, Any]) -> Any:
            return self.invoke(function, event, f"local-{uuid.uuid4()}")

        self.signup_queue = LocalQueue("SignupQueue", deliver).start()
        signup.set_local_queue(self.signup_queue.send)

    def _start_list_sync(self) -> None:
        function = self.function("ListSyncFunction")
        from smsconsent import list_sync, publishing

        list_sync.set_local_client(self.provider_optouts)
        if function is None:
            return

        def deliver(event: dict[str, Any]) -> Any:
            return self.invoke(function, event, f"local-{uuid.uuid4()}")

        queue = self.list_sync_queue = LocalQueue("ListSyncQueue", deliver).start()
        publishing.set_local_list_sync(lambda message: queue.send(json.dumps(message)))

    def _start_imports(self) -> None:
        function = self.function("ImportWorkerFunction")
        if function is None:
            return
        from smsconsent import importing

        def deliver(event: dict[str, Any]) -> Any:
            return self.invoke(function, event, f"local-{uuid.uuid4()}")

        # One chunk per delivery, as the template's BatchSize: 1.
        queue = self.import_queue = LocalQueue("ImportQueue", deliver).start()
        importing.set_local_queue(queue.send)

    def import_file(self, tenant: str, name: str, data: bytes) -> Any:
        """Put a file in the import bucket and hand ImportPlanFunction the event EventBridge
        would: what `make import` does with a file over the API's 5 MB."""
        function = self.function("ImportPlanFunction")
        if self.import_bucket is None or function is None:
            raise StackError("the import bucket needs the embedded moto (DYNAMODB_ENDPOINT unset)")
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.dynamodb_endpoint, region_name=os.environ["AWS_REGION"])
        key = f"{tenant}/{name}"
        put = s3.put_object(Bucket=self.import_bucket, Key=key, Body=data)
        # As S3 writes it: the key URL-encoded (a space as "+"), the version put.
        found = {"key": quote_plus(key, safe="/"), "size": len(data), "etag": put["ETag"].strip('"')}
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": "123456789012",
            "time": self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": os.environ["AWS_REGION"],
            "resources": [f"arn:aws:s3:::{self.import_bucket}"],
            "detail": {
                "version": "0",
                "bucket": {"name": self.import_bucket},
                "object": {**found, "version-id": put.get("VersionId") or "", "sequencer": "0"},
                "request-id": "local",
                "requester": "123456789012",
                "reason": "PutObject",
            },
        }
        return self.invoke(function, event, f"local-{uuid.uuid4()}")

    def _ensure_import_bucket(self) -> None:
        import boto3

        s3: Any = boto3.client(
            "s3", endpoint_url=self.dynamodb_endpoint, region_name=os.environ["AWS_REGION"]
        )
        # moto's state is the process's: a stack started again in it finds its bucket
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(
                Bucket=IMPORT_BUCKET,
                CreateBucketConfiguration={"LocationConstraint": os.environ["AWS_REGION"]},
            )
        # Versioned, as the template's ImportBucket
        s3.put_bucket_versioning(Bucket=IMPORT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.import_bucket = IMPORT_BUCKET

    def _start_deliveries(self) -> None:
        from smsconsent import publishing

        self.deliveries.start()
        publishing.set_local_deliveries(self.deliveries.take)

    def _start_stream_pump(self) -> None:
        """Feed the table's stream to each function the template feeds it to, from now on:
        each reads it on its own (its own place in it), as two event source mappings do."""
        for source in tpl.stream_sources(self.template):
            function = self.function(source.function) if source.table == "ConsentTable" else None
            if function is None:
                continue
            try:
                stream = self._table_stream(source.batch_size)
            except KeyError:  # a table made before it had a stream (DynamoDB Local, say)
                print(
                    f"Local stack: {TABLE_NAME} has no stream: consent events are not published",
                    file=sys.stderr,
                )
                return

            def feed(event: dict[str, Any], function: tpl.Function = function) -> Any:
                return self.invoke(function, event, f"local-{uuid.uuid4()}")

            self.stream_pumps.append(
                StreamPump(stream, feed, source.filters, name=function.logical_id).start()
            )

    def _table_stream(self, batch_size: int) -> TableStream:
        """The table's stream from now on (LATEST)."""
        import boto3

        if self._streams is None:
            self._streams = boto3.client(
                "dynamodbstreams", endpoint_url=self.dynamodb_endpoint, region_name=os.environ["AWS_REGION"]
            )
        return TableStream(
            self._client(), self._streams, TABLE_NAME, batch_size=batch_size, list_shards_every=5.0
        )

    def settle(self, timeout: float = 10.0, *, webhooks: bool = True) -> bool:
        """Wait until the queued signups are processed (their SMS in the outbox) and, with
        ``webhooks``, until what the table's stream holds is published and the webhook
        deliveries due now are attempted. False when that took longer than ``timeout``."""
        deadline = time.monotonic() + timeout
        done = self.signup_queue.idle(timeout) if self.signup_queue else True
        if not webhooks:
            return done
        for pump in self.stream_pumps:
            done = pump.pump(max(0.0, deadline - time.monotonic())) and done
        if self.list_sync_queue is not None:
            done = self.list_sync_queue.idle(max(0.0, deadline - time.monotonic())) and done
        if self.import_queue is not None:
            done = self.import_queue.idle(max(0.0, deadline - time.monotonic())) and done
        return self.deliveries.idle(max(0.0, deadline - time.monotonic())) and done

    def stop(self) -> None:
        """Stop serving, stop the embedded DynamoDB, put the environment back."""
        self.ready.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for pump in self.stream_pumps:
            pump.stop()
        self.stream_pumps = []
        with contextlib.suppress(ImportError):
            from smsconsent import publishing

            publishing.set_local_deliveries(None)
            publishing.set_local_list_sync(None)
        with contextlib.suppress(ImportError):
            from smsconsent import list_sync

            list_sync.set_local_client(None)
        if self.list_sync_queue is not None:
            self.list_sync_queue.stop()
            self.list_sync_queue = None
        with contextlib.suppress(ImportError):
            from smsconsent import importing

            importing.set_local_queue(None)
        if self.import_queue is not None:
            self.import_queue.stop()
            self.import_queue = None
        self.import_bucket = None
        self.provider_optouts.clear()
        self.deliveries.stop()
        self.deliveries.clear()
        self.sink.clear()
        if self.signup_queue is not None:
            with contextlib.suppress(ImportError):
                from smsconsent import signup

                signup.set_local_queue(None)
            self.signup_queue.stop()
            self.signup_queue = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._inprocess_undo is not None:
            self._inprocess_undo()
            self._inprocess_undo = None
        if self._moto is not None:
            with contextlib.suppress(Exception):
                self._moto.stop()
            self._moto = None
        self._dynamodb = None
        self._streams = None
        with contextlib.suppress(ImportError):
            from smsconsent import clock
            from smsconsent.sender.outbox import OUTBOX

            clock.set_source(None)
            OUTBOX.clear()
        if self._saved_env is not None:
            os.environ.clear()
            os.environ.update(self._saved_env)
            self._saved_env = None
            with contextlib.suppress(ImportError):
                self._rebind()

    # -- data --------------------------------------------------------------------------------

    @staticmethod
    def _rebind() -> None:
        from smsconsent import environment

        environment.reload()

    def _client(self) -> Any:
        if self._dynamodb is None:
            import boto3

            self._dynamodb = boto3.client(
                "dynamodb", endpoint_url=self.dynamodb_endpoint, region_name=os.environ["AWS_REGION"]
            )
        return self._dynamodb

    def _ensure_bus(self) -> None:
        import boto3

        events = boto3.client(
            "events", endpoint_url=self.dynamodb_endpoint, region_name=os.environ["AWS_REGION"]
        )
        try:
            events.describe_event_bus(Name=EVENT_BUS_NAME)
        except events.exceptions.ResourceNotFoundException:
            events.create_event_bus(Name=EVENT_BUS_NAME)

    def _ensure_table(self) -> None:
        client = self._client()
        definition, ttl_attribute = tpl.table_definition(self.template, TABLE_NAME)
        try:
            client.describe_table(TableName=TABLE_NAME)
        except client.exceptions.ResourceNotFoundException:
            client.create_table(**definition)
            client.get_waiter("table_exists").wait(
                TableName=TABLE_NAME, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
            )
        except Exception as exc:
            raise StackError(f"DynamoDB at {self.dynamodb_endpoint} does not answer: {exc}") from exc
        else:
            self._add_missing_indexes(client, definition)
        if ttl_attribute:
            ttl = client.describe_time_to_live(TableName=TABLE_NAME)["TimeToLiveDescription"]
            if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                client.update_time_to_live(
                    TableName=TABLE_NAME,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
                )

    @staticmethod
    def _add_missing_indexes(client: Any, definition: dict[str, Any]) -> None:
        """A table kept from an older version (DynamoDB Local, say) gets the indexes the
        template has added since."""
        table = client.describe_table(TableName=TABLE_NAME)["Table"]
        have = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes") or []}
        for index in definition.get("GlobalSecondaryIndexes") or []:
            if index["IndexName"] in have:
                continue
            names = {k["AttributeName"] for k in index["KeySchema"]}
            client.update_table(
                TableName=TABLE_NAME,
                AttributeDefinitions=[
                    a for a in definition["AttributeDefinitions"] if a["AttributeName"] in names
                ],
                GlobalSecondaryIndexUpdates=[{"Create": index}],
            )

    def seed(self, docs: list[dict[str, Any]] | None = None) -> list[str]:
        """Put every tenant file (or ``docs`` read from them) into the table; returns the ids."""
        from smsconsent import store, tenants

        if docs is None:
            docs = read_tenants(self.tenants_dir, self.url)
        for doc in docs:
            store.put_tenant_doc(doc, self.clock.now())
        tenants.clear_cache()
        ids = [doc["id"] for doc in docs]
        if DEMO_TENANT in ids:
            self._subscribe_sink()
        return ids

    def _subscribe_sink(self) -> None:
        """The demo tenant's one subscription to this stack's sink (a previous run's, on
        another port, is dropped), so events show at /_local/sink without any setup."""
        from smsconsent import clock, store
        from smsconsent.webhooks import signing

        url = self.url + SINK_PATH
        ours = [s for s in store.webhooks_of(DEMO_TENANT) if s.description == SINK_DESCRIPTION]
        kept = next((s for s in ours if s.url == url), None)
        for subscription in ours:
            if subscription is not kept:
                store.delete_webhook(DEMO_TENANT, subscription.id)
        if kept is None:
            store.add_webhook(
                store.Subscription(
                    tenant=DEMO_TENANT,
                    id=store.new_webhook_id(),
                    url=url,
                    events=["*"],
                    description=SINK_DESCRIPTION,
                    secret=signing.new_secret(),
                    created_at=clock.iso(self.clock.now()),
                )
            )

    def _sink_secrets(self) -> list[str]:
        """The secrets of the demo tenant's subscriptions to the sink."""
        from smsconsent import store

        url = self.url + SINK_PATH
        return [s.secret for s in store.webhooks_of(DEMO_TENANT) if s.url == url]

    def wipe(self) -> int:
        """Delete every item of the table; returns how many."""
        client = self._client()
        keys = [k["AttributeName"] for k in tpl.table_definition(self.template, TABLE_NAME)[0]["KeySchema"]]
        count = 0
        for page in client.get_paginator("scan").paginate(
            TableName=TABLE_NAME,
            ProjectionExpression=", ".join(f"#k{i}" for i in range(len(keys))),
            ExpressionAttributeNames={f"#k{i}": k for i, k in enumerate(keys)},
        ):
            items = page.get("Items", [])
            for start in range(0, len(items), 25):
                batch = [{"DeleteRequest": {"Key": item}} for item in items[start : start + 25]]
                while batch:
                    answer = client.batch_write_item(RequestItems={TABLE_NAME: batch})
                    batch = answer.get("UnprocessedItems", {}).get(TABLE_NAME, [])
            count += len(items)
        return count

    def reset(self) -> None:
        """Wipe all data, the outbox, the webhook deliveries and the sink, reset the clock,
        reseed the tenants (and the demo tenant's sink subscription).

        The tenant files are read first: a broken one raises ``StackError`` and nothing
        is wiped. Nothing written before the reset is published after it: the stream is
        read from the reset on. (An attempt still waiting on a slow receiver may record
        itself in the table once it ends; it is not retried.)"""
        from smsconsent import tenants
        from smsconsent.sender.outbox import OUTBOX

        docs = read_tenants(self.tenants_dir, self.url)
        self.settle()  # nothing queued before the reset lands after it
        with contextlib.ExitStack() as paused:
            for pump in self.stream_pumps:
                paused.enter_context(pump.paused())
            if self.signup_queue is not None:
                self.signup_queue.clear()
            self.deliveries.clear()
            if self.list_sync_queue is not None:
                self.list_sync_queue.clear()
            if self.import_queue is not None:
                self.import_queue.clear()
            self.provider_optouts.clear()
            renewed = self._empty_table()
            OUTBOX.clear()
            self.sink.clear()
            self.clock.reset()
            tenants.clear_cache()
            self.seed(docs)
            # What was written before the reset is never published: the stream is read
            # from here on (a new table's from its start).
            for pump in self.stream_pumps:
                if renewed:
                    pump.stream = self._table_stream(pump.stream.batch_size)
                else:
                    pump.stream.skip_to_now()

    def _empty_table(self) -> bool:
        """Embedded moto: a new table (True). Moto keeps every stream record of a table and
        copies the whole table, its stream included, for each transaction, so writes would
        get slower over the stack's life. Another endpoint: its items deleted (False)."""
        if self._moto is None:
            self.wipe()
            return False
        self._client().delete_table(TableName=TABLE_NAME)
        self._ensure_table()
        return True


def start(
    port: int = 0,
    host: str = "127.0.0.1",
    template_path: Path | None = None,
    tenants_dir: Path | None = None,
    access_log: bool = False,
) -> LocalStack:
    """Start a local stack serving on ``host:port`` (0: a free port); see ``LocalStack.url``.
    ``access_log`` writes one line per request to stderr (route key, status, time)."""
    return LocalStack(template_path, tenants_dir).start(host, port, access_log)
