"""Confirmation keys, the encrypted `encemail` value and the owner-change link."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote

from .model import ValidationResult

CONFIRM_TYPE = "PortalOwnerChange"

# ConfirmType.PortalOwnerChange as a number, which /authentication/confirm also accepts.
CONFIRM_TYPE_NUMBER = 6

# Keys count milliseconds from this instant (EmailValidationKeyProvider in DocSpace).
KEY_EPOCH = datetime(2010, 1, 1, tzinfo=timezone.utc)

# DocSpace's default for `email:validinterval`.
KEY_VALID_INTERVAL = timedelta(days=7)

_TAG_BYTES = 10
_NONCE_BYTES = 8


class LinkSigner:
    """Sign and check owner-change keys and encrypt emails with one portal secret.

    The hash covers the lowercased email, the confirm type, the uid and the
    timestamp, so none of them can be changed without the key becoming invalid.
    """

    def __init__(self, secret: bytes):
        self._secret = secret

    def make_key(self, email: str, confirm_type: str, uid: str, at: datetime) -> str:
        milliseconds = int((at - KEY_EPOCH).total_seconds() * 1000)
        return f"{milliseconds}.{self._hash(email, confirm_type, uid, milliseconds)}"

    def check_key(self, email: str, confirm_type: str, uid: str, key: str, now: datetime) -> ValidationResult:
        """Check a key the way DocSpace does: the hash first, then the age."""
        parts = [part for part in (key or "").split(".") if part]
        if len(parts) != 2 or not parts[0].lstrip("-").isdigit():
            return ValidationResult.INVALID

        milliseconds = int(parts[0])
        expected = self._hash(email, confirm_type, uid, milliseconds)

        # DocSpace compares the hash part case-insensitively.
        if not hmac.compare_digest(parts[1].upper(), expected):
            return ValidationResult.INVALID

        issued = KEY_EPOCH + timedelta(milliseconds=milliseconds)
        if now - issued > KEY_VALID_INTERVAL:
            return ValidationResult.EXPIRED
        return ValidationResult.OK

    def encrypt_email(self, email: str) -> str:
        """Encrypt an email for `encemail`; standard base64, so `+`, `/` and `=` occur."""
        nonce = os.urandom(_NONCE_BYTES)
        plain = email.encode()
        cipher = bytes(a ^ b for a, b in zip(plain, self._keystream(nonce, len(plain))))
        tag = hmac.new(self._secret, b"encemail" + nonce + cipher, hashlib.sha256).digest()[:_TAG_BYTES]
        return base64.b64encode(nonce + cipher + tag).decode()

    def decrypt_email(self, token: str) -> str | None:
        """Return the email inside an `encemail` value, or None when it was altered."""
        try:
            raw = base64.b64decode(token, validate=True)
        except (ValueError, TypeError):
            return None
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            return None

        nonce, cipher, tag = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:-_TAG_BYTES], raw[-_TAG_BYTES:]
        expected = hmac.new(self._secret, b"encemail" + nonce + cipher, hashlib.sha256).digest()[:_TAG_BYTES]
        if not hmac.compare_digest(tag, expected):
            return None

        plain = bytes(a ^ b for a, b in zip(cipher, self._keystream(nonce, len(cipher))))
        try:
            return plain.decode()
        except UnicodeDecodeError:
            return None

    def _hash(self, email: str, confirm_type: str, uid: str, milliseconds: int) -> str:
        message = "|".join((email.lower(), confirm_type, uid.lower(), str(milliseconds))).encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.b32encode(digest[:25]).decode().rstrip("=")

    def _keystream(self, nonce: bytes, length: int) -> bytes:
        blocks = []
        for counter in range(length // 32 + 1):
            blocks.append(hashlib.sha256(self._secret + nonce + counter.to_bytes(4, "big")).digest())
        return b"".join(blocks)[:length]


def build_link(base: str, *, key: str, uid: str, email: str | None = None, encemail: str | None = None) -> str:
    """Build the owner-change link; every query value is percent-encoded."""
    params = [("type", CONFIRM_TYPE), ("key", key)]
    if encemail is not None:
        params.append(("encemail", encemail))
    else:
        params.append(("email", email or ""))
    params.append(("uid", uid))
    query = "&".join(f"{name}={quote(value, safe='')}" for name, value in params)
    return f"{base}/confirm/{CONFIRM_TYPE}?{query}"


def parse_query(query: str) -> dict[str, str]:
    """Parse a query string like ASP.NET does: names case-insensitive, `+` is a space."""
    if query.startswith("?"):
        query = query[1:]
    values: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(name.lower(), value)
    return values
