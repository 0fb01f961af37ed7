"""The texts of the SMS we send, and how many segments they take."""

from __future__ import annotations

from smsconsent.tenants import Tenant

# GSM 03.38: the basic set costs one septet a character, the extension set two.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}\\[~]|€\f")
MAX_SEGMENTS = 3


def segments(text: str) -> int:
    """SMS segments needed for ``text`` (GSM-7 if it fits, else UCS-2)."""
    if all(c in _GSM_BASIC or c in _GSM_EXT for c in text):
        septets = sum(2 if c in _GSM_EXT else 1 for c in text)
        return 1 if septets <= 160 else -(-septets // 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


_CONFIRM = {
    "en": (
        "{name}: please confirm you want {what} {by}, {often}. Msg&data rates may apply. "
        "Reply STOP to opt out, HELP for help. Confirm: {url}{reply}"
    ),
    "de": (
        "{name}: Bitte bestätigen Sie, dass Sie {what} {by} erhalten möchten, {often}. "
        "Es können SMS-Kosten entstehen. Abmelden: STOP antworten, Hilfe: HILFE. Bestätigen: {url}{reply}"
    ),
}
# The shortest wording that still says who, what, how often, cost, how to stop and the link:
# used when a long tenant name or non-GSM characters would need more than three segments.
_CONFIRM_SHORT = {
    "en": "{name}: confirm {channel} offers ({often}): {url} Rates may apply. STOP to end.",
    "de": "{name}: {channel}-Angebote ({often}) bestätigen: {url} Kosten möglich. STOP beendet.",
}
# The channel the consent is for: the confirmation always goes by SMS to the number, and
# says which channel's messages the person agrees to.
_CHANNEL = {"sms": "SMS", "whatsapp": "WhatsApp"}
_BY = {
    "sms": {"en": "by SMS", "de": "per SMS"},
    "whatsapp": {"en": "on WhatsApp", "de": "per WhatsApp"},
}
_REPLY = {"en": " or reply YES", "de": " oder mit JA antworten"}
_OFTEN = {
    "cap": {"en": "up to {n} msgs per {d} days", "de": "höchstens {n} {msgs} in {d} Tagen"},
    "none": {"en": "recurring msgs", "de": "regelmäßige {msgs}"},
}
_MSGS_DE = {"sms": "SMS", "whatsapp": "Nachrichten"}
_FALLBACK_WHAT = {"en": "marketing messages", "de": "Werbenachrichten"}


def how_often(tenant: Tenant, language: str, channel: str = "sms") -> str:
    if language in tenant.message_frequency:
        return tenant.message_frequency[language]
    msgs = _MSGS_DE.get(channel, "SMS")
    if tenant.frequency_cap:
        n, d = tenant.frequency_cap
        return _OFTEN["cap"][_lang(language)].format(n=n, d=d, msgs=msgs)
    return _OFTEN["none"][_lang(language)].format(msgs=msgs)


def _lang(language: str) -> str:
    return language if language in _CONFIRM else "en"


def confirmation(tenant: Tenant, purposes: list[str], language: str, url: str, channel: str = "sms") -> str:
    """SPEC rule 2: who writes, what, on which channel and how often, that it may cost, how
    to stop, the link; no advertising. Descriptions are dropped when they would push it past
    three segments."""
    lang = _lang(language)
    template = _CONFIRM[lang]
    reply = _REPLY[lang] if tenant.confirm_by_reply else ""
    described = ", ".join(
        tenant.purposes[p].description.get(language, p) for p in purposes if p in tenant.purposes
    )
    often = how_often(tenant, language, channel)
    by = _BY.get(channel, _BY["sms"])[lang]
    for what in (described, _FALLBACK_WHAT[lang]):
        text = template.format(name=tenant.name, what=what, by=by, often=often, url=url, reply=reply)
        if segments(text) <= MAX_SEGMENTS:
            return text
    return _CONFIRM_SHORT[lang].format(
        name=tenant.name, channel=_CHANNEL.get(channel, "SMS"), often=often, url=url
    )


_REPLIES = {
    "optout_confirmation": {
        "en": "{name}: You are unsubscribed and will get no more messages. Reply START to resubscribe.",
        "de": "{name}: Sie sind abgemeldet und erhalten keine weiteren Nachrichten. Mit START melden Sie sich wieder an.",
    },
    "optin_confirmation": {
        "en": "{name}: You are subscribed again. Reply STOP to opt out, HELP for help.",
        "de": "{name}: Sie sind wieder angemeldet. Abmelden: STOP, Hilfe: HILFE.",
    },
    "confirmed": {
        "en": "{name}: Thank you, your subscription is confirmed. Reply STOP to opt out, HELP for help.",
        "de": "{name}: Danke, Ihre Anmeldung ist bestätigt. Abmelden: STOP, Hilfe: HILFE.",
    },
    "help": {
        "en": "{name}: Reply STOP to opt out. Msg&data rates may apply.",
        "de": "{name}: Abmelden mit STOP. Es können SMS-Kosten entstehen.",
    },
}


def reply(tenant: Tenant, kind: str, language: str | None) -> str:
    """The text of a reply to an inbound keyword (``optout_confirmation``, ``help``, ...)."""
    lang = tenant.language(language)
    if kind == "help" and lang in tenant.help_text:
        return tenant.help_text[lang]
    return _REPLIES[kind][_lang(lang)].format(name=tenant.name)


# The opt-out line every marketing SMS carries (the pre-send check hands it out as
# ``footer``). French wording too, for tenants that list ``fr`` (the 36111 shortcode is French).
_OPTOUT_FOOTER = {
    "shortcode": {"en": "Opt out: STOP to {code}", "de": "Abmelden: STOP an {code}", "fr": "STOP au {code}"},
    "url": {"en": "Opt out: {url}", "de": "Abmelden: {url}", "fr": "Désinscription : {url}"},
    "reply": {
        "en": "Reply STOP to opt out",
        "de": "Abmelden: STOP antworten",
        "fr": "STOP pour vous désinscrire",
    },
}


def optout_footer(language: str, shortcode: str | None = None, url: str | None = None) -> str:
    """The opt-out line in ``language`` (English when we have no wording in it): text STOP
    to ``shortcode`` where given, else open ``url``, else reply STOP."""
    if shortcode:
        return optout_footer_wording("shortcode", language).format(code=shortcode)
    if url:
        return optout_footer_wording("url", language).format(url=url)
    return optout_footer_wording("reply", language)


def optout_footer_wording(kind: str, language: str) -> str:
    """The opt-out line's wording of ``kind`` (``shortcode``: ``{code}`` to fill in,
    ``url``: ``{url}``, ``reply``) in ``language``, English when we have none in it."""
    texts = _OPTOUT_FOOTER[kind]
    return texts.get(language, texts["en"])
