"""Keyed subject hashes with a versioned pepper, and random tokens."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from typing import Any

import pytest

from smsconsent import keys, settings

V1 = "v1-pepper-0123456789abcdef"
V2 = "v2-pepper-fedcba9876543210"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
URLSAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def test_pepper_comes_from_the_environment(pepper: Any) -> None:
    # Given PEPPER_JSON set by the fixture
    # When the settings and the pepper are read
    # Then the pepper is the one in the environment
    assert settings.get().pepper_json is not None
    assert keys.pepper() == keys.Pepper(current="v1", keys={"v1": V1.encode()})


def test_no_pepper_configured_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given neither PEPPER_JSON nor PEPPER_SECRET_ARN
    monkeypatch.delenv("PEPPER_JSON", raising=False)
    monkeypatch.delenv("PEPPER_SECRET_ARN", raising=False)
    settings.reset()
    keys.reset()
    try:
        # When a hash is asked for
        # Then it is refused clearly
        with pytest.raises(keys.PepperError, match="no pepper configured"):
            keys.subject_hash("demo", "+4915112345678")
    finally:
        monkeypatch.undo()
        settings.reset()
        keys.reset()


def test_subject_hash_is_deterministic_hmac_with_version_prefix(pepper: Any) -> None:
    # Given pepper v1
    # When the same subject is hashed twice
    first = keys.subject_hash("demo", "+4915112345678")
    second = keys.subject_hash("demo", "+4915112345678")
    # Then both are the same "v1.<hex>" HMAC-SHA256 over tenant and number
    assert first == second
    version, _, digest = first.partition(".")
    assert version == "v1"
    assert HEX64.match(digest)
    expected = hmac.new(V1.encode(), b"demo\n+4915112345678", hashlib.sha256).hexdigest()
    assert digest == expected
    # And the number itself appears nowhere in the key
    assert "4915112345678" not in first


@pytest.mark.parametrize("length", [16, 63, 64, 65, 200])
def test_subject_hash_is_hmac_sha256_for_keys_of_every_length(
    monkeypatch: pytest.MonkeyPatch, length: int
) -> None:
    # Given a pepper key shorter than, as long as, and longer than SHA-256's block
    key = ("k" * length)[:length]
    monkeypatch.setenv("PEPPER_JSON", json.dumps({"current": "v9", "v9": key}))
    settings.reset()
    keys.reset()
    try:
        # When numbers (and a tenant id with non-ASCII letters) are hashed
        for tenant, number in (("demo", "+4915112345678"), ("bäckerei", "+14155550123"), ("t", "+1")):
            # Then each is the standard library's HMAC-SHA256 of "tenant\nnumber"
            expected = hmac.new(key.encode(), f"{tenant}\n{number}".encode(), hashlib.sha256).hexdigest()
            assert keys.subject_hash(tenant, number) == f"v9.{expected}"
    finally:
        monkeypatch.undo()
        settings.reset()
        keys.reset()


def test_subject_hash_differs_per_tenant_and_per_number(pepper: Any) -> None:
    # Given two tenants and two numbers
    # When all four combinations are hashed
    hashes = {
        keys.subject_hash(tenant, number)
        for tenant in ("demo", "other")
        for number in ("+4915112345678", "+4915112345679")
    }
    # Then they are all different (an opt-out at A says nothing about B)
    assert len(hashes) == 4


def test_tenant_and_number_cannot_be_shifted_into_each_other(pepper: Any) -> None:
    # Given a tenant/number split that concatenates to the same text without a separator
    # When both are hashed
    # Then they differ (the separator keeps the fields apart)
    assert keys.subject_hash("demo1", "+49151") != keys.subject_hash("demo", "1+49151")


def test_subject_hash_differs_with_another_pepper(pepper: Any) -> None:
    # Given a hash under one pepper
    before = keys.subject_hash("demo", "+4915112345678")
    # When the pepper is replaced by another one with the same version name
    pepper.use({"current": "v1", "v1": "another-secret-pepper-value"})
    # Then the hash changes: it is keyed, not a plain hash
    assert keys.subject_hash("demo", "+4915112345678") != before


def test_rotation_lists_current_first_and_keeps_old_hashes(pepper: Any) -> None:
    # Given a subject hashed under v1 only
    v1_hash = keys.subject_hash("demo", "+4915112345678")
    assert keys.subject_hashes("demo", "+4915112345678") == [v1_hash]
    # When the pepper is rotated: v2 current, v1 kept
    pepper.use({"current": "v2", "v1": V1, "v2": V2})
    hashes = keys.subject_hashes("demo", "+4915112345678")
    # Then new keys use v2, and lookups try v2 first, then v1
    assert [h.split(".")[0] for h in hashes] == ["v2", "v1"]
    assert hashes[0] == keys.subject_hash("demo", "+4915112345678")
    # And the v1 hash is exactly the one computed before the rotation
    assert hashes[1] == v1_hash
    assert keys.subject_hash("demo", "+4915112345678", "v1") == v1_hash


def test_versions_current_first_then_older_ones(pepper: Any) -> None:
    # Given three versions with v2 current
    pepper.use({"current": "v2", "v1": V1, "v2": V2, "v3": "v3-pepper-not-current-yet"})
    # When the versions are listed
    versions = keys.pepper().versions()
    # Then the current one comes first and each version once
    assert versions[0] == "v2"
    assert sorted(versions) == ["v1", "v2", "v3"]


def test_keyed_digest_uses_the_current_pepper(pepper: Any) -> None:
    # Given some personal data
    data = b'{"ip":"203.0.113.7"}'
    # When it is digested under two peppers
    first = keys.keyed_digest(data)
    pepper.use({"current": "v2", "v1": V1, "v2": V2})
    second = keys.keyed_digest(data)
    # Then it is the HMAC-SHA256 under the current key, named by its version, so it differs
    # per pepper
    assert first == "v1." + hmac.new(V1.encode(), data, hashlib.sha256).hexdigest()
    assert second == "v2." + hmac.new(V2.encode(), data, hashlib.sha256).hexdigest()
    assert first.partition(".")[2] != hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ("", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('"v1"', "JSON object"),
        (json.dumps({"v1": V1}), "current"),
        (json.dumps({"current": "v2", "v1": V1}), "current"),
        (json.dumps({"current": 1, "1": V1}), "current"),
        (json.dumps({"current": "v1", "v1": ""}), "current"),  # an empty key counts as missing
        (json.dumps({"current": "v1", "v1": None}), "current"),
        (json.dumps({"current": "v1", "v1": "short"}), "16"),
        (json.dumps({"current": "v1", "v1": "x" * 15}), "16"),
        (json.dumps({"current": "v2", "v1": "short", "v2": V2}), "16"),  # old keys too
        (json.dumps({"current": "v.1", "v.1": V1}), "'.'"),
        (json.dumps({"current": "v2", "v.1": V1, "v2": V2}), "'.'"),
    ],
)
def test_pepper_from_json_refusals(text: str, message: str) -> None:
    # Given a pepper secret that is broken in one way
    # When it is read
    with pytest.raises(keys.PepperError) as refused:
        keys.Pepper.from_json(text)
    # Then it is refused with a message saying what is wrong
    assert message in str(refused.value)


def test_pepper_from_json_accepts_the_generated_shape() -> None:
    # Given the template's generated secret shape with 16-character keys
    pep = keys.Pepper.from_json(json.dumps({"current": "v2", "v1": "a" * 16, "v2": "b" * 32}))
    # Then both versions are kept with v2 current
    assert pep.current == "v2"
    assert pep.keys == {"v1": b"a" * 16, "v2": b"b" * 32}
    assert pep.versions() == ["v2", "v1"]


def test_token_is_24_url_safe_characters() -> None:
    # Given fresh tokens
    for _ in range(100):
        token = keys.new_token()
        # Then each is 24 URL-safe characters (no padding, nothing to escape in a URL)
        assert len(token) == 24
        assert URLSAFE.match(token)


def test_token_carries_at_least_128_random_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the token generator watched
    asked: list[int] = []
    real = secrets.token_urlsafe

    def spy(nbytes: int | None = None) -> str:
        asked.append(nbytes or 32)
        return real(nbytes)

    monkeypatch.setattr(keys.secrets, "token_urlsafe", spy)
    # When a token is made
    token = keys.new_token()
    # Then it draws at least 16 bytes (128 bits) from the CSPRNG, and its 24 base64 characters
    # hold 144 bits
    assert asked and asked[0] * 8 >= 128
    assert len(token) * 6 >= 128
    assert len(token) == len(real(18))


def test_tokens_are_unique_over_10k_draws() -> None:
    # Given 10,000 tokens
    tokens = {keys.new_token() for _ in range(10_000)}
    # Then none repeats
    assert len(tokens) == 10_000


def test_optout_code_is_16_url_safe_characters_and_unique() -> None:
    # Given 10,000 opt-out codes
    codes = {keys.new_code() for _ in range(10_000)}
    # Then each is 16 URL-safe characters (96 bits) and none repeats
    assert len(codes) == 10_000
    assert all(len(c) == 16 and URLSAFE.match(c) for c in codes)


def test_token_hash_is_sha256_hex() -> None:
    # Given a token
    token = "AbCdEfGhIjKlMnOpQrStUvWx"
    # When it is hashed
    digest = keys.token_hash(token)
    # Then it is the lower-case SHA-256 hex of its UTF-8 bytes, and different tokens differ
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert HEX64.match(digest)
    assert keys.token_hash(token + "x") != digest
    assert token not in digest


@pytest.mark.parametrize(
    "key",
    [
        "ä" * 40,  # 40 characters, 80 bytes: hashed first, as a key longer than the block
        "é" * 32,  # 64 bytes exactly
        "ü" * 31 + "x",  # 63 bytes
        "k" * 16 + "\u0000",  # trailing zero bytes, as HMAC pads
    ],
)
def test_subject_hash_counts_a_key_s_length_in_bytes_not_characters(pepper: Any, key: str) -> None:
    # Given a pepper key with letters outside ASCII (its UTF-8 longer than its characters)
    pepper.use({"current": "v9", "v9": key})
    # When a number is hashed, Then it is the standard library's HMAC-SHA256
    expected = hmac.new(key.encode(), b"demo\n+4915112345678", hashlib.sha256).hexdigest()
    assert keys.subject_hash("demo", "+4915112345678") == f"v9.{expected}"


def test_subject_hashes_made_concurrently_are_hmac_new_s(pepper: Any) -> None:
    # Given two pepper versions, and their precomputed hash states not made yet
    import threading
    from concurrent.futures import ThreadPoolExecutor

    pepper.use({"current": "v2", "v1": V1, "v2": V2})
    keys.reset()
    threads = 16
    start = threading.Barrier(threads)

    def hashed(worker: int) -> list[tuple[str, str, list[str]]]:
        start.wait()  # all at once: the states are made, and copied, by every thread together
        numbers = [f"+4915{worker:02d}{i:06d}" for i in range(2_000)]
        return [(t, n, keys.subject_hashes(t, n)) for n in numbers for t in ("demo", f"t{worker}")]

    # When sixteen threads (the pre-send reader's pool size) key numbers at the same time
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = [r for found in pool.map(hashed, range(threads)) for r in found]
    # Then every key is hmac.new's, under each version
    assert len(results) == threads * 4_000
    for tenant, number, (v2, v1) in results:
        message = f"{tenant}\n{number}".encode()
        assert v2 == "v2." + hmac.new(V2.encode(), message, hashlib.sha256).hexdigest()
        assert v1 == "v1." + hmac.new(V1.encode(), message, hashlib.sha256).hexdigest()
