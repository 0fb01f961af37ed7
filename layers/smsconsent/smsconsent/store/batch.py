"""Bulk access for the pre-send check: thousands of subjects read at once, and a marketing
contact recorded with one conditional update per subject.

This is the hot path of the busiest function, so it speaks low-level botocore (no pynamodb
objects): ``BatchGetItem`` in pages of 100 keys issued concurrently from a small thread
pool (botocore clients are thread-safe), strongly consistent, projecting only what the
check needs. Keys left unprocessed (throttling) are asked again with exponential backoff
and full jitter, a bounded number of times; then ``StoreUnavailable``: never a partial
answer.

A page is first sent the short way (``_Wire``): signed with SigV4 (``store.sigv4``, checked
against botocore's ``SigV4Auth``) with the session's credentials, sent through the client's
own HTTP session, a clean answer decoded as it is. Anything else (an error status, a
dropped connection, a bad checksum, a body that is no JSON object) and the page goes again
through the client as any call does, with botocore's retries, error parsing and checks:
the short way only skips the per-call work a successful read does not need (endpoint
rules, events, retry bookkeeping, the generic parser, the e-mail header maps of
botocore's signer), which cost more CPU per page than deciding its subjects.

Contact is not a consent state change: it writes no evidence. Its update is conditional
on the subject's ``version`` (the same optimistic lock pynamodb's ``VersionAttribute``
keeps for ``store.commit``), so a concurrent STOP or confirmation wins and the caller
reads again and decides again; it never creates an item.
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson  # parses each subject's consents twice as fast as json (the check's dearest step)
from botocore.awsrequest import AWSPreparedRequest, HeadersDict
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.handlers import add_recursion_detection_header
from botocore.useragent import sanitize_user_agent_string_component

from smsconsent import aws, phone, settings
from smsconsent.clock import iso
from smsconsent.records import ConsentRecord, PendingOptIn, Subject
from smsconsent.store import sigv4
from smsconsent.store.errors import StoreUnavailable

PAGE = 100  # BatchGetItem's limit
WORKERS = 16  # concurrent requests (pages or updates) per invocation
ATTEMPTS = 6  # BatchGetItem calls per page before giving up on unprocessed keys
BACKOFF_BASE = 0.05  # seconds; doubled per attempt, full jitter
BACKOFF_CAP = 1.0

# Only what the check decides on, plus what ``consent.next_due`` reads when contact is
# recorded. Never the raw number, tokens or evidence.
ATTRIBUTES = (
    "pk",
    "version",
    "consents",
    "pending",
    "language",
    "region",
    "optout_code",
    "last_contact_at",
    "sends",
    "last_campaign",
    "purged_at",
    "unreachable",
    "provider_list",
    "zones",
)
_NAMES = {f"#a{i}": name for i, name in enumerate(ATTRIBUTES)}
_PROJECTION = ", ".join(_NAMES)

# Replaced by tests so retries do not wait.
sleep: Callable[[float], None] = time.sleep


@dataclass(slots=True)
class Snapshot:
    """What the pre-send check reads of a subject: a projection, never written back whole."""

    pk: str
    version: int | None
    # As stored (JSON), decoded per question (``record``): holding thousands of decoded
    # records at once until the answer is built cost as much CPU again as decoding them.
    consents_json: str | None
    language: str | None = None
    region: str | None = None
    optout_code: str | None = None
    last_contact_at: str | None = None
    sends: list[str] = field(default_factory=list)
    last_campaign: str | None = None
    pending: dict[str, PendingOptIn] | None = None
    purged_at: str | None = None
    unreachable: str | None = None  # as stored (JSON): set means a provider said so
    provider_list: str | None = None  # as stored (JSON): the opt-out list sync's state
    zones: str | None = None  # as stored (``phone.stored_zones``): absent on an older item

    @classmethod
    def of(cls, subject: Subject) -> Snapshot:
        return cls(
            pk=subject.pk,
            version=subject.version,
            consents_json=orjson.dumps(subject.consents).decode() if subject.consents else None,
            language=subject.language,
            region=subject.region,
            optout_code=subject.optout_code,
            last_contact_at=subject.last_contact_at,
            sends=list(subject.sends),
            last_campaign=subject.last_campaign,
            pending=subject.pending,
            purged_at=subject.purged_at,
            unreachable=json.dumps(subject.unreachable) if subject.unreachable else None,
            provider_list=json.dumps(subject.provider_list) if subject.provider_list else None,
            zones=phone.stored_zones(subject.phone) if subject.phone else None,
        )

    def record(self, key: str) -> ConsentRecord | None:
        """The consent record ``key`` (``sms:marketing``), decoded afresh."""
        return orjson.loads(self.consents_json).get(key) if self.consents_json else None

    def as_subject(self, tenant: str) -> Subject:
        """A domain subject for the pure rules (``consent.next_due``); not for ``store.commit``:
        the fields outside the projection are placeholders."""
        return Subject(
            pk=self.pk,
            tenant=tenant,
            phone=None,
            region=self.region,
            language=self.language,
            consents=orjson.loads(self.consents_json) if self.consents_json else {},
            pending=self.pending,
            optout_code=self.optout_code,
            last_contact_at=self.last_contact_at,
            sends=list(self.sends),
            last_campaign=self.last_campaign,
            ev_seq=0,
            ev_head="",
            created_at="",
            version=self.version,
            purged_at=self.purged_at,
            unreachable=json.loads(self.unreachable) if self.unreachable else None,
            provider_list=json.loads(self.provider_list) if self.provider_list else None,
        )


@dataclass(frozen=True, slots=True)
class Contact:
    """A marketing send to record on ``subject`` (as it was read): the new last contact,
    the sends still inside the frequency window, the campaign (None: forget the last one),
    and the lapse clock's new due time."""

    subject: Snapshot
    at: str
    sends: list[str]
    campaign: str | None
    due: datetime | None


