"""AWS Signature Version 4 for the pre-send reader's ``BatchGetItem`` (``store.batch``).

botocore's ``SigV4Auth`` spends ~65 µs per request keeping headers in e-mail header maps,
for a request whose headers are the same every time: ~0.7 µs per recipient of the check,
a twentieth of it. This is the same algorithm (AWS's "Create a signed AWS API request")
over a plain dict: a POST to one endpoint, no query string. It is checked byte for byte
against ``SigV4Auth`` (``tests/unit/test_sigv4.py``) and on the wire
(``tests/integration/test_batch_wire.py``); anything else keeps going through botocore.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.auth import SIGNED_HEADERS_BLACKLIST
from botocore.utils import normalize_url_path

ALGORITHM = "AWS4-HMAC-SHA256"
_UNSIGNED = frozenset(SIGNED_HEADERS_BLACKLIST)  # botocore's: proxies and the SDK may change them
_DEFAULT_PORTS = {"http": 80, "https": 443}


def signable(url: str) -> bool:
    """Whether ``Signer`` signs requests to ``url`` (no query string, no user info)."""
    parts = urlsplit(url)
    return bool(parts.hostname) and not parts.query and not parts.username and parts.scheme in _DEFAULT_PORTS


class Signer:
    """Signs POSTs to ``url`` for one service in one region."""

    def __init__(self, url: str, service: str, region: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"  # an IPv6 address, as the Host header writes it
        if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
            host = f"{host}:{parts.port}"
        self.host = host
        self.path = quote(normalize_url_path(parts.path or "/"), safe="/~")
        self.region = region
        self.service = service

    def sign(self, headers: dict[str, str], body: bytes, credentials: Any, now: float | None = None) -> None:
        """Add ``X-Amz-Date``, ``X-Amz-Security-Token`` (temporary credentials) and
        ``Authorization`` to ``headers`` for ``body``; ``credentials``: frozen botocore
        credentials (``access_key``, ``secret_key``, ``token``)."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
        headers["X-Amz-Date"] = stamp
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
        signed = {"host": self.host}
        for name, value in headers.items():
            lower = name.lower()
            if lower not in _UNSIGNED:
                signed[lower] = " ".join(value.split())
        names = sorted(signed)
        signed_names = ";".join(names)
        canonical = "\n".join(
            [
                "POST",
                self.path,
                "",  # no query string
                *(f"{name}:{signed[name]}" for name in names),
                "",
                signed_names,
                hashlib.sha256(body).hexdigest(),
            ]
        )
        day = stamp[:8]
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = _hmac(f"AWS4{credentials.secret_key}".encode(), day)
        for part in (self.region, self.service, "aws4_request"):
            key = _hmac(key, part)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (
            f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()
