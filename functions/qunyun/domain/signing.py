"""The request signature of API.md §1: HMAC-SHA256 over "{timestamp}.{METHOD}.{path_and_query}.{raw_body}"."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def signing_payload(timestamp: str, method: str, path_and_query: str, body: bytes) -> bytes:
    return f"{timestamp}.{method.upper()}.{path_and_query}.".encode() + body


def sign(secret: str, timestamp: str, method: str, path_and_query: str, body: bytes = b"") -> str:
    mac = hmac.new(secret.encode(), signing_payload(timestamp, method, path_and_query, body), hashlib.sha256)
    return PREFIX + mac.hexdigest()


def matches(secret: str, signature: str, timestamp: str, method: str, path_and_query: str, body: bytes) -> bool:
    """Constant-time comparison of a presented signature with the expected one."""
    expected = sign(secret, timestamp, method, path_and_query, body)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def headers(tenant_id: str, secret: str, timestamp: int, method: str, path_and_query: str, body: bytes = b"") -> dict:
    """The three headers a caller sends; used by qunyun's own clients, fulfilment webhooks and tests."""
    ts = str(timestamp)
    return {
        "X-Qunyun-Tenant": tenant_id,
        "X-Qunyun-Timestamp": ts,
        "X-Qunyun-Signature": sign(secret, ts, method, path_and_query, body),
    }
