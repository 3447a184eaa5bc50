"""API keys: random, shown once, stored as a sha256 digest."""

from __future__ import annotations

import hashlib
import secrets

KEY_BYTES = 32  # 256 bits -> 43 url-safe characters


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def hash_key(key: str) -> str:
    # A fast hash is right here: the key is 256 random bits, so there is nothing
    # to brute-force, and the digest must be an indexed lookup on every request.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
