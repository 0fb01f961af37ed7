"""HTML of the local-only pages: the demo signup form, the outbox, the webhook attempts and
the demo sink."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

from smsconsent.tenants import Tenant

# The insights page a tenant may host over the insights JSON (web/insights.html).
INSIGHTS_PAGE = Path(__file__).resolve().parents[1] / "web" / "insights.html"
_SOURCE = '<meta name="insights-source" content="insights.json">'

_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}'\""

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#222}label{display:block;margin:.5rem 0}"
    "input[type=tel]{font-size:1.1rem;padding:.4rem;width:16rem}"
    "button{font-size:1.1rem;padding:.6rem 1.2rem;border:0;border-radius:.4rem;background:#1a5fb4;"
    "color:#fff;cursor:pointer}.hp{position:absolute;left:-10000px;top:auto;width:1px;height:1px;"
    "overflow:hidden}.muted{color:#666;font-size:.9rem}li{margin:.8rem 0}"
    "li .meta{color:#666;font-size:.85rem}"
    "table{border-collapse:collapse;font-size:.85rem}th,td{text-align:left;vertical-align:top;"
    "padding:.3rem .5rem;border-bottom:1px solid #ddd}pre{margin:0;white-space:pre-wrap;"
    "word-break:break-all}body.wide{max-width:72rem}"
)

TEXT = {
    "en": {
        "title": "Demo signup",
        "lead": "Sign up for SMS from {name}. This is the local stack: no real SMS is sent,",
        "outbox": "messages go to the outbox",
        "phone": "Mobile number",
        "purposes": "What would you like to get?",
        "age": "I am at least {age} years old.",
        "submit": "Sign up",
        "outbox_title": "Local outbox",
        "outbox_empty": "No messages yet.",
        "back": "Demo signup form",
        "events": "what a CRM subscribed to consent events gets",
        "attempts": "the webhook delivery attempts",
        "imports": "the imports and their status (make import FILE=...)",
        "optouts": "the stand-in AWS opt-out list",
        "insights": "Insights: signups, confirmations and opt-outs per day",
        "sink_title": "Local webhook sink",
        "sink_lead": "Consent events the demo tenant's webhook subscription delivered here, newest last.",
        "sink_empty": "Nothing received yet.",
        "attempts_title": "Local webhook deliveries",
        "attempts_empty": "No attempts yet.",
        "waiting": "waiting",
        "dead": "given up on",
    },
    "de": {
        "title": "Demo-Anmeldung",
        "lead": "Melden Sie sich für SMS von {name} an. Dies ist der lokale Stack: Es wird keine echte SMS "
        "gesendet,",
        "outbox": "Nachrichten landen im Postausgang",
        "phone": "Handynummer",
        "purposes": "Was möchten Sie erhalten?",
        "age": "Ich bin mindestens {age} Jahre alt.",
        "submit": "Anmelden",
        "outbox_title": "Lokaler Postausgang",
        "outbox_empty": "Noch keine Nachrichten.",
        "back": "Demo-Anmeldeformular",
        "events": "was ein CRM mit Abo auf Einwilligungsereignisse erhält",
        "attempts": "die Zustellversuche der Webhooks",
        "imports": "die Importe und ihr Stand (make import FILE=...)",
        "optouts": "die nachgebildete AWS-Opt-out-Liste",
        "insights": "Auswertung: Anmeldungen, Bestätigungen und Abmeldungen pro Tag",
        "sink_title": "Lokaler Webhook-Empfänger",
        "sink_lead": "Einwilligungsereignisse, die das Webhook-Abo des Demo-Mandanten hierher "
        "zugestellt hat, "
        "neueste zuletzt.",
        "sink_empty": "Noch nichts empfangen.",
        "attempts_title": "Lokale Webhook-Zustellungen",
        "attempts_empty": "Noch keine Versuche.",
        "waiting": "wartend",
        "dead": "aufgegeben",
    },
}


def _page(lang: str, title: str, body: str, wide: bool = False) -> str:
    opening = '<body class="wide">' if wide else "<body>"
    return (
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>{opening}{body}</body></html>"
    )


def demo_form(tenant: Tenant, lang: str) -> str:
    """The signup form a website would embed, posting as a plain form (no JavaScript)."""
    t = TEXT.get(lang, TEXT["en"])
    text_id, version = tenant.current_consent_text
    wording = tenant.consent_texts[text_id][version].wording[lang]
    purposes = "".join(
        f'<label><input type="checkbox" name="purposes" value="{escape(p.name)}"'
        f"{' checked' if p.name in tenant.default_purposes else ''}> {escape(p.description[lang])}</label>"
        for p in tenant.purposes.values()
        if p.category == "marketing"
    )
    age = (
        f'<label><input type="checkbox" name="age_confirmed" value="yes" required> '
        f"{escape(t['age'].format(age=tenant.min_age))}</label>"
        if tenant.min_age
        else ""
    )
    body = (
        f"<h1>{escape(t['title'])}</h1>"
        f"<p>{escape(t['lead'].format(name=tenant.name))} "
        f'<a href="/_local/outbox">{escape(t["outbox"])}</a>.</p>'
        f'<p class="muted">Webhooks: <a href="/_local/sink">{escape(t["events"])}</a>, '
        f'<a href="/_local/webhooks">{escape(t["attempts"])}</a>.</p>'
        f'<p class="muted"><a href="/v1/{escape(tenant.id)}/imports">{escape(t["imports"])}</a>, '
        f'<a href="/_local/provider-optouts">{escape(t["optouts"])}</a>.</p>'
        f'<p class="muted"><a href="/_local/insights">{escape(t["insights"])}</a></p>'
        f'<form method="post" action="/v1/{escape(tenant.id)}/signup">'
        f'<label for="phone">{escape(t["phone"])}</label>'
        '<input type="tel" id="phone" name="phone" autocomplete="tel" required '
        'placeholder="+49 151 12345678">'
        f"<fieldset><legend>{escape(t['purposes'])}</legend>{purposes}</fieldset>"
        f'<label><input type="checkbox" name="consent" value="yes" required> '
        f'<span id="consent-text">{escape(wording)}</span></label>'
        f"{age}"
        # Honeypot: off-screen for people, filled in by naive bots.
        '<div class="hp" aria-hidden="true"><label for="website">Website</label>'
        '<input type="text" id="website" name="website" tabindex="-1" autocomplete="off"></div>'
        f'<input type="hidden" name="consent_text" value="{escape(text_id)}:{escape(version)}">'
        f'<input type="hidden" name="language" value="{escape(lang)}">'
        '<input type="hidden" name="source" value="local-demo-form">'
        f'<p><button type="submit" id="signup">{escape(t["submit"])}</button></p>'
        "</form>"
    )
    return _page(lang, t["title"], body)


def linkify(text: str) -> str:
    """``text`` escaped, with each http(s) URL in it as a link."""
    out, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(url)
        out.append(escape(text[last : match.start()]))
        out.append(f'<a href="{escape(url, quote=True)}">{escape(url)}</a>')
        last = end
    out.append(escape(text[last:]))
    return "".join(out)


def outbox(messages: Iterable[dict[str, Any]], lang: str = "en") -> str:
    t = TEXT.get(lang, TEXT["en"])
    items = "".join(
        f'<li data-kind="{escape(str(m["kind"]))}">'
        f'<div class="meta">{escape(str(m["sent_at"]))} &middot; {escape(str(m["tenant"]))} &middot; '
        f"{escape(str(m['kind']))} &middot; to {escape(str(m['to']))}</div>"
        f'<div class="body">{linkify(str(m["body"]))}</div></li>'
        for m in messages
    )
    listing = f"<ol>{items}</ol>" if items else f'<p class="muted">{escape(t["outbox_empty"])}</p>'
    body = f'<h1>{escape(t["outbox_title"])}</h1>{listing}<p><a href="/">{escape(t["back"])}</a></p>'
    return _page(lang, t["outbox_title"], body)


def _table(head: list[str], rows: list[list[str]]) -> str:
    """A table of already escaped cells."""
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _text(value: Any) -> str:
    return "" if value is None else escape(str(value))


def sink(received: Iterable[dict[str, Any]], lang: str = "en") -> str:
    """What the demo sink received: time, whether it verified, the event as sent."""
    t = TEXT.get(lang, TEXT["en"])
    rows = []
    for entry in received:
        event = entry["event"]
        kind = event.get("type") if isinstance(event, dict) else None
        verified = {True: "yes", False: "NO", None: "not checked"}[entry["verified"]]
        shown = json.dumps(event, indent=2, ensure_ascii=False) if isinstance(event, dict) else str(event)
        rows.append(
            [
                _text(entry["received_at"]),
                _text(kind),
                _text(verified),
                _text(entry["headers"].get("webhook-id")),
                f"<pre>{escape(shown)}</pre>",
            ]
        )
    listing = (
        _table(["received", "type", "verified", "webhook-id", "event"], rows)
        if rows
        else f'<p class="muted">{escape(t["sink_empty"])}</p>'
    )
    body = (
        f"<h1>{escape(t['sink_title'])}</h1><p>{escape(t['sink_lead'])}</p>{listing}"
        f'<p><a href="/_local/webhooks">{escape(t["attempts"])}</a> &middot; '
        f'<a href="/">{escape(t["back"])}</a></p>'
    )
    return _page(lang, t["sink_title"], body, wide=True)


def webhook_attempts(report: dict[str, Any], lang: str = "en") -> str:
    """Every delivery attempt of the local stack, oldest first."""
    t = TEXT.get(lang, TEXT["en"])
    fields = ["at", "webhook_id", "url", "type", "event_id", "attempt", "status", "http_status", "error"]
    rows = [[_text(a.get(f)) for f in [*fields, "next_attempt_at"]] for a in report["attempts"]]
    listing = (
        _table([*fields, "next_attempt_at"], rows)
        if rows
        else f'<p class="muted">{escape(t["attempts_empty"])}</p>'
    )
    body = (
        f"<h1>{escape(t['attempts_title'])}</h1>"
        f"<p>{escape(t['waiting'])}: {int(report['waiting'])} &middot; "
        f"{escape(t['dead'])}: {int(report['dead'])}</p>{listing}"
        f'<p><a href="/_local/sink">{escape(t["events"])}</a> &middot; '
        f'<a href="/">{escape(t["back"])}</a></p>'
    )
    return _page(lang, t["attempts_title"], body, wide=True)


def prefers_html(accept: str | None) -> bool:
    """Whether an ``Accept`` header ranks ``text/html`` above ``application/json``."""

    def quality(kind: str) -> tuple[float, int]:
        best: tuple[int, float] = (-1, 0.0)  # (specificity, q)
        for part in (accept or "").split(","):
            media, *params = (p.strip() for p in part.split(";"))
            q = 1.0
            for param in params:
                name, _, value = param.partition("=")
                if name.strip() == "q":
                    try:
                        q = float(value)
                    except ValueError:
                        q = 0.0
            major, _, minor = media.lower().partition("/")
            if media.lower() == kind:
                spec = 2
            elif major == kind.partition("/")[0] and minor == "*":
                spec = 1
            elif media == "*/*":
                spec = 0
            else:
                continue
            if spec > best[0]:
                best = (spec, q)
        return best[1], best[0]

    html, json = quality("text/html"), quality("application/json")
    return html > json


def insights_page(source: str) -> str:
    """The hostable insights page, reading its JSON from ``source`` (this stack's route)."""
    html = INSIGHTS_PAGE.read_text(encoding="utf-8")
    if _SOURCE not in html:
        raise ValueError(f"{INSIGHTS_PAGE.name} names no insights source to point at {source}")
    return html.replace(_SOURCE, f'<meta name="insights-source" content="{escape(source)}">')
