"""The guard on Slack, with the connection's bot token (`qunyun connect slack`): `chat.delete`,
`chat.postMessage` and `conversations.kick` (reference/inbound.md §5).

A bot token deletes only the bot's own messages: Slack answers `cant_delete_message` for a member's, and that
answer is recorded as the deletion's failure. Every method answers HTTP 200 with `ok` false and an `error`
(`not_in_channel`, `cant_kick_self`, `restricted_action`, `missing_scope`, ...) when it refuses."""

from __future__ import annotations

import httpx

from qunyun.domain.guard import Outcome


class SlackModeration:
    def __init__(self, base_url: str, client: httpx.Client):
        self.base_url, self.client = base_url.rstrip("/"), client

    def _call(self, target, method: str, payload: dict) -> Outcome:
        token = target.app.get("bot_token")
        if not token:
            return Outcome(False, "the Slack connection has no bot token", unsupported=True)
        try:
            resp = self.client.post(f"{self.base_url}/api/{method}", json={"channel": target.chat_id, **payload},
                                    headers={"Authorization": f"Bearer {token}"})
            body = resp.json()
        except (httpx.HTTPError, ValueError) as e:
            return Outcome(False, f"Slack {method} did not answer: {type(e).__name__}")
        if isinstance(body, dict) and body.get("ok"):
            return Outcome(True)
        error = body.get("error") if isinstance(body, dict) else None
        return Outcome(False, f"Slack {method}: {error or resp.status_code}"[:200])

    def delete(self, target, message_id: str) -> Outcome:
        return self._call(target, "chat.delete", {"ts": message_id})

    def post(self, target, text: str) -> Outcome:
        return self._call(target, "chat.postMessage", {"text": text})

    def remove(self, target, user_id: str) -> Outcome:
        return self._call(target, "conversations.kick", {"user": user_id})

    def restore(self, target, user_id: str) -> Outcome:
        return Outcome(False, "Slack keeps no ban to lift: the member may be invited back", unsupported=True)
