"""Slack's request signing: `X-Slack-Signature: v0=` + hex HMAC-SHA256(signing secret, "v0:{ts}:{raw body}"),
refused when `X-Slack-Request-Timestamp` is more than 5 minutes from now."""

from __future__ import annotations

import hashlib
import hmac

from qunyun.inbound.refusal import CallbackRefused

WINDOW_SECONDS = 300


def signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + hmac.new(signing_secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def verify(signing_secret: str, headers: dict[str, str], body: bytes, now: float) -> None:
    timestamp = headers.get("x-slack-request-timestamp", "")
    if not timestamp.isdigit():
        raise CallbackRefused("signature_invalid", "X-Slack-Request-Timestamp is missing")
    if abs(now - int(timestamp)) > WINDOW_SECONDS:
        raise CallbackRefused("timestamp_out_of_window", "X-Slack-Request-Timestamp is more than 5 minutes away")
    if not hmac.compare_digest(signature(signing_secret, timestamp, body), headers.get("x-slack-signature", "")):
        raise CallbackRefused("signature_invalid", "X-Slack-Signature does not match")


def is_retry(headers: dict[str, str]) -> bool:
    """Slack marks its retries; the event id still decides, this only says why one arrived again."""
    return bool(headers.get("x-slack-retry-num"))
