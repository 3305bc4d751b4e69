"""Telegram's webhook check: the `secret_token` given to `setWebhook` comes back in
`X-Telegram-Bot-Api-Secret-Token` on every update (plain equality, compared in constant time)."""

from __future__ import annotations

import hmac
import re
import secrets

from qunyun.inbound.refusal import CallbackRefused

# setWebhook accepts 1-256 characters of A-Z, a-z, 0-9, _ and -.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def new_secret_token() -> str:
    return secrets.token_urlsafe(48)


def verify(secret_token: str, headers: dict[str, str]) -> None:
    given = headers.get("x-telegram-bot-api-secret-token", "")
    if not hmac.compare_digest(given.encode(), secret_token.encode()):
        raise CallbackRefused("token_invalid", "X-Telegram-Bot-Api-Secret-Token does not match")
