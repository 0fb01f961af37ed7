"""SMS providers that deliver inbound messages by webhook: one module each, with
``NAME``, ``INLINE_REPLY``, ``verify(hook, conf, now)``, ``parse(hook)`` and ``respond(reply)``.
Modules are imported on first use so a function pays only for the provider it serves."""

from __future__ import annotations

import importlib
from types import ModuleType

from smsconsent.tenants.schema import PROVIDERS

NAMES = PROVIDERS  # one list: the tenant schema names each provider with the settings it reads


def get(name: str) -> ModuleType | None:
    if name not in NAMES:
        return None
    return importlib.import_module(f"smsconsent.providers.{name}")