# ---- the client -------------------------------------------------------------------------

_lock = threading.Lock()
# The settings they were made for, the client and its short way for BatchGetItem, made
# together (one tuple: read at once).
_reader_made: tuple[tuple[str, str | None], Any, _Wire | None] | None = None
_pool: ThreadPoolExecutor | None = None


def client() -> Any:
    """One botocore DynamoDB client per process (made on first use, again when the region
    or endpoint in the settings changes: tests and the local stack move it)."""
    return _reader()[0]


def _reader() -> tuple[Any, _Wire | None]:
    """The client and its short way for ``BatchGetItem`` (None: botocore's way only)."""
    global _reader_made
    conf = settings.get()
    key = (conf.region, conf.dynamodb_endpoint)
    made = _reader_made
    if made is None or made[0] != key:
        with _lock:
            made = _reader_made
            if made is None or made[0] != key:
                # Its own client (the hooks below must not touch pynamodb's), from the
                # shared session.
                client = aws.client(
                    "dynamodb",
                    endpoint_url=conf.dynamodb_endpoint,
                    config=Config(
                        max_pool_connections=WORKERS,
                        # Three tries, the SDK's default: with the short way's first try a
                        # page is asked at most four times (a hung DynamoDB answers 503
                        # within the function's timeout).
                        retries={"mode": "standard", "total_max_attempts": 3},
                        connect_timeout=2,
                        read_timeout=5,
                        # The requests are built here, not by callers: skip the per-call
                        # walk over the input shape (CPU on every request).
                        parameter_validation=False,
                        # A fixed User-Agent: botocore otherwise rebuilds it twice per request
                        # from ~40 sanitised parts (~65 µs per request here).
                        user_agent=_user_agent(),
                    ),
                )
                for operation in ("BatchGetItem", "GetItem", "Query"):
                    client.meta.events.register(f"before-parse.dynamodb.{operation}", _take_json_as_is)
                made = _reader_made = (key, client, _Wire.of(client))
    return made[1], made[2]


def _user_agent() -> str:
    """botocore's short User-Agent, this reader's mark, and the application id when one is
    configured (``AWS_SDK_UA_APP_ID``), which a fixed header would otherwise drop: people
    trace their calls in CloudTrail by it."""
    session = aws.session()
    agent = f"{session.user_agent()} md/smsconsent#presend"
    app_id = session.get_config_variable("user_agent_appid")
    if app_id:
        agent += f" app/{sanitize_user_agent_string_component(str(app_id)[:50], False)}"
    return agent


