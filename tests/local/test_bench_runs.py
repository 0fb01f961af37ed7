"""``make bench`` runs whole, at small sizes (``python -m bench --smoke``): a section that no
longer runs (a stub that stopped answering what the code now asks, say) is seen here, not
at the next full run. Cold import has its own test (tests/perf); the figures are not
judged here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_every_bench_section_runs() -> None:
    # A shell's environment, not the tests' (fake credentials, tables and queues of their own)
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    ran = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
    assert "smoke run" in ran.stdout
    for section in ("Consent events", "Imports", "Export of consents", "Costs"):
        assert section in ran.stdout
    assert "FAILED" not in ran.stdout
