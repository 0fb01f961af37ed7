"""Inbound keywords: what an SMS reply means.

Matching (SPEC: Keywords): trim, strip punctuation and diacritics, case-fold; the
whole message is a keyword, or its first word is an opt-out keyword ("Stop please",
"STOPP!"). Plain-language opt-outs ("please don't text me") are honoured too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

OPTOUT, OPTIN, YES, HELP = "optout", "optin", "yes", "help"

DEFAULT_OPTOUT = [
    "STOP",
    "STOPALL",
    "STOPP",
    "STOPPEN",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "OPT-OUT",
    "REMOVE",
    "TD",
    "ARRET",
    "ARRETE",
    "ABMELDEN",
    "ABBESTELLEN",
    "AFMELDEN",
    "ALTO",
    "BAJA",
    "CANCELLA",
    "PARAR",
    "SAIR",
]
DEFAULT_OPTIN = ("START", "UNSTOP")
DEFAULT_YES = ("YES", "JA", "OUI", "SI")
DEFAULT_HELP = ("HELP", "INFO", "HILFE", "AIDE", "AYUDA")
# Phrases people write instead of a keyword, matched anywhere in the normalised message.
PLAIN_OPTOUTS = (
    "dont text me",
    "do not text me",
    "dont message me",
    "do not message me",
    "stop texting",
    "stop messaging",
    "stop sending",
    "no more texts",
    "no more messages",
    "remove me",
    "take me off",
    "unsubscribe me",
    "wrong number",
    "not interested",
    "leave me alone",
    "keine sms mehr",
    "keine nachrichten mehr",
    "nicht mehr schreiben",
    "bitte keine sms",
    "falsche nummer",
    "austragen",
    "nicht mehr kontaktieren",
    "ne plus menvoyer",
    "plus de sms",
    "desinscrire",
    "mauvais numero",
    "no mas mensajes",
    "no me escribas",
    "numero equivocado",
    "geen sms meer",
    "verkeerd nummer",
    "niet meer sturen",
)
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")


def normalise(text: str, punctuation: str = "") -> str:
    """Case-folded, without diacritics, single-spaced; punctuation replaced by
    ``punctuation`` (dropped by default: "OPT-OUT" is "optout")."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACE.sub(" ", _PUNCT.sub(punctuation, plain.casefold().replace("_", " "))).strip()


def _words(words: Iterable[str]) -> frozenset[str]:
    return frozenset(normalise(w) for w in words if normalise(w))


def _canonical(words: Iterable[str]) -> dict[str, str]:
    """Normalised form -> the word as listed, upper case (the first listed wins)."""
    found: dict[str, str] = {}
    for word in words:
        found.setdefault(normalise(word), word.strip().upper())
    found.pop("", None)
    return found


_DEFAULTS = {
    OPTOUT: _words(DEFAULT_OPTOUT),
    OPTIN: _words(DEFAULT_OPTIN),
    YES: _words(DEFAULT_YES),
    HELP: _words(DEFAULT_HELP),
}
_PLAIN = tuple(normalise(p) for p in PLAIN_OPTOUTS)


def keyword_of(text: str, extra: dict[str, tuple[str, ...]] | None = None) -> str | None:
    """The known keyword ``text`` matched (the default lists' or the tenant's ``extra``),
    as listed, upper case: what evidence may keep of an inbound message outside its
    personal part. None for a plain-language message ("015112345678 wrong number"), whose
    words are the sender's own (its text stays in the erasable part only)."""
    extra = extra or {}
    message = normalise(text)
    if not message:
        return None
    first = message.split(" ", 1)[0]
    first_word = normalise(text, " ").split(" ", 1)[0]
    optout = _canonical([*DEFAULT_OPTOUT, *extra.get(OPTOUT, ())])
    for candidate in (message, message.replace(" ", ""), first, first_word):
        if candidate in optout:
            return optout[candidate]
    for words in (
        [*DEFAULT_OPTIN, *extra.get(OPTIN, ())],
        DEFAULT_YES,
        [*DEFAULT_HELP, *extra.get(HELP, ())],
    ):
        whole = _canonical(words).get(message)
        if whole:
            return whole
    return None


def classify(text: str, extra: dict[str, tuple[str, ...]] | None = None) -> str | None:
    """``optout``, ``optin``, ``yes``, ``help`` or None; ``extra`` adds a tenant's own
    words per kind (``optout``, ``optin``, ``help``)."""
    extra = extra or {}
    message = normalise(text)
    if not message:
        return None
    optout = _DEFAULTS[OPTOUT] | _words(extra.get(OPTOUT, ()))
    first = message.split(" ", 1)[0]
    # The first word also as punctuation ends it ("STOP,bitte", "Stop-please").
    first_word = normalise(text, " ").split(" ", 1)[0]
    # "OPT-OUT" loses its hyphen in normalisation: compare both the message and its first word.
    if message in optout or message.replace(" ", "") in optout or first in optout or first_word in optout:
        return OPTOUT
    if message in _DEFAULTS[OPTIN] | _words(extra.get(OPTIN, ())):
        return OPTIN
    if message in _DEFAULTS[YES]:
        return YES
    if message in _DEFAULTS[HELP] | _words(extra.get(HELP, ())):
        return HELP
    padded = f" {message} "
    if any(f" {phrase} " in padded for phrase in _PLAIN):
        return OPTOUT
    return None
