"""Telegram's `setWebhook`: where updates go, the secret token they carry back, and the kinds wanted
(`chat_member` must be asked for by name; reference/inbound.md §4)."""

from __future__ import annotations

from qunyun.channels import transport
from qunyun.channels.result import Failure

ALLOWED_UPDATES = ["message", "chat_member", "my_chat_member"]


class WebhookRefused(Exception):
    pass


def set_webhook(base_url: str, bot_token: str, url: str, secret_token: str, timeout: float = 10.0) -> None:
    """Registers the webhook; raises WebhookRefused with Telegram's description when it is refused."""
    payload = {"url": url, "secret_token": secret_token, "allowed_updates": ALLOWED_UPDATES,
               "drop_pending_updates": False}
    with transport.make_client(timeout) as client:
        resp = transport.post(client, f"{base_url.rstrip('/')}/bot{bot_token}/setWebhook", payload=payload)
        if isinstance(resp, Failure):
            raise WebhookRefused(resp.detail)
        body = transport.json_body(resp) or {}
        if not body.get("ok"):
            raise WebhookRefused(str(body.get("description") or f"Telegram answered {resp.status_code}"))
