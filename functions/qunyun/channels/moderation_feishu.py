"""The guard on Feishu, as the tenant's app (`qunyun connect feishu`: app_id, app_secret) with its
tenant_access_token: recall a message (`DELETE /open-apis/im/v1/messages/:message_id`, the bot being the group's
owner, an admin or its creator), post a warning (`POST /open-apis/im/v1/messages?receive_id_type=chat_id`) and
remove a member (`DELETE /open-apis/im/v1/chats/:chat_id/members?member_id_type=open_id`, `{"id_list": [...]}`).

Feishu answers `code` 0 or a refusal with its `msg` (232014 no permission, 232076 the chat's owner, ...); a removal
answers the ids it could not act on in `invalid_id_list` and `not_existed_id_list` (reference/inbound.md §2)."""

from __future__ import annotations

import json

import httpx

from qunyun.channels.app_tokens import TokenCache, TokenRefused
from qunyun.domain.guard import Outcome

TOKEN_INVALID = {99991663, 99991661, 99991668}  # invalid, missing or expired tenant_access_token: fetch anew


class FeishuModeration:
    def __init__(self, base_url: str, client: httpx.Client, tokens: TokenCache | None = None):
        self.base_url, self.client, self.tokens = base_url.rstrip("/"), client, tokens or TokenCache()

    def _fetch(self, app_id: str, app_secret: str) -> tuple[str, float] | str:
        resp = self.client.post(f"{self.base_url}/open-apis/auth/v3/tenant_access_token/internal",
                                json={"app_id": app_id, "app_secret": app_secret})
        body = resp.json()
        if body.get("code") != 0 or not body.get("tenant_access_token"):
            return f"Feishu refused the app a tenant_access_token: {body.get('code')} {body.get('msg', '')}"[:200]
        return body["tenant_access_token"], float(body.get("expire") or 7200)

    def _call(self, target, method: str, path: str, what: str, **kwargs) -> tuple[Outcome, dict]:
        app_id, app_secret = target.app.get("app_id"), target.app.get("app_secret")
        if not app_id or not app_secret:
            return Outcome(False, "the Feishu connection has no app_id and app_secret", unsupported=True), {}
        try:
            for _ in range(2):  # a token Feishu no longer accepts is fetched again, once
                token = self.tokens.get(app_id, lambda: self._fetch(app_id, app_secret))
                resp = self.client.request(method, f"{self.base_url}{path}",
                                           headers={"Authorization": f"Bearer {token}"}, **kwargs)
                body = resp.json()
                if body.get("code") not in TOKEN_INVALID:
                    break
                self.tokens.drop(app_id)
        except TokenRefused as e:
            return Outcome(False, str(e)), {}
        except (httpx.HTTPError, ValueError, AttributeError) as e:
            return Outcome(False, f"Feishu {what} did not answer: {type(e).__name__}"), {}
        if body.get("code") == 0:
            return Outcome(True), body.get("data") or {}
        return Outcome(False, f"Feishu {what}: {body.get('code')} {body.get('msg', '')}"[:200]), {}

    def delete(self, target, message_id: str) -> Outcome:
        return self._call(target, "DELETE", f"/open-apis/im/v1/messages/{message_id}", "recall")[0]

    def post(self, target, text: str) -> Outcome:
        return self._call(target, "POST", "/open-apis/im/v1/messages", "send", params={"receive_id_type": "chat_id"},
                          json={"receive_id": target.chat_id, "msg_type": "text",
                                "content": json.dumps({"text": text}, ensure_ascii=False)})[0]

    def remove(self, target, user_id: str) -> Outcome:
        outcome, data = self._call(target, "DELETE", f"/open-apis/im/v1/chats/{target.chat_id}/members",
                                   "chat members delete", params={"member_id_type": "open_id"},
                                   json={"id_list": [user_id]})
        if not outcome.ok:
            return outcome
        if user_id in (data.get("invalid_id_list") or []):
            return Outcome(False, f"Feishu chat members delete: {user_id} is not a valid open_id (invalid_id_list)")
        if user_id in (data.get("not_existed_id_list") or []):
            return Outcome(True, "not in the chat any more (not_existed_id_list)")
        return outcome

    def restore(self, target, user_id: str) -> Outcome:
        # A removal on Feishu bans nothing: the member may come back by invitation or link.
        return Outcome(False, "Feishu keeps no ban to lift: the member may rejoin by invitation", unsupported=True)
