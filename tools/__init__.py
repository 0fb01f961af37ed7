"""Operators' command-line tools (``python -m tools.<name>``).

The domain package is the Lambda layer's code: importing this package puts it on the path
as Lambda would, so every tool works from a plain checkout (no PYTHONPATH needed)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_LAYER = str(ROOT / "layers" / "smsconsent")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)


def dynamodb() -> Any:
    """A DynamoDB client from the usual credentials and region; ``DYNAMODB_ENDPOINT`` points
    it at another DynamoDB-compatible endpoint (DynamoDB Local, say)."""
    import boto3

    return boto3.client("dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT") or None)
