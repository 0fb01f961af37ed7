"""Campaign ids as kept where nothing is erased: their labels (pure).

A campaign id is the sending system's free text, and senders put people in it
("winback-jane@example.com", "reminder-+447700900123"). What leaves the erasable part
(insights items and the campaign alarm's log, consent events sent to CRMs and the bus,
the non-personal ``data`` of evidence) is the id's label: each email address becomes
``[email]`` and each phone-number-like run of digits ``[number]``. The raw id stays only
where it is erased with the person: the subject's ``last_campaign`` and the ``pii`` of an
evidence event (``evidence_parts``).

A run of digits is phone-number-like from ``MIN_DIGITS`` digits on, whatever stands between
them (spaces, dots, dashes, slashes, parentheses, up to three in a row) and whatever the
script of the digits; a leading ``+`` or ``(`` goes with it. A date on its own
(``2026-12-04``, ``04.12.2026``, ``12/04/2026``, ``20261204``) is kept; short codes
(``q4-2026``, ``promo7``) have too few digits to be touched. This is a regex on purpose, not
phonenumbers' matcher: that one needs the number's region for a national number
("07700 900123") and passes over a number glued to letters ("tel07700900123"). It errs on
the side of the person: an order number of seven digits is a ``[number]`` too.

Before matching, the id is NFKC-normalised (fullwidth digits and at signs become plain ones),
invisible format characters (zero-width spaces, bidi controls) are dropped, so they cannot
split a number, and control characters become spaces. Labels are idempotent:
``label(label(x)) == label(x)``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

EMAIL = "[email]"
NUMBER = "[number]"
MIN_DIGITS = 7  # the shortest run taken for a phone number (a local number without area code)
MAX_LABEL = 100  # characters, as the pre-send check takes a campaign
_MAX_INPUT = 1000  # read at most this much of an id (the pre-send check takes 100)

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*")
# What may stand between a number's digits: whitespace, dots, dashes of every kind, slashes,
# parentheses, the middle dot and the underscore.
_SEP = r"[\s.\-/()\u00b7\u2010-\u2015\u2212_]"
_RUN = re.compile(rf"[+(]{{0,3}}\d(?:{_SEP}{{0,3}}\d)*")
# Longer alternatives first, and no digit on either side: "2026-11-22" is not "2026-11-2".
_MONTH = r"(?:1[0-2]|0?[1-9])"
_DAY = r"(?:3[01]|[12]\d|0?[1-9])"
_DATE = re.compile(
    r"(?<!\d)(?:"
    rf"(?:19|20)\d\d(?P<a>[-./]){_MONTH}(?P=a){_DAY}"  # 2026-12-04
    rf"|{_DAY}(?P<b>[-./]){_MONTH}(?P=b)(?:19|20)\d\d"  # 04.12.2026
    rf"|{_MONTH}/{_DAY}/(?:19|20)\d\d"  # 12/04/2026
    r"|20\d\d(?:1[0-2]|0[1-9])(?:3[01]|[12]\d|0[1-9])"  # 20261204
    r")(?!\d)",
    re.ASCII,
)
_SEP_CHAR = re.compile(_SEP)
_TIME = re.compile(r"\d{1,2}[:h]\d\d", re.ASCII)
_SPACES = re.compile(r"\s+")


def _clean(text: str) -> str:
    """Lone surrogates as "?" (no UTF-8 for them), NFKC, format characters dropped, other
    control and separator characters as spaces, whitespace runs as one space."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = unicodedata.normalize("NFKC", text)
    kept = []
    for char in text:
        kind = unicodedata.category(char)
        if kind == "Cf":
            continue
        kept.append(" " if kind in ("Cc", "Zl", "Zp") else char)
    return _SPACES.sub(" ", "".join(kept)).strip()


def _is_sep(char: str) -> bool:
    return _SEP_CHAR.fullmatch(char) is not None


def _is_date(text: str, start: int, end: int) -> bool:
    """``text[start:end]``, a date, stands on its own rather than inside a longer run of
    digits: nothing but a time may follow it (``2026-12-04 10:00``; ``2026-12-04-12`` is
    also a US number), and at most a two-digit group glued to letters may stand before it
    (``q4-2026-12-04``; ``+44 2026-12-04`` is a number)."""
    i, seps = start, 0
    while i > 0 and seps < 4 and _is_sep(text[i - 1]):
        i, seps = i - 1, seps + 1
    if i > 0 and (text[i - 1].isdigit() or text[i - 1] in "+(") and seps < 4:
        j, digits = i, 0
        while j > 0 and (text[j - 1].isdigit() or text[j - 1] in "+(" or _is_sep(text[j - 1])):
            digits += text[j - 1].isdigit()
            j -= 1
        if digits > 2 or j == 0 or not text[j - 1].isalpha():
            return False
    k, seps = end, 0
    while k < len(text) and seps < 4 and _is_sep(text[k]):
        k, seps = k + 1, seps + 1
    if k < len(text) and (text[k].isdigit() or text[k] in "+(") and seps < 4:
        return seps > 0 and _TIME.match(text, k) is not None
    return True


def _number(match: re.Match[str]) -> str:
    digits = sum(c.isdigit() for c in match.group())
    return NUMBER if digits >= MIN_DIGITS else match.group()


def _numbers(text: str) -> str:
    """Each phone-number-like run of digits in ``text`` as ``[number]``; dates standing on
    their own are kept, and what is around them judged apart."""
    out, at = [], 0
    for date in _DATE.finditer(text):
        if date.start() >= at and _is_date(text, *date.span()):
            out += [_RUN.sub(_number, text[at : date.start()]), date.group()]
            at = date.end()
    out.append(_RUN.sub(_number, text[at:]))
    return "".join(out)


def label(campaign_id: str) -> str:
    """The campaign id without email addresses or phone numbers, at most ``MAX_LABEL``
    characters (see the module's docstring)."""
    text = _clean(campaign_id[:_MAX_INPUT])
    text = _EMAIL.sub(EMAIL, text)
    return _numbers(text)[:MAX_LABEL]


def label_of(value: Any) -> str | None:
    """The label of a campaign id held anywhere (None: no campaign, or nothing left of it)."""
    return (label(value) or None) if isinstance(value, str) and value else None


def evidence_parts(campaign_id: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(data, pii)`` of an evidence event about ``campaign_id``: the label in ``data``, the
    raw id in ``pii`` (erased with the person) when it differs from its label."""
    name = label_of(campaign_id)
    pii = {"campaign": campaign_id} if campaign_id and campaign_id != name else {}
    return {"campaign": name}, pii
