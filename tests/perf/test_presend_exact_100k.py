"""The pre-send check answers exactly as the frozen oracle (``tests/fixtures/presend_v0.py``)
on 100,000 mixed inputs (issue 18), in ten requests of the API's maximum: every variant
of tenant, purpose, channel and ``record``, every send time, 40,000 distinct numbers of
many countries, about half of them stored. ``tests/integration/test_presend_exact.py``
runs the same comparison on ~28,000 inputs with every other test; this one runs with the
timing tests (``make test`` runs ``-m perf`` alone, after the rest)."""

from __future__ import annotations

import time

import pytest

from tests.fixtures import presend_exact as exact

pytestmark = [pytest.mark.slow, pytest.mark.perf]

INPUTS = 100_000
BUDGET_SECONDS = 120  # ~14 s here; a hang or a quadratic slip fails it


def test_one_hundred_thousand_mixed_inputs_answer_as_the_oracle(context, exact_dynamo):
    started = time.perf_counter()
    pop = exact.population(40_000, 100_000)
    assert exact.compare(context, exact_dynamo, pop, INPUTS, 18_100) == INPUTS
    assert time.perf_counter() - started < BUDGET_SECONDS
