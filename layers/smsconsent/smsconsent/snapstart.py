"""SnapStart: one snapshot of an initialised function restored into many environments.

With ``EnableSnapStart`` the functions people wait on are initialised once, when a version
is published; every new execution environment resumes from that memory image. Whatever the
image holds is therefore shared by all of them, and whatever it opened belongs to a past
that is gone:

- before the snapshot, the hook loads what every request needs and no request changes
  (the settings, botocore's service models of DynamoDB and SQS), so a restored environment
  does not spend its first request on it; it opens no connection and draws no randomness;
- after each restore, the hook makes a new botocore session (its credentials resolved
  again), so every client and connection is made anew (``environment.reload``), and
  reseeds ``random`` (botocore's retry jitter and the pre-send reader's backoff would
  otherwise draw the same sequence in every copy). Tokens and codes come from ``secrets``,
  which asks the operating system at each call, never from state in the image.

``snapshot_restore_py`` is part of Lambda's Python runtimes (3.12 and later); without it
(the local stack, tests that do not simulate a restore) ``register`` does nothing.
"""

from __future__ import annotations

import importlib
import random
from typing import Any

from smsconsent import aws, environment, settings
from smsconsent.observability import logger

# The services every SnapStart function calls on its first request.
_MODELS = ("dynamodb", "sqs")

restores = 0  # how often this process was restored (the tests look)
_registered = False


def before_snapshot() -> None:
    settings.get()
    session = aws.session()
    for service in _MODELS:
        session.get_service_model(service)


def after_restore() -> None:
    global restores
    aws.refresh_session()
    environment.reload()
    random.seed()  # from os.urandom: each restored copy its own sequence
    restores += 1
    logger.info("restored from a snapshot", extra={"restores": restores})


def register(hooks: Any = None) -> bool:
    """Register the hooks once (``hooks``: the runtime's ``snapshot_restore_py``); False
    when there is no runtime to register with."""
    global _registered
    if hooks is None:
        try:
            hooks = importlib.import_module("snapshot_restore_py")
        except ImportError:  # not a SnapStart runtime
            return False
    if not _registered:
        hooks.register_before_snapshot(before_snapshot)
        hooks.register_after_restore(after_restore)
        _registered = True
    return True
