"""AWS End User Messaging SMS (``pinpoint-sms-voice-v2`` SendTextMessage)."""

from __future__ import annotations

from typing import Any

from smsconsent import aws
from smsconsent.sender.base import SendError, SmsMessage, client_config

# Error codes that will not get better by trying again.
_PERMANENT = {"ValidationException", "AccessDeniedException", "ResourceNotFoundException"}


class EndUserMessagingSender:
    def __init__(self) -> None:
        self._client: Any = None

    def _sms(self) -> Any:
        if self._client is None:
            self._client = aws.client("pinpoint-sms-voice-v2", config=client_config())
        return self._client

    def send(self, message: SmsMessage) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        args: dict[str, Any] = {
            "DestinationPhoneNumber": message.to,
            "MessageBody": message.body,
            # Confirmations, STOP and HELP replies are not marketing.
            "MessageType": "TRANSACTIONAL",
            "Context": {"tenant": message.tenant, "kind": message.kind},
        }
        if message.origination_identity:
            args["OriginationIdentity"] = message.origination_identity
        if message.configuration_set:
            args["ConfigurationSetName"] = message.configuration_set
        try:
            answer = self._sms().send_text_message(**args)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            reason = exc.response.get("Reason", "") or error.get("Reason", "")
            opted_out = "OPTED_OUT" in str(reason) or "OPTED_OUT" in str(error.get("Message", ""))
            raise SendError(
                f"SendTextMessage failed: {code} {reason}".strip(),
                retryable=code not in _PERMANENT and not opted_out,
                opted_out=opted_out,
            ) from exc
        except BotoCoreError as exc:
            raise SendError(f"SendTextMessage failed: {type(exc).__name__}") from exc
        return str(answer.get("MessageId", ""))
