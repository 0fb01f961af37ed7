"""Starting the local stack: tenant files are checked before anything is served, and
``python -m local`` prints its URL and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from local.stack import StackError, read_tenants

ROOT = Path(__file__).resolve().parents[2]
DEMO = json.loads((ROOT / "local" / "tenants" / "demo.json").read_text(encoding="utf-8"))


def _write(folder: Path, name: str, doc: Any) -> None:
    (folder / name).write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")


def test_tenant_files_get_the_stack_url(tmp_path: Path) -> None:
    _write(tmp_path, "demo.json", DEMO)
    (doc,) = read_tenants(tmp_path, "http://127.0.0.1:4567")
    assert doc["id"] == "demo"
    assert doc["public_base_url"] == "http://127.0.0.1:4567"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", r"broken\.json: not JSON \(line 1, column 2\)"),
        ("[]", r"broken\.json: must hold a JSON object"),
        ({**DEMO, "min_age": "sixteen"}, r"broken\.json: field 'min_age' must be int"),
        ({**DEMO, "purposes": {}}, r"broken\.json: field 'purposes'"),
        ({**DEMO, "default_country": "Germany"}, r"broken\.json: field 'default_country'"),
    ],
)
def test_a_broken_tenant_file_is_named_with_its_field(tmp_path: Path, content: Any, expected: str) -> None:
    _write(tmp_path, "demo.json", DEMO)
    _write(tmp_path, "broken.json", content)
    with pytest.raises(StackError, match=expected):
        read_tenants(tmp_path, "http://127.0.0.1:3000")


def test_python_m_local_serves_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PORT": "0", "PYTHONUNBUFFERED": "1"}
    env.pop("DYNAMODB_ENDPOINT", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "local"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(
            r"Local stack: (http://127\.0\.0\.1:\d+) \(DynamoDB: (http://127\.0\.0\.1:\d+)\)\n", line
        )
        assert match, line
        with urllib.request.urlopen(match.group(1) + "/_local/health", timeout=10) as answer:
            assert json.load(answer) == {"status": "ok"}
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        assert "Local stack: stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