def _take_json_as_is(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """Skip botocore's parsing of a successful read: DynamoDB's JSON already is the
    low-level shape for the string and number attributes projected here, and walking every
    attribute of every item through the output shape costs more CPU than the whole check.
    botocore parses the emptied body and merges this in; errors and non-JSON answers are
    left to botocore."""
    headers = response_dict.get("headers") or {}
    if response_dict.get("status_code") != 200 or not str(headers.get("content-type", "")).startswith(
        "application/x-amz-json"
    ):
        return
    try:
        data = orjson.loads(response_dict.get("body") or b"")
    except ValueError:
        return
    if isinstance(data, dict):
        customized_response_dict.update(data)
        response_dict["body"] = b"{}"


class _Wire:
    """``BatchGetItem`` the short way (see the module's docstring): the request built in
    DynamoDB's JSON 1.0 protocol and encoded by ``orjson``, signed with SigV4 (``sigv4``,
    the session's credentials, refreshed when they expire), sent to the client's endpoint
    through the client's HTTP session (its pool, timeouts, proxies and certificates) after
    ``before-send`` (where moto and the tests' stubs answer, as for any call). ``sign``
    runs in the reader's thread and ``fetch`` in the pool's; ``fetch`` answers None for
    anything but a clean 200, and the page goes through botocore."""

    TARGET = "DynamoDB_20120810.BatchGetItem"

    def __init__(self, client: Any, http: Any, credentials: Any) -> None:
        self._events = client.meta.events
        url = client.meta.endpoint_url  # and its path, or "/" (as botocore joins them)
        self._url = url if urlsplit(url).path else url + "/"
        self._signer = sigv4.Signer(self._url, "dynamodb", client.meta.region_name)
        self._http = http
        self._credentials = credentials
        self._headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": self.TARGET,
            "User-Agent": client.meta.config.user_agent,
        }

    @classmethod
    def of(cls, client: Any) -> _Wire | None:
        """The short way for ``client``, or None (every page through botocore) when this
        botocore keeps its HTTP session elsewhere, there are no credentials yet, or the
        endpoint is one the signer does not sign for (a query string, user info)."""
        http = getattr(getattr(client, "_endpoint", None), "http_session", None)
        credentials = aws.session().get_credentials()
        if not callable(getattr(http, "send", None)) or credentials is None:
            return None
        if not sigv4.signable(client.meta.endpoint_url):
            return None
        return cls(client, http, credentials)

    def sign(self, request_items: dict[str, Any]) -> AWSPreparedRequest | None:
        """The request for ``request_items``, signed; None when the credentials cannot be
        had now (refreshing them failed: botocore's way then says why)."""
        try:
            credentials = self._credentials.get_frozen_credentials()
        except BotoCoreError:
            return None
        body = orjson.dumps({"RequestItems": request_items})
        headers = dict(self._headers)
        add_recursion_detection_header({"headers": headers})  # the invocation's X-Ray trace, as botocore
        self._signer.sign(headers, body, credentials)
        sent = HeadersDict({name: value.encode() for name, value in headers.items()})  # UTF-8, as botocore
        sent["Content-Length"] = str(len(body))
        # A HeadersDict, as botocore's own ``prepare`` makes (the stubs name another type).
        return AWSPreparedRequest("POST", self._url, sent, body, False)  # type: ignore[arg-type]

    def fetch(self, request: AWSPreparedRequest) -> bytes | None:
        """The body of DynamoDB's answer to ``request`` when it is a clean 200, else None."""
        try:
            _, response = self._events.emit_until_response(
                "before-send.dynamodb.BatchGetItem", request=request
            )
            if response is None:
                response = self._http.send(request)
            body: bytes = response.content
        except BotoCoreError:  # no connection, a timeout, a dropped answer
            return None
        headers = response.headers
        if response.status_code != 200 or headers.get("content-encoding"):
            return None
        checksum = headers.get("x-amz-crc32")  # DynamoDB's; botocore retries a mismatch
        try:
            if checksum is not None and zlib.crc32(body) != int(checksum):
                return None
        except ValueError:  # a checksum that is no number
            return None
        return body


def _decoded(body: bytes) -> dict[str, Any] | None:
    """A clean answer's JSON, or None when it is not the object DynamoDB sends: one with
    its ``Responses``, or with nothing but keys left unprocessed."""
    try:
        answer = orjson.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    responses, left = answer.get("Responses"), answer.get("UnprocessedKeys")
    if isinstance(responses, dict) or (responses is None and isinstance(left, dict) and left):
        return answer
    return None


