"""`make invoke` against the local stack: the answer on stdout and exit 0 when the stack
answers, a readable message and a failing exit when it does not."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

from local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]


def _make_invoke(port: int, function: str, event: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed command, no shell
        [
            shutil.which("make") or "make",
            "--no-print-directory",
            "invoke",
            f"PORT={port}",
            f"FUNCTION={function}",
            f"EVENT={event}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_make_invoke_fails_when_the_stack_is_not_running() -> None:
    result = _make_invoke(_free_port(), "ExpiryFunction", "events/expiry-scheduled.json")
    assert result.returncode != 0
    assert "no local stack answers at http://127.0.0.1:" in result.stderr
    assert "make run" in result.stderr


def test_make_invoke_prints_the_answer(stack: LocalStack, fresh: None) -> None:
    port = int(stack.url.rsplit(":", 1)[1])
    result = _make_invoke(port, "PresendFunction:tenant-demo", "events/presend-direct.json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["denied"] == 5
    # A refusal by the local stack itself (no such function) fails too, with its JSON shown.
    missing = _make_invoke(port, "NoSuchFunction", "events/presend-direct.json")
    assert missing.returncode != 0
    assert json.loads(missing.stdout)["error"]["code"] == "unknown_function"
