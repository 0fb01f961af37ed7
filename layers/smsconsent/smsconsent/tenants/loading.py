"""Tenants loaded from the table and cached in the function."""

from __future__ import annotations

import time

from smsconsent.tenants.model import SLUG, Tenant

_cache: dict[str, tuple[float, Tenant | None]] = {}
_CACHE_LIMIT = 1000


def get(tenant_id: str) -> Tenant | None:
    """The tenant, from the function's cache or the table; ``None`` when unknown.

    A stored document that fails validation raises ``TenantError``: refusing every
    request is better than applying half a configuration.
    """
    if not SLUG.match(tenant_id or ""):
        return None
    from smsconsent import settings, store

    hit = _cache.get(tenant_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    doc = store.get_tenant_doc(tenant_id)
    tenant = Tenant.from_dict(doc) if doc is not None else None
    if tenant is not None and tenant.waived_rules:
        _log_waived(tenant)
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()  # random unknown slugs must not grow a warm function's memory
    _cache[tenant_id] = (time.monotonic() + settings.get().tenant_cache_seconds, tenant)
    return tenant


def clear_cache() -> None:
    _cache.clear()


def _log_waived(tenant: Tenant) -> None:
    """Once per load, never per recipient: this tenant loosens shipped sending rules."""
    from smsconsent.observability import logger

    logger.warning(
        "tenant waives shipped sending rules",
        extra={"tenant": tenant.id, "waived_rules": sorted(tenant.waived_rules)},
    )
