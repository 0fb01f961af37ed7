"""Hostile-input tests: a line in the summary counting the cases tried."""

from __future__ import annotations

import os
from typing import Any

from tests.hostile.support import SEEN, TRIED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TRIED:
        parts = ", ".join(f"{name} {count}" for name, count in sorted(TRIED.items()))
        terminalreporter.write_line(f"hostile cases tried: {sum(TRIED.values())} ({parts})")
    if SEEN and os.environ.get("HOSTILE_SHOW_ANSWERS"):
        for key, count in sorted(SEEN.items()):
            terminalreporter.write_line(f"  {key}: {count}")
