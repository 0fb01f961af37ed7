"""The export of consents on the local stack: the sample import comes back out, as JSON and
as CSV page by page (the cursor in ``X-Next-Cursor`` passes through the stack's HTTP)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from local.stack import LocalStack
from tests.fixtures.journeys import JSON_ACCEPT, call

pytestmark = pytest.mark.usefixtures("fresh")

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "samples" / "import.csv"


def test_an_import_comes_back_out_as_json_and_csv(stack: LocalStack) -> None:
    started = call(
        stack,
        "POST",
        "/v1/demo/imports",
        data=SAMPLE.read_bytes(),
        headers={"Content-Type": "text/csv", "X-Requested-With": "t"},
    )
    assert started.status == 202, started.text
    assert stack.settle(timeout=20)
    answer = call(stack, "GET", "/v1/demo/consents?limit=10000", headers=JSON_ACCEPT)
    assert answer.status == 200, answer.text
    body = answer.json()
    assert body["cursor"] is None
    items = body["items"]
    assert {i["state"] for i in items} >= {"active", "opted_out"}
    # The same records as CSV, two per page.
    rows: list[dict[str, str]] = []
    path = "/v1/demo/consents?limit=2"
    while True:
        page = call(stack, "GET", path, headers={"Accept": "text/csv", "X-Requested-With": "t"})
        assert page.status == 200, page.text
        assert page.headers["Content-Type"].startswith("text/csv")
        rows += csv.DictReader(io.StringIO(page.text, newline=""))
        cursor = page.headers.get("X-Next-Cursor")
        if not cursor:
            break
        path = f"/v1/demo/consents?limit=2&cursor={cursor}"
    assert len(rows) == len(items)
    assert {(r["key"], r["purpose"], r["state"]) for r in rows} == {
        (i["key"], i["purpose"], i["state"]) for i in items
    }
    assert {r["phone"].removeprefix("'") for r in rows} == {i["phone"] or "" for i in items}
