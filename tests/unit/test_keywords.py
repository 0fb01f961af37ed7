"""Inbound keywords: normalisation, every default in every language, first-word opt-out,
plain-language opt-outs and tenant additions."""

from __future__ import annotations

import pytest

from smsconsent import keywords
from smsconsent.keywords import HELP, OPTIN, OPTOUT, YES, classify, normalise


@pytest.mark.parametrize("word", keywords.DEFAULT_OPTOUT)
def test_every_default_opt_out_keyword_in_any_case_and_punctuation(word):
    for text in (word, word.lower(), f"  {word.title()}!  ", f"{word}."):
        assert classify(text) == OPTOUT, text


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Stop please", OPTOUT),
        ("STOPP!", OPTOUT),
        ("arrêt", OPTOUT),
        ("Arrête", OPTOUT),
        ("opt out", OPTOUT),
        ("Opt-Out", OPTOUT),
        ("cancel my order", OPTOUT),  # first word: carriers treat it as an opt-out too
        ("STOP,bitte", OPTOUT),  # punctuation ends the first word
        ("STOP!!!thanks", OPTOUT),
        ("Stop-please", OPTOUT),
        ("Baja.Gracias", OPTOUT),
        ("START", OPTIN),
        ("unstop", OPTIN),
        ("yes", YES),
        ("Ja", YES),
        ("oui", YES),
        ("Sí", YES),
        ("HELP", HELP),
        ("hilfe?", HELP),
        ("Aide", HELP),
        ("ayuda", HELP),
        ("info", HELP),
        ("please don't text me", OPTOUT),
        ("Please remove me from this list", OPTOUT),
        ("wrong number", OPTOUT),
        ("Bitte keine SMS mehr!", OPTOUT),
        ("hello", None),
        ("Don't stop", None),
        ("start the engine", None),  # only opt-out keywords count as a first word
        ("", None),
        ("   ", None),
        ("🛑", None),
    ],
)
def test_classify(text, kind):
    assert classify(text) == kind


def test_normalise_strips_diacritics_punctuation_and_case():
    assert normalise("  ÁrRÊT!!  ") == "arret"
    assert normalise("STOP\u00a0please") == "stop please"
    assert normalise("\uff33\uff34\uff2f\uff30") == "stop"  # full-width letters fold too


def test_tenant_additions():
    extra = {"optout": ("BASTA",), "optin": ("WIEDER",), "help": ("HOTLINE",)}
    assert classify("basta!", extra) == OPTOUT
    assert classify("Basta per favore", extra) == OPTOUT
    assert classify("wieder", extra) == OPTIN
    assert classify("hotline", extra) == HELP
    assert classify("basta") is None  # other tenants are not affected


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", "STOP"),
        ("stop please 0151 12345678", "STOP"),
        ("Opt-out", "OPTOUT"),
        ("opt out", "OPTOUT"),
        ("Arrête", "ARRETE"),
        ("start", "START"),
        ("ja", "JA"),
        ("Hilfe", "HILFE"),
        ("015112345678 wrong number", None),
        ("please don't text me, jane@mail.example", None),
        ("", None),
        ("Aufhören bitte", "AUFHÖREN"),
    ],
)
def test_keyword_of_names_only_a_known_keyword(text, keyword):
    assert keywords.keyword_of(text, {"optout": ("Aufhören",)}) == keyword
