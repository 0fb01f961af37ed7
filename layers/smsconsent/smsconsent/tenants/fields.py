"""The checks the tenant parser is made of: each raises ``TenantError`` naming the path at fault."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from smsconsent.tenants.model import SecretRef, TenantError

Kind = type | tuple[type, ...]


def req(doc: Mapping[str, Any], key: str, kind: Kind, path: str = "") -> Any:
    if key not in doc:
        raise TenantError(path + key, "is required")
    return typed(doc[key], kind, path + key)


def opt(doc: Mapping[str, Any], key: str, kind: Kind, default: Any, path: str = "") -> Any:
    if doc.get(key) is None:
        return default
    return typed(doc[key], kind, path + key)


def typed(value: Any, kind: Kind, path: str) -> Any:
    # bool is an int in Python; a tenant file saying "min_age": true is a mistake.
    if isinstance(value, bool) and kind is int:
        raise TenantError(path, "must be an integer")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise TenantError(path, f"must be {names}")
    return value


def positive(value: int, path: str, upper: int) -> int:
    if not 0 < value <= upper:
        raise TenantError(path, f"must be between 1 and {upper}")
    return value


def known(doc: Mapping[str, Any], keys: frozenset[str], prefix: str = "") -> None:
    """Refuse a key ``keys`` does not hold, naming it and its close match if any."""
    for key in doc:
        if key not in keys:
            close = difflib.get_close_matches(str(key), sorted(keys), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(keys))}"
            raise TenantError(f"{prefix}{key or repr(key)}", f"unknown key{hint}")


def section(doc: Mapping[str, Any], key: str, keys: frozenset[str]) -> dict[str, Any]:
    """The optional object ``doc[key]`` (empty when absent), holding only ``keys``."""
    value: dict[str, Any] = opt(doc, key, dict, {})
    known(value, keys, key + ".")
    return value


def texts(value: Any, path: str, languages: tuple[str, ...], required: bool = True) -> dict[str, str]:
    """A text per language: a plain string applies to all languages."""
    if isinstance(value, str):
        return {lang: value for lang in languages}
    value = typed(value, dict, path)
    out = {}
    for lang in languages:
        text = value.get(lang)
        if text is None and required:
            raise TenantError(f"{path}.{lang}", "is required for every tenant language")
        if text is not None:
            out[lang] = typed(text, str, f"{path}.{lang}")
    return out


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(value: Any, path: str) -> str:
    """A CORS origin as browsers send it: ``scheme://host[:port]``, lower case, no default
    port, no trailing slash. One with a path, query, fragment or user is refused."""
    value = typed(value, str, path)
    if value == "*":
        return "*"
    url(value, path)
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError as exc:
        raise TenantError(path, f"{value!r} has an invalid port") from exc
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in value or "#" in value:
        raise TenantError(
            path, f"{value!r} must be an origin (scheme://host[:port]), with no path, query or fragment"
        )
    if parts.username is not None or parts.password is not None:
        raise TenantError(path, f"{value!r} must be an origin, with no user or password")
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else "")


def url(value: str, path: str) -> str:
    """An absolute http(s) URL of printable ASCII without spaces. Checked before urlsplit,
    which drops tabs and line breaks unseen: such a URL went as it was into a Location
    header, an SMS link and a page's link."""
    if not value.isascii() or not value.isprintable() or " " in value:
        raise TenantError(
            path,
            "may hold printable ASCII characters only, without a space (percent-encode the path, "
            "write an international domain name in its xn-- form)",
        )
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # e.g. a broken IPv6 literal
        raise TenantError(path, "is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TenantError(path, "must be an absolute http(s) URL")
    return value


def secret(value: Any, path: str, plain: bool) -> SecretRef:
    value = typed(value, (str, dict), path)
    if isinstance(value, str):
        # A bare string is read as a reference, never as a secret in plain text.
        if value.startswith("arn:aws:secretsmanager:"):
            return SecretRef("secret", value)
        if value.startswith("ssm:"):
            return SecretRef("ssm", value[4:])
        raise TenantError(path, "must be {'value'|'secret'|'ssm': ...}, an ARN or 'ssm:/name'")
    if len(value) != 1 or next(iter(value)) not in ("value", "secret", "ssm"):
        raise TenantError(path, "must have exactly one of 'value', 'secret', 'ssm'")
    kind, ref = next(iter(value.items()))
    if kind == "value" and not plain:
        raise TenantError(
            path,
            "plain-text secrets ({'value': ...}) are for the local stack only; "
            "use {'secret': ARN} or {'ssm': name}",
        )
    return SecretRef(kind, typed(ref, str, f"{path}.{kind}"))
