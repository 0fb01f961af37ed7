"""Bulk import on the real handlers (ImportsFunction, ImportWorkerFunction,
ImportPlanFunction) against moto's DynamoDB, SQS and S3: the SPEC's rules row by row, the
same file twice, opt-outs never overridden, stale consents lapsed, a worker killed midway,
the import bucket, and errors by row, never by number."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.fixtures.aws import rebind
from tests.fixtures.events import load_event
from tests.fixtures.journeys import inbound, twilio_event

pytestmark = pytest.mark.usefixtures("aws")

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "import.csv"
HEADER = "phone,status,purposes,consented_at,method,last_contact_at,opted_out_at\n"
PHONE = "+4915112345678"


class Imports:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def post(self, context: Any, body: str, content_type: str = "text/csv") -> dict[str, Any]:
        from functions.imports.app import handler

        event = load_event("imports-csv.json")
        event["body"] = body
        event["headers"]["content-type"] = content_type
        return handler(event, context)

    def status(self, context: Any, import_id: str) -> dict[str, Any]:
        from functions.imports.app import handler

        event = load_event("imports-status.json")
        event["pathParameters"]["id"] = import_id
        answer = handler(event, context)
        assert answer["statusCode"] == 200, answer["body"]
        return dict(json.loads(answer["body"]))

    def run(self, context: Any, body: str, content_type: str = "text/csv") -> dict[str, Any]:
        answer = self.post(context, body, content_type)
        assert answer["statusCode"] == 202, answer["body"]
        started = json.loads(answer["body"])
        assert started["status"] == "running"
        self.drain(context)
        return self.status(context, started["import_id"])

    def drain(self, context: Any) -> int:
        """Hand every queued chunk to the worker as Lambda's SQS integration would; the
        number of deliveries handed back."""
        from functions.import_worker.app import handler

        sqs = boto3.client("sqs")
        failures = 0
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=1, VisibilityTimeout=0
            ).get("Messages")
            if not messages:
                return failures
            [message] = messages
            record = {
                "messageId": "m",
                "receiptHandle": "r",
                "body": message["Body"],
                "eventSource": "aws:sqs",
            }
            if handler({"Records": [record]}, context)["batchItemFailures"]:
                failures += 1
                continue  # delivered again
            sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def imports(aws: None) -> Iterator[Imports]:
    url = boto3.client("sqs").create_queue(QueueName="imports")["QueueUrl"]
    os.environ["IMPORT_QUEUE_URL"] = url
    rebind()
    yield Imports(url)
    os.environ.pop("IMPORT_QUEUE_URL", None)
    rebind()


def subject_of(number: str) -> Any:
    from smsconsent import keys, store

    return store.load_subject("demo", keys.subject_hashes("demo", number))


def imported_events(number: str) -> list[Any]:
    from smsconsent import store

    return [e for e in store.evidence_of(subject_of(number).pk) if e.type == "consent_imported"]


def test_the_sample_file_row_by_row(context: Any, outbox: Any, imports: Imports) -> None:
    status = imports.run(context, SAMPLE.read_text())
    assert (status["status"], status["rows"], status["processed"]) == ("done", 6, 6)
    assert (status["imported"], status["unchanged"], status["rejected"]) == (4, 0, 2)
    assert status["errors"] == [
        {"row": 5, "code": "not_mobile", "field": "phone"},
        {"row": 6, "code": "unknown_purpose", "field": "purposes"},
    ]
    import hashlib

    assert status["sha256"] == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert "+49" not in json.dumps(status)  # errors name rows, never numbers
    assert outbox.messages() == []  # an import never sends an SMS
    first = subject_of("+4915112340001")
    assert {k: r["state"] for k, r in first.consents.items()} == {
        "sms:marketing": "active",
        "sms:newsletter": "active",
    }
    [proof] = imported_events("+4915112340001")
    assert proof.data["method"] == "double_opt_in" and proof.data["consent_text"] == "signup-sms:1"
    assert proof.data["consented_at"] == "2025-03-14T09:30:00Z" and proof.data["row"] == 1
    assert proof.data["file_sha256"] == status["sha256"] and proof.data["import_id"] == status["import_id"]
    assert proof.pii == {"ip": "198.51.100.23", "user_agent": "Mozilla/5.0", "source": "shop-checkout"}
    # A consent from 2023 without contact since: lapsed on arrival
    assert subject_of("+4915112340002").consents["sms:marketing"]["state"] == "lapsed"
    # An opt-out: every purpose named (the tenant's default), with its own time
    third = subject_of("+4915112340003")
    assert third.consents["sms:marketing"] == {
        "state": "opted_out",
        "since": "2024-06-01T08:15:00Z",
        "imported": f"{status['import_id']}#3",
    }
    assert imported_events("+4915112340003")[0].pii["reason"] == "customer called"
    # A national number in the tenant's default country
    assert subject_of("+4915112340004").consents["sms:marketing"]["state"] == "active"


def test_the_same_file_twice_changes_nothing_the_second_time(context: Any, imports: Imports) -> None:
    imports.run(context, SAMPLE.read_text())
    before = {n: len(imported_events(n)) for n in ("+4915112340001", "+4915112340002", "+4915112340003")}
    again = imports.run(context, SAMPLE.read_text())
    assert (again["imported"], again["unchanged"], again["rejected"]) == (0, 4, 2)
    assert {n: len(imported_events(n)) for n in before} == before


def test_an_active_row_never_overrides_an_opt_out(context: Any, imports: Imports, outbox: Any) -> None:
    from tests.fixtures.journeys import sign_up

    sign_up(context, outbox, confirm=True)
    assert inbound(context, twilio_event("STOP", "stop-before-import"))["statusCode"] == 200
    status = imports.run(context, HEADER + f"{PHONE},active,marketing,2026-11-01T10:00:00Z,written,,\n")
    assert (status["imported"], status["unchanged"]) == (0, 1)
    assert subject_of(PHONE).consents["sms:marketing"]["state"] == "opted_out"


def test_an_opted_out_row_always_applies(context: Any, imports: Imports, outbox: Any) -> None:
    from tests.fixtures.journeys import sign_up

    sign_up(context, outbox, confirm=True)
    status = imports.run(context, HEADER + f"{PHONE},opted_out,,,,,2026-11-20T10:00:00Z\n")
    assert status["imported"] == 1
    found = subject_of(PHONE)
    assert {r["state"] for k, r in found.consents.items() if k != "sms:orders"} == {"opted_out"}
    assert found.consents["sms:marketing"]["before_stop"] == "active"  # START brings it back
    assert inbound(context, twilio_event("START", "start-after-import"))["statusCode"] == 200
    assert subject_of(PHONE).consents["sms:marketing"]["state"] == "active"


def test_a_three_year_old_consent_without_contact_lands_lapsed(context: Any, imports: Imports) -> None:
    from functions.presend.app import handler

    status = imports.run(context, HEADER + f"{PHONE},active,marketing,2023-11-01T10:00:00Z,double_opt_in,,\n")
    assert status["imported"] == 1
    assert subject_of(PHONE).consents["sms:marketing"]["state"] == "lapsed"
    assert imported_events(PHONE)[0].data["state"] == "lapsed"
    event = load_event("presend-http.json")
    event["body"] = json.dumps(
        {"recipients": [PHONE], "category": "marketing", "send_at": "2026-11-22T13:00:00Z"}
    )
    assert json.loads(handler(event, context)["body"])["results"][0]["reason"] == "lapsed"
    # ... and a recent contact keeps an old consent active
    recent = imports.run(
        context,
        HEADER + "+4915112345679,active,marketing,2023-11-01T10:00:00Z,double_opt_in,2026-10-01T10:00:00Z,\n",
    )
    assert recent["imported"] == 1
    assert subject_of("+4915112345679").consents["sms:marketing"]["state"] == "active"


@pytest.mark.parametrize(
    ("line", "code", "field"),
    [
        (",active,marketing,2026-01-01T00:00:00Z,written,,", "missing_field", "phone"),
        ("not a number,active,marketing,2026-01-01T00:00:00Z,written,,", "invalid_phone", "phone"),
        ("+393471234567,active,marketing,2026-01-01T00:00:00Z,written,,", "country_not_allowed", "phone"),
        ("+4915112345678,,marketing,2026-01-01T00:00:00Z,written,,", "missing_field", "status"),
        ("+4915112345678,subscribed,marketing,2026-01-01T00:00:00Z,written,,", "invalid_field", "status"),
        ("+4915112345678,active,marketing,,written,,", "missing_field", "consented_at"),
        ("+4915112345678,active,marketing,2026-01-01T00:00:00Z,,,", "missing_field", "method"),
        ("+4915112345678,active,marketing,2026-01-01T00:00:00Z,telepathy,,", "invalid_field", "method"),
        ("+4915112345678,active,marketing,yesterday,written,,", "invalid_field", "consented_at"),
        ("+4915112345678,active,marketing,2031-01-01T00:00:00Z,written,,", "invalid_field", "consented_at"),
        ("+4915112345678,active,marketing,2026-01-01T00:00:00Z,written,,,extra", "invalid_field", "row"),
    ],
)
def test_row_errors_name_the_row_code_and_field(
    context: Any, imports: Imports, line: str, code: str, field: str
) -> None:
    status = imports.run(context, HEADER + line + "\n")
    assert (status["rejected"], status["errors"]) == (1, [{"row": 1, "code": code, "field": field}])
    assert subject_of(PHONE) is None


def test_an_unknown_column_refuses_the_whole_file(context: Any, imports: Imports) -> None:
    answer = imports.post(context, "phone,status,opted_out_date\n+4915112345678,opted_out,2026-01-01\n")
    assert answer["statusCode"] == 422
    assert json.loads(answer["body"])["error"] == {
        "code": "invalid_field",
        "message": "unknown column 'opted_out_date': the whole file is refused",
        "field": "opted_out_date",
    }
    assert boto3.client("sqs").receive_message(QueueUrl=imports.queue_url).get("Messages") is None


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("phone,status\n", "application/json", 415, "unsupported_media_type"),
        ("", "text/csv", 422, "invalid_field"),
        ("x" * (5 * 1024 * 1024 + 1), "text/csv", 413, "body_too_large"),
    ],
)
def test_bad_files_are_refused(
    context: Any, imports: Imports, body: str, content_type: str, status: int, code: str
) -> None:
    answer = imports.post(context, body, content_type)
    assert (answer["statusCode"], json.loads(answer["body"])["error"]["code"]) == (status, code)


def test_ndjson_with_a_list_of_purposes(context: Any, imports: Imports) -> None:
    lines = [
        {
            "phone": PHONE,
            "status": "active",
            "purposes": ["marketing", "newsletter"],
            "consented_at": "2026-06-01T10:00:00Z",
            "method": "double_opt_in",
        },
        "not json",
        {"phone": "+4915112345679", "status": "opted_out"},
    ]
    body = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    status = imports.run(context, body, "application/x-ndjson")
    assert (status["imported"], status["rejected"]) == (2, 1)
    assert status["errors"] == [{"row": 2, "code": "invalid_field", "field": "row"}]
    assert set(subject_of(PHONE).consents) == {"sms:marketing", "sms:newsletter"}


def test_a_worker_killed_midway_finishes_on_the_rerun_without_double_evidence(
    context: Any, imports: Imports, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsconsent import store

    rows = "".join(
        f"+49151123456{i:02d},active,marketing,2026-06-01T10:00:00Z,written,,\n" for i in range(10)
    )
    real_commit = store.commit
    commits = {"n": 0}

    def dies_after_four(change: Any, now: Any) -> None:
        if commits["n"] == 4:
            commits["n"] += 1
            raise RuntimeError("the worker was killed")
        commits["n"] += 1
        real_commit(change, now)

    monkeypatch.setattr(store, "commit", dies_after_four)
    answer = imports.post(context, HEADER + rows)
    import_id = json.loads(answer["body"])["import_id"]
    assert imports.drain(context) == 1  # handed back once, then done
    status = imports.status(context, import_id)
    assert (status["status"], status["imported"], status["unchanged"], status["processed"]) == (
        "done",
        10,
        0,
        10,
    )
    for i in range(10):
        assert len(imported_events(f"+49151123456{i:02d}")) == 1


def test_a_chunk_delivered_twice_is_counted_once(context: Any, imports: Imports) -> None:
    from functions.import_worker.app import handler

    answer = imports.post(context, HEADER + f"{PHONE},opted_out,,,,,\n")
    import_id = json.loads(answer["body"])["import_id"]
    [message] = boto3.client("sqs").receive_message(QueueUrl=imports.queue_url)["Messages"]
    record = {"messageId": "m", "receiptHandle": "r", "body": message["Body"], "eventSource": "aws:sqs"}
    for _ in range(2):
        assert handler({"Records": [record]}, context) == {"batchItemFailures": []}
    status = imports.status(context, import_id)
    assert (status["processed"], status["imported"]) == (1, 1)
    assert len(imported_events(PHONE)) == 1


def test_an_import_racing_a_stop_never_resurrects_consent(
    context: Any, imports: Imports, outbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The STOP commits between the import's read of the number and its write: the write
    loses (conditional on the version read), the row is decided again on what is there."""
    from smsconsent import importing, store

    answer = imports.post(context, HEADER + f"{PHONE},active,marketing,2026-06-01T10:00:00Z,written,,\n")
    assert answer["statusCode"] == 202
    real = store.subjects_by_pk

    def read_then_stop(pks: list[str]) -> dict[str, Any]:
        found = real(pks)
        assert inbound(context, twilio_event("STOP", "stop-during-import"))["statusCode"] == 200
        return found

    monkeypatch.setattr(importing.store, "subjects_by_pk", read_then_stop)
    imports.drain(context)
    found = subject_of(PHONE)
    assert {r["state"] for r in found.consents.values()} == {"opted_out"}
    assert [e.type for e in store.evidence_of(found.pk)] == ["optout"]


