"""Cold-import budget: no function may import much slower than the floor every
DynamoDB-backed Python Lambda pays (``import botocore.session`` and a DynamoDB client).

Measured as ``make bench`` does (``bench.coldstart``: fresh interpreters with the
function's Lambda environment and ``sys.path``, floor and function alternating), with
fewer rounds and a generous bound so machine noise does not fail it; the bench's goal is
1.25x. A failure names the function: find the heavy import with
``python -X importtime`` and make it lazy."""

from __future__ import annotations

import pytest

from bench import coldstart

ROUNDS = 3
BOUND = 2.0

pytestmark = [pytest.mark.slow, pytest.mark.perf]


def test_every_function_imports_within_twice_the_floor() -> None:
    result = coldstart.measure(rounds=ROUNDS)

    over = {
        name: f"{figures['ratio']:.2f}x ({figures['ms']:.0f} ms)"
        for name, figures in result["functions"].items()
        if figures["ratio"] > BOUND
    }
    assert result["functions"], "template.yaml lists no functions"
    assert not over, f"cold import over {BOUND}x the floor ({result['floor']['ms']:.0f} ms): {over}"
