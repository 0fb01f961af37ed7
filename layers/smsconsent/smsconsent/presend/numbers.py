"""Recipients as numbers: E.164-shaped ones taken as written until needed, the rest
normalised with the tenant's default country. Parsing is the dearest thing the check
does: its results are cached in the function."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from smsconsent import phone

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def _normalised(raw: str, country: str) -> tuple[str, str] | None:
    """(E.164, region), or None when ``raw`` is no valid number."""
    if len(raw) > 40:
        return None  # no number is that long; and the cache must not keep huge strings
    return _normalised_cached(raw, country)


@lru_cache(maxsize=65_536)
def _normalised_cached(raw: str, country: str) -> tuple[str, str] | None:
    """Cached: parsing is the dearest thing the check does."""
    try:
        number = phone.normalise(raw, country)
    except phone.PhoneError:
        return None
    return number.e164, number.region


@lru_cache(maxsize=65_536)
def _zones(e164: str) -> tuple[str, ...]:
    return phone.time_zones(e164)


def _zones_of(e164: str, stored: str | None) -> tuple[str, ...]:
    """The number's time zones: as its subject's item keeps them (the same number: its key
    is the number's HMAC), else worked out."""
    found = phone.zones_from_stored(stored) if stored else None
    return found if found is not None else _zones(e164)


@dataclass(slots=True)
class _Number:
    e164: str | None  # None: invalid
    region: str | None  # None: not checked yet
    checked: bool  # validated by phonenumbers (False: E.164-shaped, taken as written so far)


def _number(raw: str, country: str) -> _Number:
    # Already E.164 (what sending systems send): hashed as written. It is validated only
    # when no subject turns up: a subject exists only under a number phonenumbers
    # normalised, and it remembers its region.
    if _E164.fullmatch(raw):
        return _Number(raw, None, False)
    found = _normalised(raw, country)
    return _Number(found[0], found[1], True) if found else _Number(None, None, True)