def test_a_large_file_through_the_import_bucket(context: Any, imports: Imports) -> None:
    from functions.import_plan.app import handler

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="imports", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.put_object(Bucket="imports", Key="demo/subscribers.csv", Body=SAMPLE.read_bytes())
    event = load_event("import-object-created.json")
    event["detail"]["bucket"]["name"] = "imports"
    event["detail"]["object"]["key"] = "demo/subscribers.csv"
    [planned] = handler(event, context)["imports"]
    assert planned["status"] == "running"
    # The same event again (EventBridge delivers at least once): the same import
    assert handler(event, context)["imports"] == [planned]
    imports.drain(context)
    status = imports.status(context, planned["import_id"])
    assert (status["status"], status["imported"], status["rejected"]) == ("done", 4, 2)
    assert s3.list_objects_v2(Bucket="imports").get("KeyCount") == 0  # planned, then deleted
    # A file with an unknown column, or of another kind, is listed as failed
    s3.put_object(Bucket="imports", Key="demo/bad.csv", Body=b"phone,colour\n+4915112345678,red\n")
    event["detail"]["object"]["key"] = "demo/bad.csv"
    [bad] = handler(event, context)["imports"]
    assert bad["status"] == "failed"
    assert imports.status(context, bad["import_id"])["status"] == "failed"


