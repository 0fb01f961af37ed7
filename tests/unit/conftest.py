"""Fixtures for the pure unit tests: the demo tenant and a pepper in the environment.

Nothing here touches DynamoDB or the network."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from smsconsent import keys, settings
from smsconsent.tenants import Tenant

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILE = ROOT / "local" / "tenants" / "demo.json"
_DEMO_DOC: dict[str, Any] = json.loads(DEMO_FILE.read_text(encoding="utf-8"))

PEPPER_V1 = "v1-pepper-0123456789abcdef"
PEPPER_V2 = "v2-pepper-fedcba9876543210"
T0 = datetime(2025, 3, 3, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def demo_doc() -> dict[str, Any]:
    """A fresh deep copy of ``local/tenants/demo.json`` (tests may change it)."""
    return copy.deepcopy(_DEMO_DOC)


@pytest.fixture
def demo() -> Tenant:
    return Tenant.from_dict(copy.deepcopy(_DEMO_DOC))


class PepperEnv:
    """Sets ``PEPPER_JSON`` and forgets every cache that read it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch

    def use(self, doc: dict[str, str]) -> None:
        self._monkeypatch.setenv("PEPPER_JSON", json.dumps(doc))
        self._monkeypatch.delenv("PEPPER_SECRET_ARN", raising=False)
        settings.reset()
        keys.reset()


@pytest.fixture
def pepper(monkeypatch: pytest.MonkeyPatch) -> Iterator[PepperEnv]:
    """A pepper with only ``v1`` current; ``pepper.use({...})`` switches to another one.
    The environment and the caches are restored afterwards."""
    env = PepperEnv(monkeypatch)
    env.use({"current": "v1", "v1": PEPPER_V1})
    yield env
    monkeypatch.undo()
    settings.reset()
    keys.reset()
