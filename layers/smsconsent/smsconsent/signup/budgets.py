"""SMS-pumping budgets of signups: per IP (valid and refused apart), per number, number
prefix and country. Every valid signup counts the same, whatever the number's state."""

from __future__ import annotations

from datetime import datetime, timedelta

from smsconsent import errors, keys, metrics, phone, store
from smsconsent.tenants import Tenant

# Refused signups (typos, missing consent) one IP may make per valid one of its budget.
REFUSED_PER_VALID = 10


def check_ip_budget(tenant: Tenant, ip: str, now: datetime) -> None:
    """The per-IP budget of valid signups (those that can cost an SMS): a typo, refused
    (``errors.Invalid``), never uses it up (see ``check_refused_budget``)."""
    _check_ip(tenant, "ip", ip, tenant.signups_per_ip_per_hour, now)


def check_refused_budget(tenant: Tenant, ip: str, now: datetime) -> None:
    """A separate per-IP budget for refused signups, ``REFUSED_PER_VALID`` times the valid
    one: a refusal costs no SMS, but a flood of garbage from one address still runs dry."""
    _check_ip(tenant, "ip-refused", ip, tenant.signups_per_ip_per_hour * REFUSED_PER_VALID, now)


def _check_ip(tenant: Tenant, scope: str, ip: str, budget: int, now: datetime) -> None:
    hour = timedelta(hours=1)
    ip_key = keys.keyed_digest(ip.encode())[:32]  # the raw IP never becomes a key
    if store.count_hit(f"{tenant.id}#{scope}#{ip_key}", hour, now) > budget:
        metrics.count("SignupRateLimited", scope=scope)
        raise _rate_limited(store.window_end(hour, now), now)


def check_number_budgets(tenant: Tenant, number: phone.Phone, now: datetime) -> None:
    """SMS-pumping defence: hourly budgets per number prefix (the number less its last four
    digits) and per country, and a daily one per number. They count every valid signup,
    whether or not it leads to an SMS, so being over one never tells whether a number is known."""
    hour, day = timedelta(hours=1), timedelta(days=1)
    by_number = _number_key(tenant, number)
    by_prefix = keys.counter_key(tenant.id, number.e164[:-4])
    country_budget = tenant.sms_per_country_per_hour.get(
        number.region, tenant.sms_per_country_per_hour["default"]
    )
    for scope, key, window, budget in (
        ("number", f"{tenant.id}#num#{by_number}", day, tenant.sms_per_number_per_day),
        ("prefix", f"{tenant.id}#prefix#{by_prefix}", hour, tenant.sms_per_prefix_per_hour),
        ("country", f"{tenant.id}#country#{number.region}", hour, country_budget),
    ):
        if store.count_hit(key, window, now) > budget:
            metrics.count("SignupRateLimited", scope=scope, country=number.region)
            raise _rate_limited(store.window_end(window, now), now)


def _number_key(tenant: Tenant, number: phone.Phone) -> str:
    """The number in keys of counters: keyed, never the number itself."""
    return keys.counter_key(tenant.id, number.e164)


def _rate_limited(until: datetime, now: datetime) -> errors.RateLimited:
    seconds = max(1, int((until - now).total_seconds()))
    return errors.RateLimited("too many signups, try again later", seconds)
