"""Recipients as numbers: E.164-shaped ones taken as written until needed, the rest
normalised with the tenant's default country. Parsing is the dearest thing the check
does: its results are cached in the function."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from smsconsent import phone
from smsconsent.presend import schedule

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
    found = _stored_zones(stored) if stored and len(stored) <= _LONGEST_STORED else None
    return found or _zones(e164)


# ``stored_zones`` of the number with the most zones is ~700 characters.
_LONGEST_STORED = 2048


@lru_cache(maxsize=1024)
def _stored_zones(stored: str) -> tuple[str, ...] | None:
    """The zones an item keeps, or None to work them out from the number: when another
    release wrote them, when there are none (``stored_zones`` of a number placed nowhere,
    rare: the number says so as cheaply), and when any name is no zone of the time zone
    database. A malformed value must neither fail the whole request (``_zones_named``
    raises when no name is known) nor judge quiet hours in UTC or in only some of the
    names. Cached: a tenant's items hold a handful of distinct values."""
    found = phone.zones_from_stored(stored)
    if not found or len(found) > _MOST_ZONES or not all(schedule._zone(name) is not None for name in found):
        return None
    return found


_MOST_ZONES = 64  # a number of +1 that phonenumbers places nowhere in particular has 42


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
