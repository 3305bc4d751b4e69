"""The guard's platform calls: delete a message, post a warning, remove a member, let a removed member back.

Telegram: deleteMessage, sendMessage, banChatMember then unbanChatMember(only_if_banned) — a removal, not a
permanent ban (reference/inbound.md §4). The other platforms answer `unsupported`, which the guard turns into
an operator task with the evidence."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from qunyun.channels import transport
from qunyun.domain.guard import Outcome


@dataclass(frozen=True)
class ModTarget:
    platform: str
    chat_id: str
    secret: str | None  # Telegram: the group's bot token


class Moderation:
    def __init__(self, telegram_base_url: str, timeout: float = 5.0):
        self.telegram = telegram_base_url.rstrip("/")
        self.client = transport.make_client(timeout)

    def _telegram(self, target: ModTarget, method: str, payload: dict) -> Outcome:
        if not target.secret:
            return Outcome(False, "the group has no bot token", unsupported=True)
        try:
            resp = self.client.post(f"{self.telegram}/bot{target.secret}/{method}",
                                    json={"chat_id": target.chat_id, **payload})
            body = resp.json()
        except (httpx.HTTPError, ValueError) as e:
            return Outcome(False, f"Telegram {method} did not answer: {type(e).__name__}")
        if isinstance(body, dict) and body.get("ok"):
            return Outcome(True)
        description = str((body or {}).get("description", resp.status_code))[:200] if isinstance(body, dict) \
            else str(resp.status_code)
        return Outcome(False, f"Telegram {method}: {description}")

    def _unsupported(self, target: ModTarget, what: str) -> Outcome:
        return Outcome(False, f"qunyun cannot {what} on {target.platform} yet", unsupported=True)

    def delete(self, target: ModTarget, message_id: str) -> Outcome:
        if target.platform == "telegram":
            return self._telegram(target, "deleteMessage", {"message_id": message_id})
        return self._unsupported(target, "delete a message")

    def post(self, target: ModTarget, text: str) -> Outcome:
        if target.platform == "telegram":
            return self._telegram(target, "sendMessage", {"text": text})
        return self._unsupported(target, "post a warning")

    def remove(self, target: ModTarget, user_id: str) -> Outcome:
        if target.platform != "telegram":
            return self._unsupported(target, "remove a member")
        banned = self._telegram(target, "banChatMember", {"user_id": user_id})
        if not banned.ok:
            return banned
        self._telegram(target, "unbanChatMember", {"user_id": user_id, "only_if_banned": True})
        return banned

    def restore(self, target: ModTarget, user_id: str) -> Outcome:
        if target.platform != "telegram":
            return self._unsupported(target, "let a removed member back")
        return self._telegram(target, "unbanChatMember", {"user_id": user_id, "only_if_banned": True})
