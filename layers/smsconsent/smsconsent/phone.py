"""Phone numbers: the only module that imports phonenumbers."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import phonenumbers
from phonenumbers import PhoneNumberType

# Types that can receive an SMS. FIXED_LINE_OR_MOBILE is what phonenumbers says for
# countries whose plans do not tell the two apart (US, CA, ...): accepted.
_SMS_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_MAX_INPUT = 40


class PhoneError(ValueError):
    """``code`` is ``invalid_phone`` or ``not_mobile``."""

    def __init__(self, code: Literal["invalid_phone", "not_mobile"], message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Phone:
    e164: str
    region: str  # ISO 3166 alpha-2, e.g. "DE"


def parse(raw: str, region_hint: str | None = None) -> phonenumbers.PhoneNumber:
    """Parse any common format into a valid number, or raise ``PhoneError``."""
    text = (raw or "").strip()
    if not text or len(text) > _MAX_INPUT:
        raise PhoneError("invalid_phone", "phone is empty or too long")
    # "0049..." and "+49..." both mean international; phonenumbers knows "00" per region.
    try:
        number = phonenumbers.parse(text, (region_hint or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError("invalid_phone", "phone is not a recognisable number") from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneError("invalid_phone", "phone is not a valid number")
    return number


def normalise(raw: str, region_hint: str | None = None) -> Phone:
    """A valid number in E.164 with its region; any type."""
    number = parse(raw, region_hint)
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(number) or "ZZ",
    )


def normalise_mobile(raw: str, region_hint: str | None = None) -> Phone:
    """A valid number that can receive SMS, or ``PhoneError('not_mobile')``."""
    number = parse(raw, region_hint)
    if phonenumbers.number_type(number) not in _SMS_TYPES:
        raise PhoneError("not_mobile", "phone cannot receive SMS (landline, toll-free, premium-rate, ...)")
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(number) or "ZZ",
    )


def time_zones(e164: str) -> tuple[str, ...]:
    """IANA zones the number may be in (several for large countries); empty if unknown.
    ``e164`` must be a number in E.164 (``normalise`` made it)."""
    # Most calling codes map every number to the same zones: answer those from the code
    # alone, without parsing the number (the pre-send check asks for thousands at once).
    code = next((e164[1:n] for n in (2, 3, 4) if e164[1:n] in _CALLING_CODES), None)
    if code is None:
        return ()
    uniform = _uniform_zones(code)
    if uniform is not None:
        return uniform
    from phonenumbers import timezone  # lazy: its data is only needed by the pre-send check

    national = e164[1 + len(code) :]
    if national[:1] in ("", "0"):  # a leading zero (Italy) is phonenumbers' to read
        number = phonenumbers.parse(e164)
    else:  # what parse() makes of E.164, without its ~16 µs of normalising
        number = phonenumbers.PhoneNumber(country_code=int(code), national_number=int(national))
    zones = timezone.time_zones_for_number(number)
    return tuple(z for z in zones if z != "Etc/Unknown")


# The stored form of ``time_zones`` (``stored_zones``) names what made it: this code's way
# of working zones out (``z1``: bump it when ``time_zones`` changes) and the phonenumbers
# release, whose data may move a prefix to another zone. Made by anything else, a stored
# value no longer counts and the zones are worked out again.
_ZONES_SOURCE = f"z1.pn{phonenumbers.__version__}"


def stored_zones(e164: str) -> str:
    """``time_zones(e164)`` as kept in a subject's item, for the pre-send check."""
    return f"{_ZONES_SOURCE}|{' '.join(time_zones(e164))}"


def zones_from_stored(text: str) -> tuple[str, ...] | None:
    """What ``stored_zones`` kept; None when another phonenumbers release made it."""
    source, _, names = text.partition("|")
    if source != _ZONES_SOURCE:
        return None
    return tuple(names.split()) if names else ()


_CALLING_CODES = frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@functools.cache
def _uniform_zones(code: str) -> tuple[str, ...] | None:
    """The zones of every number with this calling code, or None when they differ."""
    from phonenumbers.timezone import TIMEZONE_DATA  # type: ignore[attr-defined]

    lists = {zones for prefix, zones in TIMEZONE_DATA.items() if prefix.startswith(code)}
    if len(lists) != 1 or code not in TIMEZONE_DATA:
        return None
    return tuple(z for z in TIMEZONE_DATA[code] if z != "Etc/Unknown")


def us_state(e164: str) -> str | None:
    """The US state presumed from a +1 number's area code ("FL"), as state laws presume it;
    None when the area code is no single state's (Canada, the Caribbean, territories,
    non-geographic codes). ``e164`` must be a number of region US in E.164. Read from
    ``us_area_codes.txt``, generated from phonenumbers' geocoding data by
    ``tools/gen_us_area_codes.py``: the geocoder itself is not shipped."""
    return _us_area_codes().get(e164[2:5]) if e164.startswith("+1") else None


@functools.cache
def _us_area_codes() -> dict[str, str]:
    table: dict[str, str] = {}
    for line in Path(__file__).with_name("us_area_codes.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            state, *codes = line.split()
            table.update(dict.fromkeys(codes, state))
    return table


def country_name(region: str, language: str) -> str:
    """The country's name in ``language`` (``en`` or ``de``; English for any other), for
    people: "Deutschland" for ``DE``. The code itself when the table has none. Read from
    ``country_names.tsv``, generated from Debian's iso-codes by ``tools/gen_country_names.py``."""
    names = _country_names().get(region.upper())
    if names is None:
        return region
    return names[1] if language == "de" else names[0]


@functools.cache
def _country_names() -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    for line in Path(__file__).with_name("country_names.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, english, german = line.split("\t")
            table[code] = (english, german)
    return table
