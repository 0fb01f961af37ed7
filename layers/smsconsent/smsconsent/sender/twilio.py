"""Twilio Programmable Messaging (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

The account SID comes from ``TWILIO_ACCOUNT_SID`` and the auth token from the Secrets
Manager secret ``TWILIO_AUTH_TOKEN_SECRET_ARN`` (never from the template), both through
``settings``. The stdlib's
urllib is enough for one form post; the Twilio SDK would add megabytes to the layer."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from smsconsent import settings
from smsconsent.sender.base import CONNECT_SECONDS, READ_SECONDS, SendError, SmsMessage

API = "https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json"
OPTED_OUT = 21610  # "Attempt to send to unsubscribed recipient": the number replied STOP to Twilio


class TwilioSender:
    def __init__(self, account_sid: str | None = None, auth_token: str | None = None) -> None:
        self._sid = account_sid or settings.get().twilio_account_sid
        self._token = auth_token

    def _auth(self) -> str:
        if self._token is None:
            from smsconsent import aws  # lazy: only AWS reads secrets

            arn = settings.get().twilio_auth_token_secret_arn
            if arn is None:
                raise settings.SettingsError(
                    "TWILIO_AUTH_TOKEN_SECRET_ARN is not set: SMS_SENDER=twilio needs it"
                )
            self._token = aws.secret(arn, max_age=300)
        return base64.b64encode(f"{self._sid}:{self._token}".encode()).decode()

    def send(self, message: SmsMessage) -> str:
        sender = message.origination_identity or ""
        form = {"To": message.to, "Body": message.body}
        form["MessagingServiceSid" if sender.startswith("MG") else "From"] = sender
        request = urllib.request.Request(  # noqa: S310 - a fixed https URL
            API.format(sid=urllib.parse.quote(self._sid)),
            data=urllib.parse.urlencode(form).encode(),
            headers={
                "Authorization": f"Basic {self._auth()}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=CONNECT_SECONDS + READ_SECONDS) as answer:  # noqa: S310
                return str(json.load(answer).get("sid", ""))
        except urllib.error.HTTPError as exc:
            with exc:
                raise _error(exc.code, exc.read()) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SendError(f"Twilio unreachable: {type(exc).__name__}") from exc


def _error(status: int, body: bytes) -> SendError:
    try:
        detail: Any = json.loads(body)
    except ValueError:
        detail = {}
    code = detail.get("code") if isinstance(detail, dict) else None
    if code == OPTED_OUT:
        return SendError(f"Twilio {code}: the number opted out with Twilio", retryable=False, opted_out=True)
    # Throttling and Twilio's own failures may pass; anything else about the request will not.
    return SendError(f"Twilio answered {status} ({code})", retryable=status == 429 or status >= 500)