def _through_botocore(dynamodb: Any, request_items: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB's answer to one ``BatchGetItem`` by botocore's way (its retries and errors)."""
    try:
        answer: dict[str, Any] = dynamodb.batch_get_item(RequestItems=request_items)
    except (ClientError, BotoCoreError) as exc:
        raise _unavailable(exc) from exc
    return answer


def reset() -> None:
    """Forget the client and the thread pool (a restored snapshot, new settings): both are
    made again on next use, the client from the session of now."""
    global _reader_made, _pool
    with _lock:
        _reader_made = None
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False)


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="store-batch")
    return _pool


def _unavailable(exc: Exception) -> StoreUnavailable:
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    return StoreUnavailable(f"{type(exc).__name__}: {code or exc}")


# ---- reading ------------------------------------------------------------------------------


_ABSENT: dict[str, str] = {}


def _snapshot(item: dict[str, Any]) -> Snapshot:
    # Read straight from DynamoDB's JSON: every projected attribute but ``version`` is a
    # string (``{"S": ...}``); a dict per item more was a tenth of the check's CPU.
    get = item.get
    version, sends, pending = get("version"), get("sends"), get("pending")
    return Snapshot(
        item["pk"]["S"],
        int(version["N"]) if version and "N" in version else None,
        get("consents", _ABSENT).get("S"),
        get("language", _ABSENT).get("S"),
        get("region", _ABSENT).get("S"),
        get("optout_code", _ABSENT).get("S"),
        get("last_contact_at", _ABSENT).get("S"),
        orjson.loads(sends["S"]) if sends and sends.get("S") else [],
        get("last_campaign", _ABSENT).get("S"),
        orjson.loads(pending["S"]) if pending and pending.get("S") else None,
        get("purged_at", _ABSENT).get("S"),
        get("unreachable", _ABSENT).get("S"),
        get("provider_list", _ABSENT).get("S"),
        get("zones", _ABSENT).get("S"),
    )


_SUBJECT_SK = {"S": "SUBJECT"}  # one for every key of a request (never changed)


def _request(table: str, pks: Sequence[str], consistent: bool) -> dict[str, Any]:
    return {
        table: {
            "Keys": [{"pk": {"S": pk}, "sk": _SUBJECT_SK} for pk in pks],
            "ConsistentRead": consistent,
            "ProjectionExpression": _PROJECTION,
            "ExpressionAttributeNames": _NAMES,
        }
    }


def read(pks: Sequence[str], *, consistent: bool = True) -> dict[str, Snapshot]:
    """The subjects stored under ``pks`` by pk (``read_pages``)."""
    return {snapshot.pk: snapshot for page in read_pages(pks, consistent=consistent) for snapshot in page}


def read_pages(pks: Sequence[str], *, consistent: bool = True) -> Iterator[list[Snapshot]]:
    """The subjects stored under ``pks`` (strongly consistent, unless ``consistent`` is
    False: half the read cost), a page's as its answer comes; absent ones are left out.
    ``ceil(len(set(pks)) / 100)`` requests, issued concurrently, when DynamoDB processes
    every key at the first ask. Raises ``StoreUnavailable`` at the first page that cannot
    be read: what came before it may have been used, never taken for the whole answer.

    Only the waiting happens in the pool's threads: each page is signed, and its answer
    decoded, in this one, as the answers come. Threads that decoded pages side by side
    spent a third more CPU on the same work (each holding its page's objects at once, and
    handing the interpreter's lock to and fro)."""
    unique = list(dict.fromkeys(pks))
    if not unique:
        return
    table = settings.get().table_name
    dynamodb, wire = _reader()
    answers: queue.SimpleQueue[tuple[dict[str, Any], int, Any]] = queue.SimpleQueue()
    inline = len(unique) <= PAGE  # one page: asked from this thread, no hand-off

    def ask(request_items: dict[str, Any], attempt: int, request: AWSPreparedRequest | None) -> None:
        try:
            if attempt:
                sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)))
            got: Any = wire.fetch(request) if wire is not None and request is not None else None
            if got is None:
                got = _through_botocore(dynamodb, request_items)
        except BaseException as exc:  # anything: raised again in the reader's thread, never lost
            got = exc
        answers.put((request_items, attempt, got))

    queued: list[Future[None]] = []

    def submit(request_items: dict[str, Any], attempt: int, short: bool = True) -> None:
        request = wire.sign(request_items) if short and wire is not None else None
        if inline:
            ask(request_items, attempt, request)
        else:
            queued.append(_executor().submit(ask, request_items, attempt, request))

    try:
        for i in range(0, len(unique), PAGE):
            submit(_request(table, unique[i : i + PAGE], consistent), 0)
        outstanding = (len(unique) + PAGE - 1) // PAGE
        while outstanding:
            request_items, attempt, got = answers.get()
            outstanding -= 1
            if isinstance(got, BaseException):
                raise got
            answer = _decoded(got) if isinstance(got, bytes) else got
            if answer is None:  # a 200 the short way cannot read: botocore's way says what it is
                submit(request_items, attempt, short=False)
                outstanding += 1
                continue
            yield [_snapshot(item) for item in answer.get("Responses", {}).get(table, ())]
            left = answer.get("UnprocessedKeys") or {}
            if left.get(table, {}).get("Keys"):
                if attempt + 1 >= ATTEMPTS:
                    raise StoreUnavailable(f"BatchGetItem left keys unprocessed after {ATTEMPTS} attempts")
                submit(left, attempt + 1)
                outstanding += 1
    finally:
        # Failed, or the reader stopped early: the pages not yet sent are not sent (the
        # pool is shared with the contact writes and the next invocation).
        for future in queued:
            future.cancel()


