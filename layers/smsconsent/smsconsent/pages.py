"""HTML pages for people: confirmation and its outcomes, "check your phone", the opt-out
page (keep or drop each purpose, with an undo), refused form posts, and the access report
a privacy officer hands to the person. Every value that is not our own markup goes
through ``escape``.

No JavaScript: the Confirm button is a plain form POST, so a link scanner or chat
preview that only GETs the link never confirms anything."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Colours chosen for contrast on white (WCAG AA, 4.5:1 and more): #222 15.9:1, #595959
# 7:1, #1a5fb4 6.3:1 (white on it too). No external fonts, no scripts.
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5;"
    "color:#222;background:#fff}"
    "body.wide{max-width:48rem}"
    "a{color:#1a5fb4}"
    "button{font-size:1.1rem;padding:.7rem 1.4rem;border:2px solid #1a5fb4;border-radius:.4rem;"
    "background:#1a5fb4;color:#fff;cursor:pointer}"
    "button.secondary{background:#fff;color:#1a5fb4}"
    ":focus-visible{outline:3px solid #222;outline-offset:2px}"
    "textarea{width:100%;min-height:4rem;box-sizing:border-box;font:inherit}"
    "fieldset{border:1px solid #767676;border-radius:.4rem;margin:1rem 0;padding:.5rem 1rem}"
    "legend{font-weight:600;padding:0 .3rem}"
    ".choice{display:flex;gap:.6rem;align-items:flex-start;margin:.6rem 0}"
    ".choice input{width:1.3rem;height:1.3rem;margin:.15rem 0 0;flex:none}"
    ".muted{color:#595959;font-size:.9rem}"
    ".note{border-left:4px solid #1a5fb4;padding:.3rem .8rem;background:#f3f6fb}"
    ".problem{border-left:4px solid #a51d2d;padding:.3rem .8rem;background:#fbf0f1}"
    "h2{font-size:1.2rem;margin-top:2rem}"
    "table{border-collapse:collapse;width:100%;font-size:.95rem}"
    "th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid #ccc}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}"
    "blockquote{margin:.5rem 0;padding:.3rem .8rem;border-left:4px solid #767676;background:#f6f6f6}"
    ".scroll{overflow-x:auto}"
    "@media (max-width:30rem){dl{grid-template-columns:1fr}dd{margin-bottom:.4rem}}"
    "@media print{body,body.wide{max-width:none;margin:0;font-size:11pt}a{color:#222}"
    "section{break-inside:avoid}.note{background:none}}"
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
        "check_expiry": "The link works for {hours} hours.",
        "check_expiry_days": "The link works for {days} days.",
        "check_reply": "You can also reply {word} to the SMS instead.",
        "reply_word": "YES",
        "prefs_title": "Your SMS from {name}",
        "prefs_get": "You get: {list}.",
        "prefs_some_legend": "Stop only these messages",
        "prefs_some_button": "Stop selected",
        "prefs_all_heading": "Stop all marketing messages",
        "prefs_all_heading_all": "Stop all messages",
        "note_transactional": "Messages you need, such as {list}, continue: they are not marketing.",
        "note_transactional_plain": "Messages you need, such as order or account messages, continue: "
        "they are not marketing.",
        "note_all": "Unsubscribing stops every message from {name} to your phone, service messages too.",
        "partial_done_title": "Your choice is saved",
        "partial_done_lead": "You will no longer get: {list}.",
        "still_get": "You still get: {list}.",
        "undo_lead": "Changed your mind? You can undo this for {minutes} minutes.",
        "undo_button": "Undo",
        "manage_link": "Manage your SMS from {name}",
        "restored_title": "You are subscribed again",
        "restored_lead": "You get these again: {list}.",
        "undo_unavailable_title": "This can no longer be undone",
        "undo_unavailable_lead": "Unsubscribing on this page can be undone only for {minutes} minutes, and "
        "only while nothing else changed, such as a STOP sent by SMS. You stay unsubscribed. To get "
        "messages again, sign up again with {name}.",
        "and": "and",
        "refused_title": "Please check your entry",
        "refused_field": "Where: {label}",
        "refused_back": "Back to the form",
        "refused_back_hint": "Use your browser's Back button to return to the form.",
        "err_invalid_phone": "We could not read this mobile number. Please enter it with its country code, "
        "for example +49 151 12345678.",
        "err_not_mobile": "This number cannot receive SMS: it looks like a landline or a service number. "
        "Please enter a mobile number.",
        "err_country_not_allowed": "We can only accept mobile numbers from {countries}.",
        "err_country_of_number": "This number is from {country}.",
        "err_consent_required": "Please tick the box to agree to receive SMS.",
        "err_age_confirmation_required": "Please confirm that you are at least {min_age} years old.",
        "err_unknown_purpose": "The form asked for a kind of message that does not exist. Please choose again.",
        "err_purposes": "You no longer get one of the messages you chose, or chose none. Please choose again.",
        "err_invalid_field": "The form sent a value we cannot accept.",
        "err_origin_not_allowed": "This form may not sign up for {name}.",
        "err_rate_limited": "Too many attempts right now. Please try again in {minutes} minutes.",
        "err_unavailable": "This is not possible right now. Please try again in a moment.",
        "err_unreadable": "The form could not be read. Please try again.",
        "err_unknown_tenant": "This form is not set up correctly: it names no known sender.",
        "err_internal_error": "Something went wrong on our side. Please try again later.",
        "err_generic": "Your entry could not be accepted.",
        "field_phone": "Mobile number",
        "field_country": "Country",
        "field_consent": "Consent",
        "field_age_confirmed": "Age",
        "field_purposes": "Messages",
        "field_reason": "Reason",
        "report_title": "Information about your data",
        "report_basis": "Access under Art. 15 GDPR, as of {date}.",
        "report_controller": "Who is responsible",
        "report_number": "Your number",
        "report_consents": "Your consents",
        "report_none": "We hold no personal data about this number.",
        "report_marker": "We hold no personal data about this number any more. We keep only a keyed "
        "fingerprint of it (not the number itself) and the fact that it unsubscribed, so that it never "
        "gets marketing messages from {name} again.",
        "report_state": "Status",
        "report_wording": "The wording you agreed to",
        "report_wording_missing": "The wording of this version is no longer on file.",
        "report_ref": "Text {id}, version {version}",
        "report_channel": "Channel",
        "report_ends": "Ends",
        "report_lapses": "on {date} unless you get a marketing message from {name} before",
        "report_expires": "on {date} unless you confirm before",
        "report_history": "What happened, and how",
        "report_history_none": "Nothing is recorded.",
        "report_ip": "IP address {ip}",
        "report_device": "device {device}",
        "report_reason": "your reason: “{reason}”",
        "report_source": "from {source}",
        "report_keeping": "How long it is kept",
        "report_keep_pending": "An unconfirmed signup is deleted after {hours} hours, with your IP address "
        "and device.",
        "report_keep_lapse": "A consent ends after {days} days without a marketing message.",
        "report_keep_evidence": "The record of your consents and of their withdrawal is kept {days} days "
        "after your last consent ended, as proof, and then deleted.",
        "report_keep_evidence_until": "The record of your consents and of their withdrawal is kept as proof "
        "until {date}, and then deleted.",
        "report_keep_marker": "If you unsubscribed, a keyed fingerprint of your number (not the number) stays, "
        "so that you never get marketing messages again.",
        "report_processors": "Who processes it for {name}",
        "report_rights": "Your rights",
        "report_rights_text": "You can withdraw your consent at any time (reply STOP to any message or use "
        "the link in it), ask for a copy, correction or erasure of your data, object to its use, and "
        "complain to a data protection authority.",
        "role_hosting": "hosting and storage",
        "role_inbound": "receiving your SMS replies",
        "state_pending": "waiting for your confirmation since {date}",
        "state_active": "active since {date}",
        "state_opted_out": "unsubscribed on {date}",
        "state_lapsed": "ended on {date} (no marketing message for a long time)",
        "channel_sms": "SMS",
        "channel_whatsapp": "WhatsApp",
        "ev_optin_requested": "Signup",
        "ev_optin_repeated": "Signup repeated",
        "ev_optin_confirmed": "Consent confirmed",
        "ev_optout": "Unsubscribed",
        "ev_optout_undone": "Unsubscribe undone",
        "ev_optin_restored": "Subscribed again",
        "ev_consent_lapsed": "Consent ended (no marketing message for {days} days)",
        "ev_optin_expired": "Signup expired (not confirmed in time)",
        "ev_consent_imported": "Consent taken over from {name}'s earlier records",
        "ev_erased": "Personal data erased",
        "ev_number_unreachable": "The SMS provider reported the number as unreachable",
        "ev_number_reachable": "The number was reachable again",
        "ev_other": "Recorded: {type}",
        "via_link": "with the link in an SMS",
        "via_form": "on a web form",
        "via_api": "by {name}'s website",
        "via_sms_keyword": "by SMS ({keyword})",
        "via_sms_reply": "by replying to the SMS",
        "via_provider_keyword": "by SMS ({keyword}), answered by the SMS provider",
        "via_provider": "reported by the SMS provider",
        "via_provider_list": "on the SMS provider's opt-out list",
        "via_privacy": "by {name} on your behalf",
        "via_retention": "automatically",
        "via_import": "by import",
        "erased_title": "Erasure",
        "erased_deleted": "Everything held on this number was deleted.",
        "erased_kept": "The personal data of this number was erased.",
        "erased_again": "This number had been erased before: only the suppression marker is held, nothing "
        "personal. Nothing more was erased.",
        "erased_nothing": "Nothing was held on this number, so nothing was erased.",
        "erased_kept_marker": "Kept: a keyed fingerprint of the number (not the number) and the fact that it "
        "unsubscribed, so that it never gets marketing messages again.",
        "erased_kept_evidence": "Kept until {date}: the record of the consent and of the unsubscribe, without "
        "IP address, device or free text, as proof; then it is deleted.",
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
        "check_expiry": "Der Link gilt {hours} Stunden.",
        "check_expiry_days": "Der Link gilt {days} Tage.",
        "check_reply": "Sie können stattdessen auch mit {word} auf die SMS antworten.",
        "reply_word": "JA",
        "prefs_title": "Ihre SMS von {name}",
        "prefs_get": "Sie erhalten: {list}.",
        "prefs_some_legend": "Nur diese Nachrichten abbestellen",
        "prefs_some_button": "Auswahl abbestellen",
        "prefs_all_heading": "Alle Werbenachrichten abbestellen",
        "prefs_all_heading_all": "Alle Nachrichten abbestellen",
        "note_transactional": "Nachrichten, die Sie brauchen, etwa {list}, erhalten Sie weiterhin: "
        "Sie sind keine Werbung.",
        "note_transactional_plain": "Nachrichten, die Sie brauchen, etwa zu Bestellungen oder Ihrem Konto, "
        "erhalten Sie weiterhin: Sie sind keine Werbung.",
        "note_all": "Die Abmeldung beendet jede Nachricht von {name} an Ihr Telefon, auch Service-Nachrichten.",
        "partial_done_title": "Ihre Auswahl ist gespeichert",
        "partial_done_lead": "Sie erhalten nicht mehr: {list}.",
        "still_get": "Sie erhalten weiterhin: {list}.",
        "undo_lead": "Doch anders entschieden? Sie können das {minutes} Minuten lang rückgängig machen.",
        "undo_button": "Rückgängig machen",
        "manage_link": "Ihre SMS von {name} verwalten",
        "restored_title": "Sie sind wieder angemeldet",
        "restored_lead": "Sie erhalten wieder: {list}.",
        "undo_unavailable_title": "Das lässt sich nicht mehr rückgängig machen",
        "undo_unavailable_lead": "Eine Abmeldung auf dieser Seite lässt sich nur {minutes} Minuten lang "
        "rückgängig machen und nur, solange sich nichts anderes geändert hat, etwa durch ein STOP per SMS. "
        "Sie bleiben abgemeldet. Um wieder Nachrichten zu erhalten, melden Sie sich erneut bei {name} an.",
        "and": "und",
        "refused_title": "Bitte prüfen Sie Ihre Eingabe",
        "refused_field": "Betrifft: {label}",
        "refused_back": "Zurück zum Formular",
        "refused_back_hint": "Mit der Zurück-Taste Ihres Browsers kommen Sie zum Formular zurück.",
        "err_invalid_phone": "Diese Handynummer konnten wir nicht lesen. Bitte geben Sie sie mit Ländervorwahl "
        "ein, zum Beispiel +49 151 12345678.",
        "err_not_mobile": "Diese Nummer kann keine SMS empfangen: Sie sieht nach Festnetz oder einer "
        "Servicenummer aus. Bitte geben Sie eine Handynummer ein.",
        "err_country_not_allowed": "Wir können nur Handynummern aus {countries} annehmen.",
        "err_country_of_number": "Diese Nummer ist aus {country}.",
        "err_consent_required": "Bitte kreuzen Sie an, dass Sie SMS erhalten möchten.",
        "err_age_confirmation_required": "Bitte bestätigen Sie, dass Sie mindestens {min_age} Jahre alt sind.",
        "err_unknown_purpose": "Das Formular fragt nach einer Art Nachricht, die es nicht gibt. "
        "Bitte wählen Sie erneut.",
        "err_purposes": "Eine der gewählten Nachrichten erhalten Sie nicht mehr, oder Sie haben keine gewählt. "
        "Bitte wählen Sie erneut.",
        "err_invalid_field": "Das Formular hat einen Wert gesendet, den wir nicht annehmen können.",
        "err_origin_not_allowed": "Dieses Formular darf keine Anmeldungen für {name} senden.",
        "err_rate_limited": "Gerade gibt es zu viele Versuche. Bitte versuchen Sie es in {minutes} Minuten erneut.",
        "err_unavailable": "Das geht gerade nicht. Bitte versuchen Sie es gleich noch einmal.",
        "err_unreadable": "Das Formular konnte nicht gelesen werden. Bitte versuchen Sie es erneut.",
        "err_unknown_tenant": "Dieses Formular ist nicht richtig eingerichtet: Es nennt keinen bekannten Absender.",
        "err_internal_error": "Bei uns ist etwas schiefgegangen. Bitte versuchen Sie es später erneut.",
        "err_generic": "Ihre Eingabe konnte nicht angenommen werden.",
        "field_phone": "Handynummer",
        "field_country": "Land",
        "field_consent": "Einwilligung",
        "field_age_confirmed": "Alter",
        "field_purposes": "Nachrichten",
        "field_reason": "Grund",
        "report_title": "Auskunft über Ihre Daten",
        "report_basis": "Auskunft nach Art. 15 DSGVO, Stand {date}.",
        "report_controller": "Verantwortlich",
        "report_number": "Ihre Nummer",
        "report_consents": "Ihre Einwilligungen",
        "report_none": "Zu dieser Nummer speichern wir keine personenbezogenen Daten.",
        "report_marker": "Zu dieser Nummer speichern wir keine personenbezogenen Daten mehr. Wir behalten "
        "nur einen verschlüsselten Fingerabdruck (nicht die Nummer selbst) und die Tatsache, dass sie sich "
        "abgemeldet hat, damit sie nie wieder Werbung von {name} erhält.",
        "report_state": "Stand",
        "report_wording": "Der Text, dem Sie zugestimmt haben",
        "report_wording_missing": "Der Wortlaut dieser Version liegt nicht mehr vor.",
        "report_ref": "Text {id}, Version {version}",
        "report_channel": "Kanal",
        "report_ends": "Endet",
        "report_lapses": "am {date}, wenn Sie bis dahin keine Werbenachricht von {name} erhalten",
        "report_expires": "am {date}, wenn Sie nicht vorher bestätigen",
        "report_history": "Was geschah, und wie",
        "report_history_none": "Nichts ist aufgezeichnet.",
        "report_ip": "IP-Adresse {ip}",
        "report_device": "Gerät {device}",
        "report_reason": "Ihr Grund: „{reason}“",
        "report_source": "von {source}",
        "report_keeping": "Wie lange es gespeichert wird",
        "report_keep_pending": "Eine unbestätigte Anmeldung wird nach {hours} Stunden gelöscht, mit Ihrer "
        "IP-Adresse und Ihrem Gerät.",
        "report_keep_lapse": "Eine Einwilligung endet nach {days} Tagen ohne Werbenachricht.",
        "report_keep_evidence": "Der Nachweis Ihrer Einwilligungen und ihres Widerrufs wird {days} Tage "
        "nach dem Ende Ihrer letzten Einwilligung aufbewahrt und dann gelöscht.",
        "report_keep_evidence_until": "Der Nachweis Ihrer Einwilligungen und ihres Widerrufs wird bis zum "
        "{date} aufbewahrt und dann gelöscht.",
        "report_keep_marker": "Wenn Sie sich abgemeldet haben, bleibt ein verschlüsselter Fingerabdruck Ihrer "
        "Nummer (nicht die Nummer), damit Sie nie wieder Werbung erhalten.",
        "report_processors": "Wer die Daten für {name} verarbeitet",
        "report_rights": "Ihre Rechte",
        "report_rights_text": "Sie können Ihre Einwilligung jederzeit widerrufen (mit STOP auf eine Nachricht "
        "antworten oder den Link darin nutzen), Auskunft, Berichtigung oder Löschung verlangen, der "
        "Verwendung widersprechen und sich bei einer Datenschutzaufsichtsbehörde beschweren.",
        "role_hosting": "Hosting und Speicherung",
        "role_inbound": "Empfang Ihrer SMS-Antworten",
        "state_pending": "wartet seit {date} auf Ihre Bestätigung",
        "state_active": "aktiv seit {date}",
        "state_opted_out": "abgemeldet am {date}",
        "state_lapsed": "beendet am {date} (lange keine Werbenachricht)",
        "channel_sms": "SMS",
        "channel_whatsapp": "WhatsApp",
        "ev_optin_requested": "Anmeldung",
        "ev_optin_repeated": "Anmeldung wiederholt",
        "ev_optin_confirmed": "Einwilligung bestätigt",
        "ev_optout": "Abgemeldet",
        "ev_optout_undone": "Abmeldung rückgängig gemacht",
        "ev_optin_restored": "Wieder angemeldet",
        "ev_consent_lapsed": "Einwilligung beendet ({days} Tage keine Werbenachricht)",
        "ev_optin_expired": "Anmeldung verfallen (nicht rechtzeitig bestätigt)",
        "ev_consent_imported": "Einwilligung aus früheren Unterlagen von {name} übernommen",
        "ev_erased": "Personenbezogene Daten gelöscht",
        "ev_number_unreachable": "Der SMS-Anbieter meldete die Nummer als nicht erreichbar",
        "ev_number_reachable": "Die Nummer war wieder erreichbar",
        "ev_other": "Aufgezeichnet: {type}",
        "via_link": "über den Link in einer SMS",
        "via_form": "über ein Webformular",
        "via_api": "über die Website von {name}",
        "via_sms_keyword": "per SMS ({keyword})",
        "via_sms_reply": "per Antwort auf die SMS",
        "via_provider_keyword": "per SMS ({keyword}), vom SMS-Anbieter beantwortet",
        "via_provider": "vom SMS-Anbieter gemeldet",
        "via_provider_list": "auf der Sperrliste des SMS-Anbieters",
        "via_privacy": "von {name} in Ihrem Auftrag",
        "via_retention": "automatisch",
        "via_import": "per Import",
        "erased_title": "Löschung",
        "erased_deleted": "Alles zu dieser Nummer wurde gelöscht.",
        "erased_kept": "Die personenbezogenen Daten dieser Nummer wurden gelöscht.",
        "erased_again": "Diese Nummer war schon gelöscht: Gespeichert ist nur die Sperrmarke, nichts "
        "Personenbezogenes. Es wurde nichts weiter gelöscht.",
        "erased_nothing": "Zu dieser Nummer war nichts gespeichert; es wurde nichts gelöscht.",
        "erased_kept_marker": "Behalten: ein verschlüsselter Fingerabdruck der Nummer (nicht die Nummer) und "
        "die Tatsache, dass sie sich abgemeldet hat, damit sie nie wieder Werbung erhält.",
        "erased_kept_evidence": "Behalten bis zum {date}: der Nachweis der Einwilligung und der Abmeldung, "
        "ohne IP-Adresse, Gerät oder freien Text; danach wird er gelöscht.",
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


def _page(lang: str, title: str, body: str, wide: bool = False) -> str:
    opening = '<body class="wide">' if wide else "<body>"
    return (
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex,nofollow">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>{opening}<main>{body}</main></body></html>"
    )


def _listing(lang: str, items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c`` (not escaped: the caller escapes the sentence)."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {TEXT[lang]['and']} {items[-1]}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


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


@dataclass(frozen=True)
class Choices:
    """What the opt-out page shows: the tenant's name, the purposes in force (name ->
    description in the page's language), what keeps coming whatever is chosen
    (descriptions of the transactional purposes; None when the STOP scope is all)."""

    tenant_name: str
    in_force: dict[str, str]
    transactional: list[str] | None


def _note(lang: str, choices: Choices) -> str:
    t = TEXT[lang]
    if choices.transactional is None:
        text = t["note_all"].format(name=choices.tenant_name)
    elif choices.transactional:
        text = t["note_transactional"].format(list=_listing(lang, choices.transactional))
    else:
        text = t["note_transactional_plain"]
    return f'<p class="note" id="note">{escape(text)}</p>'


def optout_prompt(lang: str, tenant_name: str, choices: Choices | None = None) -> str:
    """The opt-out page: with two or more purposes in force, a box for each to drop only
    those (the form says ``partial``, so ticking none is refused, never read as "all");
    always the one button that withdraws the whole STOP scope."""
    t = TEXT[lang]
    choices = choices or Choices(tenant_name, {}, [])
    in_force = choices.in_force
    if len(in_force) >= 2:
        title = t["prefs_title"].format(name=tenant_name)
        boxes = "".join(
            f'<div class="choice"><input type="checkbox" id="purpose-{escape(name)}" name="purposes" '
            f'value="{escape(name)}"><label for="purpose-{escape(name)}">{escape(_capital(text))}</label></div>'
            for name, text in in_force.items()
        )
        heading = t["prefs_all_heading_all" if choices.transactional is None else "prefs_all_heading"]
        body = (
            f"<h1>{escape(title)}</h1>"
            f"<p>{escape(t['prefs_get'].format(list=_listing(lang, list(in_force.values()))))}</p>"
            f"{_note(lang, choices)}"
            '<form method="post" id="some"><input type="hidden" name="partial" value="1">'
            f"<fieldset><legend>{escape(t['prefs_some_legend'])}</legend>{boxes}</fieldset>"
            f'<p><button type="submit" id="drop">{escape(t["prefs_some_button"])}</button></p></form>'
            f"<h2>{escape(heading)}</h2>"
        )
    else:
        title = t["optout_title"]
        got = (
            f"<p>{escape(t['prefs_get'].format(list=_listing(lang, list(in_force.values()))))}</p>"
            if in_force
            else ""
        )
        body = (
            f"<h1>{escape(title)}</h1>"
            f"<p>{escape(t['optout_lead'].format(name=tenant_name))}</p>{got}{_note(lang, choices)}"
        )
    body += (
        '<form method="post" id="all">'
        f'<label for="reason">{escape(t["optout_reason"])}</label>'
        '<textarea id="reason" name="reason" maxlength="1000"></textarea>'
        f'<p><button type="submit" id="unsubscribe">{escape(t["optout_button"])}</button></p></form>'
    )
    return _page(lang, title, body)


def optout_done(
    lang: str,
    choices: Choices,
    dropped: list[str],
    partial: bool,
    undo: str | None,
    undo_minutes: int,
    manage: str,
) -> str:
    """After the opt-out page's button: what stopped, what still comes, and the undo (a
    form posting the token back to the page's own URL) while it may be used."""
    t = TEXT[lang]
    name = choices.tenant_name
    if partial:
        title = t["partial_done_title"]
        lead = t["partial_done_lead"].format(list=_listing(lang, dropped))
    else:
        title, lead = t["opted_out_now_title"], t["opted_out_now_lead"].format(name=name)
    body = f'<h1 data-status="opted_out_now">{escape(title)}</h1><p>{escape(lead)}</p>'
    if choices.in_force:
        still = t["still_get"].format(list=_listing(lang, list(choices.in_force.values())))
        body += f'<p id="still">{escape(still)}</p>'
    body += _note(lang, choices)
    if undo:
        body += (
            f'<form method="post" id="undo-form"><p>{escape(t["undo_lead"].format(minutes=undo_minutes))}</p>'
            f'<input type="hidden" name="undo" value="{escape(undo)}">'
            f'<p><button type="submit" class="secondary" id="undo">{escape(t["undo_button"])}</button></p></form>'
        )
    body += f'<p><a href="{escape(manage)}" id="manage">{escape(t["manage_link"].format(name=name))}</a></p>'
    return _page(lang, title, body)


