"""One botocore session for the whole process, and the AWS clients made from it.

Every new botocore session loads the service models and endpoint data again (~45 ms per
client on a cold start, measured by ``bench.memory``); clients made from one session share
them (~3 ms each after the first). So DynamoDB (pynamodb and the pre-send batch reader),
SQS, SMS and the secrets all come from here, never from ``boto3.client`` or a new session.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import botocore.session

from smsconsent import settings

# Held while the session or a client is made: botocore's making of clients is not
# thread-safe (using one is).
LOCK = threading.RLock()
_session: botocore.session.Session | None = None


def session() -> botocore.session.Session:
    """The process's botocore session (made on first use)."""
    global _session
    if _session is None:
        with LOCK:
            if _session is None:
                _session = botocore.session.get_session()
    return _session


def refresh_session() -> None:
    """A new session in place of the current one, keeping the service models it loaded:
    clients made from now on resolve credentials again (SnapStart's restore)."""
    global _session
    with LOCK:
        old, _session = _session, botocore.session.get_session()
        if old is not None:
            _session.register_component("data_loader", old.get_component("data_loader"))
    reset()


def client(service: str, config: Any = None, endpoint_url: str | None = None) -> Any:
    """A new client of ``service`` in the settings' region. Callers keep it."""
    with LOCK:
        return session().create_client(
            service, region_name=settings.get().region, endpoint_url=endpoint_url, config=config
        )


def secret(ref: str, max_age: int) -> str:
    """A Secrets Manager secret's string (ARN or name), cached for ``max_age`` seconds."""
    return str(_secrets().get(ref, max_age=max_age))


def ssm_parameter(ref: str, max_age: int) -> str:
    """An SSM parameter's value (a SecureString decrypted), cached for ``max_age`` seconds."""
    return str(_ssm().get(ref, max_age=max_age, decrypt=True))


@cache
def _secrets() -> Any:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider  # lazy: AWS only

    return SecretsProvider(boto3_client=client("secretsmanager"))


@cache
def _ssm() -> Any:
    from aws_lambda_powertools.utilities.parameters import SSMProvider  # lazy: AWS only

    return SSMProvider(boto3_client=client("ssm"))


def reset() -> None:
    """Forget the cached secret readers (tests and the local stack move the region)."""
    _secrets.cache_clear()
    _ssm.cache_clear()
