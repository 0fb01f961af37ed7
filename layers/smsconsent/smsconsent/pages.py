"""HTML pages for people: confirmation, its outcomes, and "check your phone".

No JavaScript: the Confirm button is a plain form POST, so a link scanner or chat
preview that only GETs the link never confirms anything."""

from __future__ import annotations

from html import escape

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}"
    "button{font-size:1.1rem;padding:.7rem 1.4rem;border:0;border-radius:.4rem;background:#1a5fb4;color:#fff;cursor:pointer}"
    "textarea{width:100%;min-height:4rem}.muted{color:#666;font-size:.9rem}"
)

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "confirm_title": "Confirm your SMS subscription",
        "confirm_lead": "{name} would like to send you {what} by SMS. Please confirm that you want this.",
        "confirm_button": "Confirm",
        "confirm_fine": "You can stop at any time by replying STOP.",
        "confirmed_title": "Thank you, you are subscribed",
        "confirmed_lead": "You will get messages from {name}. Reply STOP to any of them to stop.",
        "already_confirmed_title": "Already confirmed",
        "already_confirmed_lead": "Your subscription to {name} was confirmed before. Nothing changed.",
        "expired_title": "This link has expired",
        "expired_lead": "The link is too old or a newer one was sent. Please sign up again.",
        "unknown_token_title": "Link not found",
        "unknown_token_lead": "This link is not valid. Please check that it was copied completely.",
        "opted_out_title": "You unsubscribed",
        "opted_out_lead": "You opted out of messages from {name}, so this link no longer confirms anything.",
        "optout_title": "Unsubscribe from SMS",
        "optout_lead": "Stop all marketing messages from {name} to your phone.",
        "optout_reason": "Why are you leaving? (optional)",
        "optout_button": "Unsubscribe",
        "opted_out_now_title": "You are unsubscribed",
        "opted_out_now_lead": "You will get no more marketing messages from {name}.",
        "already_opted_out_title": "Already unsubscribed",
        "already_opted_out_lead": "You had already unsubscribed from {name}. Nothing changed.",
        "unknown_code_title": "Link not found",
        "unknown_code_lead": "This unsubscribe link is not valid. You can always reply STOP to any message.",
        "check_title": "Check your phone",
        "check_lead": "If the number can receive SMS, we have sent it a link. Open it to confirm your subscription.",
    },
    "de": {
        "confirm_title": "SMS-Anmeldung bestätigen",
        "confirm_lead": "{name} möchte Ihnen {what} per SMS senden. Bitte bestätigen Sie, dass Sie das möchten.",
        "confirm_button": "Bestätigen",
        "confirm_fine": "Sie können sich jederzeit abmelden, indem Sie mit STOP antworten.",
        "confirmed_title": "Danke, Ihre Anmeldung ist bestätigt",
        "confirmed_lead": "Sie erhalten Nachrichten von {name}. Antworten Sie auf eine davon mit STOP, um sich abzumelden.",
        "already_confirmed_title": "Bereits bestätigt",
        "already_confirmed_lead": "Ihre Anmeldung bei {name} wurde schon bestätigt. Es hat sich nichts geändert.",
        "expired_title": "Dieser Link ist abgelaufen",
        "expired_lead": "Der Link ist zu alt oder es wurde ein neuerer gesendet. Bitte melden Sie sich erneut an.",
        "unknown_token_title": "Link nicht gefunden",
        "unknown_token_lead": "Dieser Link ist ungültig. Bitte prüfen Sie, ob er vollständig kopiert wurde.",
        "opted_out_title": "Sie haben sich abgemeldet",
        "opted_out_lead": "Sie haben sich von Nachrichten von {name} abgemeldet; dieser Link bestätigt nichts mehr.",
        "optout_title": "Von SMS abmelden",
        "optout_lead": "Keine Werbe-SMS mehr von {name} an Ihr Telefon.",
        "optout_reason": "Warum melden Sie sich ab? (freiwillig)",
        "optout_button": "Abmelden",
        "opted_out_now_title": "Sie sind abgemeldet",
        "opted_out_now_lead": "Sie erhalten keine Werbenachrichten mehr von {name}.",
        "already_opted_out_title": "Bereits abgemeldet",
        "already_opted_out_lead": "Sie hatten sich bei {name} schon abgemeldet. Es hat sich nichts geändert.",
        "unknown_code_title": "Link nicht gefunden",
        "unknown_code_lead": "Dieser Abmeldelink ist ungültig. Sie können jederzeit auf eine Nachricht mit STOP antworten.",
        "check_title": "Bitte prüfen Sie Ihr Telefon",
        "check_lead": "Wenn die Nummer SMS empfangen kann, haben wir ihr einen Link gesendet. "
        "Öffnen Sie ihn, um die Anmeldung zu bestätigen.",
    },
}


def language_of(accept_language: str | None, wanted: str | None = None) -> str:
    """The page language: the subject's own, else the browser's first known one, else English."""
    if wanted and wanted[:2] in TEXT:
        return wanted[:2]
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip().lower()[:2]
        if tag in TEXT:
            return tag
    return "en"


def _page(lang: str, title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex,nofollow">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def confirm_prompt(lang: str, tenant_name: str, what: str) -> str:
    t = TEXT[lang]
    body = (
        f"<h1>{escape(t['confirm_title'])}</h1>"
        f"<p>{escape(t['confirm_lead'].format(name=tenant_name, what=what))}</p>"
        # Posting to the page's own URL: the token never appears in the HTML.
        f'<form method="post"><button type="submit" id="confirm">{escape(t["confirm_button"])}</button></form>'
        f'<p class="muted">{escape(t["confirm_fine"])}</p>'
    )
    return _page(lang, t["confirm_title"], body)


def optout_prompt(lang: str, tenant_name: str) -> str:
    t = TEXT[lang]
    body = (
        f"<h1>{escape(t['optout_title'])}</h1>"
        f"<p>{escape(t['optout_lead'].format(name=tenant_name))}</p>"
        '<form method="post">'
        f'<label for="reason">{escape(t["optout_reason"])}</label>'
        '<textarea id="reason" name="reason" maxlength="1000"></textarea>'
        f'<p><button type="submit" id="unsubscribe">{escape(t["optout_button"])}</button></p></form>'
    )
    return _page(lang, t["optout_title"], body)


def outcome(lang: str, status: str, tenant_name: str = "") -> str:
    """A page for a confirmation outcome (``confirmed``, ``expired``, ...)."""
    t = TEXT[lang]
    title, lead = t[f"{status}_title"], t[f"{status}_lead"].format(name=tenant_name)
    return _page(lang, title, f'<h1 data-status="{escape(status)}">{escape(title)}</h1><p>{escape(lead)}</p>')


def check_your_phone(lang: str) -> str:
    t = TEXT[lang]
    return _page(
        lang, t["check_title"], f"<h1>{escape(t['check_title'])}</h1><p>{escape(t['check_lead'])}</p>"
    )
