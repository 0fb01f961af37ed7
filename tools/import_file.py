"""`make import FILE=subscribers.csv TENANT=demo`: import a file into the running local
stack and show its progress until it is done.

A file of up to 5 MB goes through the API (`POST /v1/{tenant}/imports`), as a sending
system or CRM would send it; a larger one through the stack's import bucket, as in AWS. The
progress bar polls `GET /v1/{tenant}/imports/{id}`; the summary and the first row errors
are printed at the end, and the exit status is 0 when the import is done."""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

MAX_API_BYTES = 5 * 1024 * 1024
_TYPES = {".csv": "text/csv", ".ndjson": "application/x-ndjson", ".jsonl": "application/x-ndjson"}


def _call(url: str, data: bytes | None = None, content_type: str | None = None) -> tuple[int, Any]:
    headers = {"Accept": "application/json", "X-Requested-With": "make-import"}
    if content_type:
        headers["Content-Type"] = content_type
    method = "POST" if data is not None else "GET"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310 - the local stack's URL
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read() or b"{}")


def _bar(status: dict[str, Any], width: int = 40) -> str:
    rows = max(int(status.get("rows") or 0), 1)
    done = int(status.get("processed") or 0)
    filled = int(width * done / rows)
    return (
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{rows} rows"
        f"  imported {status['imported']}  unchanged {status['unchanged']}  rejected {status['rejected']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args(argv)
    content_type = _TYPES.get(args.file.suffix.lower())
    if content_type is None:
        print("make import: the file must end in .csv or .ndjson", file=sys.stderr)
        return 2
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"make import: {exc}", file=sys.stderr)
        return 2
    base = args.url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        print("make import: --url must be http:// or https://", file=sys.stderr)
        return 2
    try:
        if len(data) <= MAX_API_BYTES:
            code, answer = _call(f"{base}/v1/{args.tenant}/imports", data, content_type)
        else:
            code, answer = _call(
                f"{base}/_local/import-bucket/{args.tenant}/{quote(args.file.name)}", data, content_type
            )
            planned = (answer.get("imports") or [{}])[0] if code == 202 else {}
            answer = planned if planned.get("import_id") else answer
    except urllib.error.URLError:
        print(f"make import: no local stack answers at {base}: start it with make run", file=sys.stderr)
        return 1
    if code != 202 or "import_id" not in answer:
        print(f"make import: refused ({code}): {json.dumps(answer)}", file=sys.stderr)
        return 1
    status_url = f"{base}/v1/{args.tenant}/imports/{answer['import_id']}"
    print(f"import {answer['import_id']}: {status_url}", file=sys.stderr)
    deadline = time.monotonic() + args.timeout
    while True:
        _, status = _call(status_url)
        print(_bar(status), end="", file=sys.stderr, flush=True)
        if status.get("status") != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print(file=sys.stderr)
    for error in status.get("errors", [])[:20]:
        print(f"  row {error['row']}: {error['code']} ({error['field']})", file=sys.stderr)
    print(json.dumps({k: v for k, v in status.items() if k != "errors"}))
    return 0 if status.get("status") == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