def test_a_bucket_file_over_the_limit_is_refused_before_it_is_read(
    context: Any, imports: Imports, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner reads a file whole: one too big for its memory is refused from its size,
    recorded as failed and deleted, rather than crash the planner at every redelivery."""
    from functions.import_plan.app import handler
    from smsconsent import importing

    body = SAMPLE.read_bytes()
    monkeypatch.setattr(importing, "MAX_BUCKET_FILE", len(body) - 1)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="imports", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.put_object(Bucket="imports", Key="demo/huge.csv", Body=body)
    event = load_event("import-object-created.json")
    event["detail"]["bucket"]["name"] = "imports"
    event["detail"]["object"]["key"] = "demo/huge.csv"
    [refused] = handler(event, context)["imports"]
    assert (refused["status"], refused["error"]) == ("failed", "body_too_large")
    status = imports.status(context, refused["import_id"])
    assert status["status"] == "failed" and status["processed"] == 0
    assert s3.list_objects_v2(Bucket="imports").get("KeyCount") == 0
    assert handler(event, context)["imports"][0]["status"] == "failed"  # delivered again


def test_hostile_lines_are_row_errors_not_failures(context: Any, imports: Imports) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    half_pair = json.dumps({"phone": PHONE, "status": "opted_out", "reason": "\ud800"})
    body = "\n".join([deep, half_pair, json.dumps({"phone": "+4915112345679", "status": "opted_out"})]) + "\n"
    status = imports.run(context, body, "application/x-ndjson")
    assert (status["status"], status["imported"], status["rejected"]) == ("done", 1, 2)
    assert status["errors"] == [
        {"row": 1, "code": "invalid_field", "field": "row"},
        {"row": 2, "code": "invalid_field", "field": "reason"},
    ]
    huge = "x" * 200_000
    csv_body = HEADER + f'{PHONE},opted_out,,,,,\n"{huge}",opted_out,,,,,\n+4915112345679,opted_out,,,,,\n'
    status = imports.run(context, csv_body)
    assert status["status"] == "done" and status["rejected"] == 1
    assert imports.post(context, "phone,st\x00atus\n")["statusCode"] == 422


def test_a_file_without_its_header_row_never_echoes_a_number(context: Any, imports: Imports) -> None:
    # The first row taken for the header: its cells are numbers, not column names
    body = "+4915112345678,opted_out\n+4915112345679,opted_out\n"
    answer = imports.post(context, body)
    assert answer["statusCode"] == 422
    error = json.loads(answer["body"])["error"]
    assert "4915112345678" not in answer["body"]
    assert (error["code"], error["field"]) == ("invalid_field", "header")
    ndjson = imports.post(context, json.dumps({PHONE: "opted_out"}) + "\n", "application/x-ndjson")
    assert ndjson["statusCode"] == 422 and "4915112345678" not in ndjson["body"]
    # Through the bucket, the import's status keeps why for 90 days: no number in it either
    from functions.import_plan.app import handler

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="imports", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.put_object(Bucket="imports", Key="demo/headless.csv", Body=body.encode())
    event = load_event("import-object-created.json")
    event["detail"]["bucket"]["name"] = "imports"
    event["detail"]["object"]["key"] = "demo/headless.csv"
    [bad] = handler(event, context)["imports"]
    status = imports.status(context, bad["import_id"])
    assert status["status"] == "failed"
    assert "4915112345678" not in json.dumps(status)


def _chunk_body(tenant: str, import_id: str, sha256: str, index: int, phone: str) -> str:
    from smsconsent import importing

    rows: list[tuple[int, dict[str, Any]]] = [(1, {"phone": phone, "status": "opted_out"})]
    return importing.Chunk(tenant, import_id, sha256, index, rows).to_json()


def _deliver(context: Any, body: str) -> None:
    from functions.import_worker.app import handler

    record = {"messageId": "m", "receiptHandle": "r", "body": body, "eventSource": "aws:sqs"}
    assert handler({"Records": [record]}, context)["batchItemFailures"] == []


def test_a_chunk_of_no_import_of_the_tenant_applies_nothing(context: Any, imports: Imports) -> None:
    # A chunk replayed after its import expired, or forged with an id the tenant never
    # planned (another tenant's, or none): no row of it is applied
    _deliver(context, _chunk_body("demo", "imp_" + "0" * 24, "0" * 64, 0, PHONE))
    assert subject_of(PHONE) is None
    # An import of the tenant, but a chunk it never had, or of another file
    status = imports.run(context, HEADER + "+4915112345679,opted_out,,,,,\n")
    _deliver(context, _chunk_body("demo", status["import_id"], status["sha256"], 1, PHONE))
    _deliver(context, _chunk_body("demo", status["import_id"], "1" * 64, 0, PHONE))
    assert subject_of(PHONE) is None
    assert imports.status(context, status["import_id"])["processed"] == 1


def test_a_chunk_delivered_after_it_was_counted_changes_nothing(
    context: Any, imports: Imports, outbox: Any
) -> None:
    # SQS delivers at least once: a copy of a chunk done must not opt out again a number
    # that opted back in since
    from smsconsent import importing, store
    from tests.fixtures.journeys import sign_up

    sign_up(context, outbox, confirm=True)
    posted = imports.post(context, HEADER + PHONE + ",opted_out,,,,,\n")
    import_id = json.loads(posted["body"])["import_id"]
    message = boto3.client("sqs").receive_message(QueueUrl=imports.queue_url)["Messages"][0]
    _deliver(context, message["Body"])
    chunk = importing.Chunk.from_json(message["Body"])
    assert chunk.import_id == import_id
    assert subject_of(PHONE).consents["sms:marketing"]["state"] == "opted_out"
    assert inbound(context, twilio_event("START", "start-after-chunk"))["statusCode"] == 200
    found = subject_of(PHONE)
    assert found.consents["sms:marketing"]["state"] == "active"
    before = [e.type for e in store.evidence_of(found.pk)]
    _deliver(context, message["Body"])
    assert subject_of(PHONE).consents["sms:marketing"]["state"] == "active"
    assert [e.type for e in store.evidence_of(found.pk)] == before


def test_a_number_cannot_hide_in_the_consent_text(context: Any, imports: Imports) -> None:
    """consent_text is kept in evidence that is never erased: a run of digits is refused."""
    line = f"{PHONE},active,marketing,2026-06-01T10:00:00Z,written,,\n"
    header = HEADER.rstrip("\n") + ",consent_text\n"
    status = imports.run(context, header + line.rstrip("\n") + ",15551234567:1\n")
    assert status["errors"] == [{"row": 1, "code": "invalid_field", "field": "consent_text"}]
    assert imports.run(context, header + line.rstrip("\n") + ",signup-sms:1\n")["imported"] == 1


def _bucket_event(bucket: str, key: str, put: dict[str, Any]) -> dict[str, Any]:
    """The Object Created event S3 sends EventBridge for the object ``put`` answered."""
    event = load_event("import-object-created.json")
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"].update(
        key=key, etag=put["ETag"].strip('"'), **{"version-id": put.get("VersionId") or ""}
    )
    return event


def _versioned_bucket() -> Any:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="imports", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.put_bucket_versioning(Bucket="imports", VersioningConfiguration={"Status": "Enabled"})  # template.yaml
    return s3


def test_a_file_replaced_before_its_event_is_planned_as_the_version_the_event_names(
    context: Any, imports: Imports
) -> None:
    """Two uploads to one key, their events planned after both: each import is the file its
    event names (the bucket is versioned), neither is lost, nothing of either stays."""
    from functions.import_plan.app import handler

    s3 = _versioned_bucket()
    first = s3.put_object(Bucket="imports", Key="demo/list.csv", Body=HEADER + f"{PHONE},opted_out,,,,,\n")
    second = s3.put_object(
        Bucket="imports", Key="demo/list.csv", Body=HEADER + "+4915112345679,opted_out,,,,,\n"
    )
    planned = [
        handler(_bucket_event("imports", "demo/list.csv", put), context)["imports"][0]
        for put in (first, second)
    ]
    assert [p["status"] for p in planned] == ["running", "running"]
    imports.drain(context)
    import_ids = [p["import_id"] for p in planned]
    assert [e.data["import_id"] for e in imported_events(PHONE)] == import_ids[:1]
    assert [e.data["import_id"] for e in imported_events("+4915112345679")] == import_ids[1:]
    assert [imports.status(context, i)["imported"] for i in import_ids] == [1, 1]
    # Each planned version is gone at once, not kept a day behind a delete marker
    versions = s3.list_object_versions(Bucket="imports")
    assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []
    # An event delivered again finds its version gone: the same import, nothing more
    again = handler(_bucket_event("imports", "demo/list.csv", first), context)["imports"]
    assert again == [{"import_id": import_ids[0], "status": "done"}]


def test_a_file_name_with_spaces_plus_and_umlauts_is_found_from_its_encoded_key(
    context: Any, imports: Imports
) -> None:
    """S3 URL-encodes the key in its events (a space as "+"), EventBridge's as its own
    notifications (Powertools' S3EventBridgeNotificationObject decodes it so)."""
    from urllib.parse import quote_plus

    from functions.import_plan.app import handler

    s3 = _versioned_bucket()
    key = "demo/März list+1 (2).csv"
    put = s3.put_object(Bucket="imports", Key=key, Body=HEADER + f"{PHONE},opted_out,,,,,\n")
    [planned] = handler(_bucket_event("imports", quote_plus(key, safe="/"), put), context)["imports"]
    assert planned["status"] == "running"
    imports.drain(context)
    assert imports.status(context, planned["import_id"])["imported"] == 1
    # A key that is what the event says as it stands (no encoding needed) is found too
    plain = "demo/plain_list-2.csv"
    put = s3.put_object(Bucket="imports", Key=plain, Body=HEADER + "+4915112345679,opted_out,,,,,\n")
    assert handler(_bucket_event("imports", plain, put), context)["imports"][0]["status"] == "running"


def test_a_bucket_file_without_a_content_length_is_still_held_to_the_limit(
    context: Any, imports: Imports, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The size cap does not rest on the answer's Content-Length (absent from a chunked
    answer): the planner reads at most one byte past the limit."""
    from functions.import_plan.app import handler
    from smsconsent import aws, importing

    body = SAMPLE.read_bytes()
    monkeypatch.setattr(importing, "MAX_BUCKET_FILE", len(body) - 1)
    s3 = _versioned_bucket()
    put = s3.put_object(Bucket="imports", Key="demo/chunked.csv", Body=body)

    def without_length(parsed: dict[str, Any], **_: Any) -> None:
        parsed.pop("ContentLength", None)

    aws.session().register("after-call.s3.GetObject", without_length, unique_id="test-no-length")
    try:
        [refused] = handler(_bucket_event("imports", "demo/chunked.csv", put), context)["imports"]
    finally:
        aws.session().unregister("after-call.s3.GetObject", unique_id="test-no-length")
    assert (refused["status"], refused["error"]) == ("failed", "body_too_large")
    assert imports.status(context, refused["import_id"])["status"] == "failed"
    assert s3.list_object_versions(Bucket="imports").get("Versions", []) == []
