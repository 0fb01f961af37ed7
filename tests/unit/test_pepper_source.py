"""The HMAC pepper comes from Secrets Manager in AWS (moto here), with its key versions."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from smsconsent import keys, settings


def test_pepper_is_read_from_secrets_manager(monkeypatch):
    with mock_aws():
        secret = boto3.client("secretsmanager", region_name="eu-central-1").create_secret(
            Name="sms-consent/pepper",
            SecretString=json.dumps({"current": "v2", "v1": "a" * 64, "v2": "b" * 64}),
        )
        monkeypatch.delenv("PEPPER_JSON", raising=False)
        monkeypatch.setenv("PEPPER_SECRET_ARN", secret["ARN"])
        settings.reset()
        keys.reset()
        try:
            pepper = keys.pepper()
            assert pepper.current == "v2" and pepper.versions() == ["v2", "v1"]
            assert keys.subject_hash("demo", "+4915112345678").startswith("v2.")
        finally:
            monkeypatch.undo()
            settings.reset()
            keys.reset()
