"""The pre-send handler against the naive peer and the floor (issue 18), in one run.

``make bench`` holds the goals (0.25x the peer, 3x the floor); these bounds leave room for
a noisy machine and catch a regression: a change that made the check decide per number as
the peer does would cross them."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.perf


@pytest.mark.parametrize("mix", ["eu", "us"])
def test_presend_cpu_is_a_fraction_of_the_naive_peer_s_and_near_its_floor(
    mix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.presend_cpu import versus

    figures = versus(10_000, rounds=5, mix=mix)
    with capsys.disabled():
        print(f"\npresend versus the naive peer and the floor ({mix}): {figures}")
    # Every number answered by both (the peer knows no quiet hours: it allows them all)
    assert figures["peer_summary"] == {"allowed": 10_000, "denied": 0}
    assert sum(figures["handler_summary"].values()) == 10_000
    if mix == "eu":  # 17:00 in Germany: nothing refuses
        assert figures["handler_summary"] == {"allowed": 10_000, "denied": 0}
    assert figures["ratio_to_peer"] <= 0.20  # measured 0.106-0.112 (5 December, fourth pass)
    # The floor is a few µs, so its ratio swings most with the machine (2.8x to 3.1x seen
    # on one commit, best of 5; single rounds up to twice the best): the bound catches a
    # gross slip (the third pass's 4x would pass it), the peer's ratio a finer one
    assert figures["ratio_to_floor"] <= 6
