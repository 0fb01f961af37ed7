"""Amazon SNS SMS (``Publish`` to a phone number), for accounts not yet on End User Messaging."""

from __future__ import annotations

from typing import Any

from smsconsent import aws
from smsconsent.sender.base import SendError, SmsMessage, client_config

_PERMANENT = {"InvalidParameter", "InvalidParameterValue", "AuthorizationError", "NotFound"}


class SnsSender:
    def __init__(self) -> None:
        self._client: Any = None

    def send(self, message: SmsMessage) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            self._client = aws.client("sns", config=client_config())
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if message.origination_identity:
            attributes["AWS.MM.SMS.OriginationNumber"] = {
                "DataType": "String",
                "StringValue": message.origination_identity,
            }
        try:
            answer = self._client.publish(
                PhoneNumber=message.to, Message=message.body, MessageAttributes=attributes
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            opted_out = "OptedOut" in code
            raise SendError(
                f"SNS Publish failed: {code}",
                retryable=code not in _PERMANENT and not opted_out,
                opted_out=opted_out,
            ) from exc
        except BotoCoreError as exc:
            raise SendError(f"SNS Publish failed: {type(exc).__name__}") from exc
        return str(answer.get("MessageId", ""))
