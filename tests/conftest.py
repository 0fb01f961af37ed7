"""Session-wide test environment: fake AWS credentials and region before anything imports
botocore, the local outbox instead of a provider, a fixed test pepper, and no connection
from this process to anything but loopback."""

from __future__ import annotations

import os

import pytest

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_REGION": "eu-central-1",
        "SMS_SENDER": "outbox",
        "PEPPER_JSON": '{"current": "t1", "t1": "test-pepper-not-a-secret-0123456789"}',
        "POWERTOOLS_SERVICE_NAME": "sms-consent-test",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "SmsConsentTest",
        # Test tenants carry {"value": ...} secrets, as the local stack's do; AWS refuses them.
        "ALLOW_PLAIN_SECRETS": "true",
    }
)
os.environ.pop("DYNAMODB_ENDPOINT", None)

# Their asserts (journeys assert every step) report values as a test module's do.
pytest.register_assert_rewrite("tests.fixtures")

# The fixtures several folders share (moto, the test Lambda context, the demo tenant and
# pepper, a local stack); helpers and journeys are imported from tests.fixtures by name.
pytest_plugins = [
    "tests.fixtures.aws",
    "tests.fixtures.context",
    "tests.fixtures.tenants",
    "tests.fixtures.stack",
    "tests.fixtures.consent_events",
    "tests.fixtures.insights",
    "tests.fixtures.receivers",
    "tests.fixtures.presend_exact",
]


# Tests send traffic only to loopback (imported after the rewrite is registered).
from tests.fixtures.network import install_loopback_guard  # noqa: E402

install_loopback_guard()
