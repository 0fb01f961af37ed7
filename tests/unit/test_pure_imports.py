"""The pure rules import no storage, no HTTP layer and no AWS library: they are plain
functions over records (``smsconsent.records``), cheap to import and to test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PURE = [
    "smsconsent.consent",
    "smsconsent.evidence",
    "smsconsent.keywords",
    "smsconsent.presend.schedule",
    "smsconsent.events",
    "smsconsent.delivery_codes",
    "smsconsent.optout_list",
    "smsconsent.import_rows",
    "smsconsent.presend.rules",
    "smsconsent.sending_rules",
    "smsconsent.insights",
    "smsconsent.campaigns",
]
FORBIDDEN = [
    "smsconsent.store",
    "smsconsent.http",
    "boto3",
    "botocore",
    "pynamodb",
    "aws_lambda_powertools",
]


def _modules_after_import(module: str) -> set[str]:
    """Every module a fresh interpreter holds after importing ``module`` alone."""
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    run = subprocess.run(  # noqa: S603 - this interpreter, a fixed snippet
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'layers' / 'smsconsent'}", "PATH": ""},
    )
    return set(json.loads(run.stdout))


@pytest.mark.parametrize("module", PURE)
def test_a_pure_rule_imports_no_store_http_or_aws_library(module: str) -> None:
    loaded = _modules_after_import(module)

    heavy = sorted(m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
    assert heavy == [], f"{module} pulls in {heavy[:10]}"


def test_the_store_still_offers_the_records_it_used_to_define() -> None:
    from smsconsent import records, store

    assert store.Subject is records.Subject
    assert store.Evidence is records.Evidence
    assert store.new_subject is records.new_subject
    assert store.subject_pk is records.subject_pk