def undo_outcome(lang: str, choices: Choices, restored: list[str], undo_minutes: int, manage: str) -> str:
    """After an undo: what came back, or that nothing could be undone."""
    t = TEXT[lang]
    name = choices.tenant_name
    if restored:
        status, title = "restored", t["restored_title"]
        lead = t["restored_lead"].format(list=_listing(lang, restored))
    else:
        status, title = "undo_unavailable", t["undo_unavailable_title"]
        lead = t["undo_unavailable_lead"].format(minutes=undo_minutes, name=name)
    body = (
        f'<h1 data-status="{status}">{escape(title)}</h1><p>{escape(lead)}</p>{_note(lang, choices)}'
        f'<p><a href="{escape(manage)}" id="manage">{escape(t["manage_link"].format(name=name))}</a></p>'
    )
    return _page(lang, title, body)


def outcome(lang: str, status: str, tenant_name: str = "") -> str:
    """A page for a confirmation outcome (``confirmed``, ``expired``, ...)."""
    t = TEXT[lang]
    title, lead = t[f"{status}_title"], t[f"{status}_lead"].format(name=tenant_name)
    return _page(lang, title, f'<h1 data-status="{escape(status)}">{escape(title)}</h1><p>{escape(lead)}</p>')


def check_your_phone(lang: str, token_ttl_hours: int | None = None, reply_confirms: bool = False) -> str:
    """The page a browser form lands on: the link is on its way, how long it works, and
    (where the tenant allows it) that a YES/JA reply confirms too."""
    t = TEXT[lang]
    extra = ""
    if token_ttl_hours:
        if token_ttl_hours % 24 == 0 and token_ttl_hours > 48:
            expiry = t["check_expiry_days"].format(days=token_ttl_hours // 24)
        else:
            expiry = t["check_expiry"].format(hours=token_ttl_hours)
        extra += f'<p id="expiry">{escape(expiry)}</p>'
    if reply_confirms:
        extra += f'<p id="reply">{escape(t["check_reply"].format(word=t["reply_word"]))}</p>'
    return _page(
        lang, t["check_title"], f"<h1>{escape(t['check_title'])}</h1><p>{escape(t['check_lead'])}</p>{extra}"
    )


# ---- refused form posts ---------------------------------------------------------------------

_UNREADABLE = {
    "malformed_body",
    "malformed_request",
    "malformed_event",
    "body_too_large",
    "unsupported_media_type",
}
_UNAVAILABLE = {"busy", "service_unavailable", "sms_unavailable", "tenant_misconfigured"}


@dataclass(frozen=True)
class Refused:
    """A refused form post as the person should read it. ``countries``: the names of the
    tenant's allowed countries, ``country``: the number's (for ``country_not_allowed``)."""

    code: str
    field: str | None = None
    tenant_name: str = ""
    countries: tuple[str, ...] = ()
    country: str | None = None
    min_age: int | None = None
    retry_after: int | None = None


def _problem(lang: str, refused: Refused) -> str:
    t, code = TEXT[lang], refused.code
    if code == "country_not_allowed":
        text = t["err_country_not_allowed"].format(countries=_listing(lang, refused.countries))
        if refused.country:
            text += " " + t["err_country_of_number"].format(country=refused.country)
        return text
    if code == "invalid_field" and refused.field == "purposes":
        return t["err_purposes"]
    if code == "rate_limited":
        minutes = max(1, -(-(refused.retry_after or 60) // 60))
        return t["err_rate_limited"].format(minutes=minutes)
    if code in _UNREADABLE:
        return t["err_unreadable"]
    if code in _UNAVAILABLE:
        return t["err_unavailable"]
    template = t.get(f"err_{code}", t["err_generic"])
    return template.format(name=refused.tenant_name, min_age=refused.min_age or "")


def form_refused(lang: str, refused: Refused, back: str | None) -> str:
    """The answer to a browser's form post that was refused: what is wrong in words, the
    field, and the way back to the form (``back``, a URL already checked by the caller;
    None: the Back button)."""
    t = TEXT[lang]
    label = t.get(f"field_{refused.field}") if refused.field else None
    body = (
        f'<h1 data-status="refused" data-code="{escape(refused.code)}">{escape(t["refused_title"])}</h1>'
        f'<p class="problem" role="alert" id="problem">{escape(_problem(lang, refused))}</p>'
    )
    if label:
        body += (
            f'<p class="muted" id="field" data-field="{escape(refused.field or "")}">'
            f"{escape(t['refused_field'].format(label=label))}</p>"
        )
    if back:
        body += f'<p><a href="{escape(back)}" id="back">{escape(t["refused_back"])}</a></p>'
    else:
        body += f'<p id="back-hint">{escape(t["refused_back_hint"])}</p>'
    return _page(lang, t["refused_title"], body)


# ---- the access report (GDPR Art. 15) and the erasure's answer ------------------------------

_MONTHS = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
}


def _date(lang: str, at: str) -> str:
    """``2026-11-22...`` as people write it: ``22 Nov 2026``, ``22.11.2026``."""
    year, month, day = at[:4], int(at[5:7]), int(at[8:10])
    if lang == "de":
        return f"{day:02d}.{month:02d}.{year}"
    return f"{day} {_MONTHS['en'][month - 1]} {year}"


def _when(lang: str, at: str) -> str:
    return f"{_date(lang, at)}, {at[11:16]} UTC" if len(at) >= 16 else _date(lang, at)


@dataclass(frozen=True)
class ReportConsent:
    channel: str
    purpose: str  # its description in the report's language
    state: str
    since: str
    wording: str | None  # the exact text the person saw, when still on file
    text_id: str | None
    text_version: str | None
    lapses_at: str | None = None
    expires_at: str | None = None


@dataclass(frozen=True)
class ReportEvent:
    at: str
    type: str
    via: str | None = None
    keyword: str | None = None
    purposes: tuple[str, ...] = ()
    ip: str | None = None
    device: str | None = None
    reason: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Report:
    """What the access report shows: facts, no internal hashes or keys."""

    tenant_name: str
    controller: str
    phone: str | None
    held: bool  # anything personal is held
    suppressed: bool  # an opt-out is kept (the keyed marker)
    consents: tuple[ReportConsent, ...]
    events: tuple[ReportEvent, ...]
    processors: tuple[tuple[str, str], ...]  # (who, role: hosting | inbound)
    token_ttl_hours: int
    lapse_after_days: int
    evidence_retention_days: int
    evidence_until: str | None
    as_of: str


def _event_line(lang: str, report: Report, event: ReportEvent) -> str:
    t = TEXT[lang]
    what = t.get(f"ev_{event.type}", t["ev_other"]).format(
        name=report.tenant_name, days=report.lapse_after_days, type=event.type
    )
    how = t.get(f"via_{event.via}") if event.via else None
    line = what
    if event.purposes:
        line += f": {_listing(lang, list(event.purposes))}"
    if how:
        line += f", {how.format(name=report.tenant_name, keyword=event.keyword or 'STOP')}"
    detail = [
        t["report_source"].format(source=event.source) if event.source else "",
        t["report_ip"].format(ip=event.ip) if event.ip else "",
        t["report_device"].format(device=event.device) if event.device else "",
        t["report_reason"].format(reason=event.reason) if event.reason else "",
    ]
    extra = "; ".join(d for d in detail if d)
    return (
        f"<li><strong>{escape(_when(lang, event.at))}</strong>: {escape(line)}."
        + (f' <span class="muted">{escape(extra)}</span>' if extra else "")
        + "</li>"
    )


def _consent_section(lang: str, report: Report, c: ReportConsent) -> str:
    t = TEXT[lang]
    rows = [
        (t["report_channel"], escape(t.get(f"channel_{c.channel}", c.channel))),
        (t["report_state"], escape(t.get(f"state_{c.state}", c.state).format(date=_date(lang, c.since)))),
    ]
    if c.text_id:
        ref = escape(t["report_ref"].format(id=c.text_id, version=c.text_version or ""))
        shown = (
            f"<blockquote>{escape(c.wording)}</blockquote>"
            if c.wording
            else escape(t["report_wording_missing"])
        )
        rows.append((t["report_wording"], f'{shown}<span class="muted">{ref}</span>'))
    if c.lapses_at:
        ends = t["report_lapses"].format(date=_date(lang, c.lapses_at), name=report.tenant_name)
        rows.append((t["report_ends"], escape(ends)))
    elif c.expires_at:
        rows.append((t["report_ends"], escape(t["report_expires"].format(date=_date(lang, c.expires_at)))))
    items = "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return f"<h3>{escape(_capital(c.purpose))}</h3><dl>{items}</dl>"


def access_report(lang: str, report: Report) -> str:
    """The access report a privacy officer hands to the person: printable, in their
    language, with the exact wording of each consent and no internal hashes."""
    t = TEXT[lang]
    name = report.tenant_name
    body = (
        f"<h1>{escape(t['report_title'])}</h1>"
        f'<p class="muted">{escape(t["report_basis"].format(date=_date(lang, report.as_of)))}</p>'
        f'<section><h2>{escape(t["report_controller"])}</h2><p id="controller">{escape(report.controller)}</p>'
        "</section>"
    )
    if report.phone:
        body += f"<section><h2>{escape(t['report_number'])}</h2><p>{escape(report.phone)}</p></section>"
    body += f"<section><h2>{escape(t['report_consents'])}</h2>"
    if not report.held:
        body += f'<p id="held">{escape(t["report_marker" if report.suppressed else "report_none"].format(name=name))}</p>'
    body += "".join(_consent_section(lang, report, c) for c in report.consents) + "</section>"
    events = "".join(_event_line(lang, report, e) for e in report.events)
    body += (
        f"<section><h2>{escape(t['report_history'])}</h2>"
        + (f"<ol>{events}</ol>" if events else f"<p>{escape(t['report_history_none'])}</p>")
        + "</section>"
    )
    keeping = [
        t["report_keep_pending"].format(hours=report.token_ttl_hours),
        t["report_keep_lapse"].format(days=report.lapse_after_days),
        t["report_keep_evidence_until"].format(date=_date(lang, report.evidence_until))
        if report.evidence_until
        else t["report_keep_evidence"].format(days=report.evidence_retention_days),
        t["report_keep_marker"],
    ]
    body += (
        f"<section><h2>{escape(t['report_keeping'])}</h2><ul>"
        + "".join(f"<li>{escape(k)}</li>" for k in keeping)
        + "</ul></section>"
    )
    processors = "".join(
        f"<li>{escape(who)}: {escape(t.get(f'role_{role}', role))}</li>" for who, role in report.processors
    )
    body += (
        f"<section><h2>{escape(t['report_processors'].format(name=name))}</h2><ul>{processors}</ul></section>"
        f"<section><h2>{escape(t['report_rights'])}</h2><p>{escape(t['report_rights_text'])}</p></section>"
    )
    return _page(lang, t["report_title"], body, wide=True)


def erasure(lang: str, outcome: str, evidence_until: str | None) -> str:
    """The erasure's answer in words: what was erased, what was kept and why."""
    t = TEXT[lang]
    lead = {
        "deleted": t["erased_deleted"],
        "suppression_kept": t["erased_kept"],
        "already_erased": t["erased_again"],
        "nothing_held": t["erased_nothing"],
    }[outcome]
    kept = []
    if outcome in ("suppression_kept", "already_erased"):
        kept.append(t["erased_kept_marker"])
        if evidence_until:
            kept.append(t["erased_kept_evidence"].format(date=_date(lang, evidence_until)))
    items = "".join(f"<li>{escape(k)}</li>" for k in kept)
    body = f'<h1 data-status="{escape(outcome)}">{escape(t["erased_title"])}</h1><p>{escape(lead)}</p>' + (
        f"<ul>{items}</ul>" if items else ""
    )
    return _page(lang, t["erased_title"], body)
