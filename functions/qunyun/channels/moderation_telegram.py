"""The guard on Telegram: deleteMessages (a batch's offending messages of a chat, up to 100 a call), sendMessage,
banChatMember then unbanChatMember(only_if_banned) — a removal, not a permanent ban (reference/inbound.md §4) —
and unbanChatMember to let a removed member back."""

from __future__ import annotations

import httpx

from qunyun.domain.guard import Outcome

DELETE_AT_ONCE = 100  # deleteMessages takes 1-100 message ids


class TelegramModeration:
    def __init__(self, base_url: str, client: httpx.Client):
        self.base_url, self.client = base_url.rstrip("/"), client

    def _call(self, target, method: str, payload: dict) -> Outcome:
        if not target.secret:
            return Outcome(False, "the group has no bot token", unsupported=True)
        try:
            resp = self.client.post(f"{self.base_url}/bot{target.secret}/{method}",
                                    json={"chat_id": target.chat_id, **payload})
            body = resp.json()
        except (httpx.HTTPError, ValueError) as e:
            return Outcome(False, f"Telegram {method} did not answer: {type(e).__name__}")
        if isinstance(body, dict) and body.get("ok"):
            return Outcome(True)
        description = str((body or {}).get("description", resp.status_code))[:200] if isinstance(body, dict) \
            else str(resp.status_code)
        return Outcome(False, f"Telegram {method}: {description}")

    def delete(self, target, message_id: str) -> Outcome:
        return self._call(target, "deleteMessage", {"message_id": message_id})

    def delete_many(self, target, message_ids: list[str]) -> list[Outcome]:
        """deleteMessages, 100 ids a call; Telegram skips a message it cannot find (already deleted)."""
        out: list[Outcome] = []
        for start in range(0, len(message_ids), DELETE_AT_ONCE):
            chunk = message_ids[start:start + DELETE_AT_ONCE]
            numbers = [int(m) for m in chunk if m.isdigit()]
            outcome = self._call(target, "deleteMessages", {"message_ids": numbers}) if numbers else None
            out += [outcome if m.isdigit() and outcome else Outcome(False, f"Telegram has no message {m!r}")
                    for m in chunk]
        return out

    def post(self, target, text: str) -> Outcome:
        return self._call(target, "sendMessage", {"text": text})

    def remove(self, target, user_id: str) -> Outcome:
        banned = self._call(target, "banChatMember", {"user_id": user_id})
        if not banned.ok:
            return banned
        self._call(target, "unbanChatMember", {"user_id": user_id, "only_if_banned": True})
        return banned

    def restore(self, target, user_id: str) -> Outcome:
        return self._call(target, "unbanChatMember", {"user_id": user_id, "only_if_banned": True})
