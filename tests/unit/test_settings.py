"""Settings: read from the environment in one module only, typed, and failing fast with a
clear error when a Lambda function is not told its table."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsconsent import settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    settings.reset()
    yield monkeypatch
    monkeypatch.undo()
    settings.reset()  # the next test reads the environment it had before


def test_a_lambda_function_without_table_name_fails_at_first_use(env: pytest.MonkeyPatch) -> None:
    # Given a Lambda function whose environment lacks TABLE_NAME
    env.setenv("AWS_LAMBDA_FUNCTION_NAME", "sms-consent-SignupFunction")
    env.delenv("TABLE_NAME", raising=False)
    # When the settings are first read
    with pytest.raises(settings.SettingsError, match="TABLE_NAME"):
        settings.get()
    # Then the error stays until the environment names the table (nothing cached)
    with pytest.raises(settings.SettingsError):
        settings.get()
    env.setenv("TABLE_NAME", "sms-consent-prod")
    assert settings.get().table_name == "sms-consent-prod"


def test_outside_lambda_the_table_has_a_default(env: pytest.MonkeyPatch) -> None:
    env.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    env.delenv("TABLE_NAME", raising=False)
    assert settings.get().table_name == settings.DEFAULT_TABLE == "sms-consent"


def test_a_garbled_number_is_named(env: pytest.MonkeyPatch) -> None:
    env.setenv("TENANT_CACHE_SECONDS", "a minute")
    with pytest.raises(settings.SettingsError, match="TENANT_CACHE_SECONDS"):
        settings.get()


def test_values_are_typed(env: pytest.MonkeyPatch) -> None:
    env.setenv("TENANT_CACHE_SECONDS", "5")
    env.setenv("TWILIO_ACCOUNT_SID", "AC123")
    env.setenv("TWILIO_AUTH_TOKEN_SECRET_ARN", "arn:aws:secretsmanager:eu-central-1:1:secret:t")
    env.setenv("POWERTOOLS_SERVICE_NAME", "sms-consent-x")
    conf = settings.get()
    assert conf.tenant_cache_seconds == 5
    assert (conf.twilio_account_sid, conf.service_name) == ("AC123", "sms-consent-x")
    assert conf.twilio_auth_token_secret_arn == "arn:aws:secretsmanager:eu-central-1:1:secret:t"


def test_only_settings_reads_the_environment() -> None:
    # Given every module of the layer and every function
    sources = [*(ROOT / "layers").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    readers = []
    for path in sources:
        if path.name == "settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            named = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
            if isinstance(node, ast.Attribute | ast.Name) and named in ("environ", "getenv"):
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    # Then none but settings.py reads os.environ
    assert readers == []