def read_one(pk: str) -> Snapshot | None:
    """One subject again (after a lost race), strongly consistent."""
    try:
        answer = client().get_item(
            TableName=settings.get().table_name,
            Key={"pk": {"S": pk}, "sk": {"S": "SUBJECT"}},
            ConsistentRead=True,
            ProjectionExpression=_PROJECTION,
            ExpressionAttributeNames=_NAMES,
        )
    except (ClientError, BotoCoreError) as exc:
        raise _unavailable(exc) from exc
    item = answer.get("Item")
    return _snapshot(item) if item else None


# ---- recording contact -----------------------------------------------------------------------


def _record_one(contact: Contact, now: datetime) -> bool:
    subject = contact.subject
    names = {
        "#v": "version",
        "#lc": "last_contact_at",
        "#s": "sends",
        "#c": "last_campaign",
        "#u": "updated_at",
        "#da": "due_at",
        "#db": "due_bucket",
    }
    values: dict[str, Any] = {
        ":lc": {"S": contact.at},
        ":s": {"S": json.dumps(contact.sends)},
        ":u": {"S": iso(now)},
        ":nv": {"N": str((subject.version or 0) + 1)},
    }
    sets = ["#lc = :lc", "#s = :s", "#u = :u", "#v = :nv"]
    removes = []
    if contact.campaign:
        sets.append("#c = :c")
        values[":c"] = {"S": contact.campaign}
    else:
        removes.append("#c")
    if contact.due is not None:
        sets += ["#da = :da", "#db = :db"]
        values[":da"] = {"S": iso(contact.due)}
        values[":db"] = {"S": f"due#{contact.due.date().isoformat()}"}
    else:
        removes += ["#da", "#db"]
    if subject.version is None:
        condition = "attribute_exists(pk) AND attribute_not_exists(#v)"
    else:
        condition = "#v = :v"
        values[":v"] = {"N": str(subject.version)}
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    try:
        client().update_item(
            TableName=settings.get().table_name,
            Key={"pk": {"S": subject.pk}, "sk": {"S": "SUBJECT"}},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("ConditionalCheckFailedException", "TransactionConflictException"):
            return False  # changed (or removed) since read: the caller reads and decides again
        raise _unavailable(exc) from exc
    except BotoCoreError as exc:
        raise _unavailable(exc) from exc
    return True


def record(contacts: Sequence[Contact], now: datetime) -> list[bool]:
    """Record each contact with one conditional update (concurrently); per contact, False
    when the subject changed since it was read."""
    if len(contacts) <= 1:
        return [_record_one(c, now) for c in contacts]
    return list(_executor().map(lambda c: _record_one(c, now), contacts))
