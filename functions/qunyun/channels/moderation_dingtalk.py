"""The guard on DingTalk, as the tenant's app (`qunyun connect dingtalk`: app_key, app_secret): members are
removed from scene groups (场景群, groups the app created from a template) with
`POST /topapi/im/chat/scenegroup/member/delete?access_token=…` `{open_conversation_id, user_ids}`, the token from
`GET /gettoken?appkey=…&appsecret=…` (reference/inbound.md §3). Ordinary groups have no removal API (the guard
makes those removals operator tasks before calling here); no API recalls a member's message; the robot's
callbacks carry no way to post back into the group outside a session, so warnings are not posted."""

from __future__ import annotations

import httpx

from qunyun.channels.app_tokens import TokenCache, TokenRefused
from qunyun.domain.guard import Outcome

TOKEN_INVALID = {40014, 42001}  # an invalid or expired access_token: fetch anew


class DingtalkModeration:
    def __init__(self, base_url: str, client: httpx.Client, tokens: TokenCache | None = None):
        self.base_url, self.client, self.tokens = base_url.rstrip("/"), client, tokens or TokenCache()

    def _fetch(self, app_key: str, app_secret: str) -> tuple[str, float] | str:
        body = self.client.get(f"{self.base_url}/gettoken", params={"appkey": app_key, "appsecret": app_secret}).json()
        if body.get("errcode") != 0 or not body.get("access_token"):
            return f"DingTalk refused the app an access_token: {body.get('errcode')} {body.get('errmsg', '')}"[:200]
        return body["access_token"], float(body.get("expires_in") or 7200)

    def remove(self, target, user_id: str) -> Outcome:
        app_key, app_secret = target.app.get("app_key"), target.app.get("app_secret")
        if not app_key or not app_secret:
            return Outcome(False, "the DingTalk connection has no app_key and app_secret", unsupported=True)
        payload = {"open_conversation_id": target.chat_id, "user_ids": user_id}
        try:
            for _ in range(2):  # a token DingTalk no longer accepts is fetched again, once
                token = self.tokens.get(app_key, lambda: self._fetch(app_key, app_secret))
                body = self.client.post(f"{self.base_url}/topapi/im/chat/scenegroup/member/delete",
                                        params={"access_token": token}, json=payload).json()
                if body.get("errcode") not in TOKEN_INVALID:
                    break
                self.tokens.drop(app_key)
        except TokenRefused as e:
            return Outcome(False, str(e))
        except (httpx.HTTPError, ValueError, AttributeError) as e:
            return Outcome(False, f"DingTalk scenegroup member delete did not answer: {type(e).__name__}")
        if body.get("errcode") == 0:
            return Outcome(True)
        reason = f"DingTalk scenegroup member delete: {body.get('errcode')} {body.get('errmsg', '')}"
        return Outcome(False, reason[:200])

    def delete(self, target, message_id: str) -> Outcome:
        return Outcome(False, "DingTalk has no API that recalls a member's message", unsupported=True)

    def post(self, target, text: str) -> Outcome:
        return Outcome(False, "qunyun posts no warnings on DingTalk", unsupported=True)

    def restore(self, target, user_id: str) -> Outcome:
        return Outcome(False, "DingTalk keeps no ban to lift: the member may be added back", unsupported=True)
