"""Report how much the invariant tests exercised (steps of the state machine, race rounds)."""

from __future__ import annotations

from typing import Any

from tests.invariants.harness import STATS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for name, counts in STATS.items():
        if counts:
            terminalreporter.write_sep("-", f"invariants: {name}")
            for key, value in sorted(counts.items()):
                terminalreporter.write_line(f"{key}: {value}")
