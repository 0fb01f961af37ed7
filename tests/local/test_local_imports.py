"""Imports on the local stack: through the API (what `make import` does up to 5 MB) and
through the import bucket (moto's S3, beyond), the same chunk worker in-process, and
`make import` itself with its progress and exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from local.stack import LocalStack
from tests.fixtures.journeys import JSON_ACCEPT, call

pytestmark = pytest.mark.usefixtures("fresh")

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "samples" / "import.csv"


def wait_done(stack: LocalStack, import_id: str) -> dict[str, object]:
    assert stack.settle(timeout=20)
    answer = call(stack, "GET", f"/v1/demo/imports/{import_id}", headers=JSON_ACCEPT)
    assert answer.status == 200, answer.text
    status: dict[str, object] = answer.json()
    return status


def test_the_sample_through_the_api_and_the_bucket(stack: LocalStack) -> None:
    started = call(
        stack,
        "POST",
        "/v1/demo/imports",
        data=SAMPLE.read_bytes(),
        headers={"Content-Type": "text/csv", "X-Requested-With": "t"},
    )
    assert started.status == 202, started.text
    status = wait_done(stack, started.json()["import_id"])
    assert (status["status"], status["imported"], status["rejected"]) == ("done", 4, 2)
    # The same file through the bucket: all unchanged the second time
    planned = call(
        stack,
        "POST",
        "/_local/import-bucket/demo/again.csv",
        data=SAMPLE.read_bytes(),
        headers={"X-Requested-With": "t"},
    )
    assert planned.status == 202, planned.text
    [entry] = planned.json()["imports"]
    again = wait_done(stack, entry["import_id"])
    assert (again["status"], again["imported"], again["unchanged"], again["rejected"]) == ("done", 0, 4, 2)
    listed = call(stack, "GET", "/v1/demo/imports", headers=JSON_ACCEPT).json()["imports"]
    assert {i["import_id"] for i in listed} == {started.json()["import_id"], entry["import_id"]}
    assert call(stack, "GET", "/_local/outbox", headers=JSON_ACCEPT).json() == {"messages": []}


def test_a_file_over_the_apis_limit_goes_through_the_bucket(stack: LocalStack) -> None:
    """The bucket stands for S3, not the API: 10 MB is API Gateway's limit, not its. (An
    unknown column, so the planner refuses it at once instead of importing 11 MB here.)"""
    body = ("phone,colour\n" + "+4915112345678,red\n" * (11 * 1024 * 1024 // 19)).encode()
    assert len(body) > 10 * 1024 * 1024
    planned = call(
        stack, "POST", "/_local/import-bucket/demo/big.csv", data=body, headers={"X-Requested-With": "t"}
    )
    assert planned.status == 202, planned.text[:300]
    [entry] = planned.json()["imports"]
    assert (entry["status"], entry["error"]) == ("failed", "invalid_field")


def test_a_file_name_as_people_write_it_goes_through_the_bucket(stack: LocalStack) -> None:
    """A space, a plus, an umlaut: the local bucket takes the name as S3 does, versioned, and
    its event names the key URL-encoded as S3's do, so the planner reads it as in AWS."""
    from urllib.parse import quote

    name = "März list+1 (2).csv"
    planned = call(
        stack,
        "POST",
        f"/_local/import-bucket/demo/{quote(name)}",
        data=SAMPLE.read_bytes(),
        headers={"X-Requested-With": "t"},
    )
    assert planned.status == 202, planned.text
    [entry] = planned.json()["imports"]
    assert entry["status"] == "running", entry
    assert wait_done(stack, entry["import_id"])["status"] == "done"
    # Names that could leave the tenant's folder or hide in a log are still refused
    for bad in ("..", "a%2Fb.csv", "a%0Ab.csv", ""):
        refused = call(
            stack, "POST", f"/_local/import-bucket/demo/{bad}", data=b"x", headers={"X-Requested-With": "t"}
        )
        assert refused.status in (404, 422), (bad, refused.status)


def test_make_import_shows_progress_and_exits_0_when_done(stack: LocalStack) -> None:
    run = subprocess.run(  # noqa: S603 - this interpreter, our own tool
        [sys.executable, "-m", "tools.import_file", str(SAMPLE), "--tenant", "demo", "--url", stack.url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert (summary["status"], summary["rows"], summary["imported"]) == ("done", 6, 4)
    assert "6/6 rows" in run.stderr and "row 5: not_mobile (phone)" in run.stderr
    refused = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tools.import_file", str(ROOT / "README.md"), "--url", stack.url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2 and ".csv or .ndjson" in refused.stderr


def test_the_demo_page_links_to_the_imports(stack: LocalStack) -> None:
    page = call(stack, "GET", "/", headers={"Accept": "text/html"})
    assert page.status == 200
    assert 'href="/v1/demo/imports"' in page.text and 'href="/_local/provider-optouts"' in page.text
