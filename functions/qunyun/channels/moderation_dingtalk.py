"""The guard on DingTalk, as the tenant's app (`qunyun connect dingtalk`: app_key, app_secret): members are
removed from scene groups (场景群, groups the app created from a template) with
`POST /topapi/im/chat/scenegroup/member/delete?access_token=…` `{open_conversation_id, user_ids}`, the token from
`GET /gettoken?appkey=…&appsecret=…` (reference/inbound.md §3). Ordinary groups have no removal API (the guard
makes those removals operator tasks before calling here) and no API recalls a member's message. Warnings go to
the group through its own custom robot (its webhook URL and signing secret, as the group's briefs do)."""

from __future__ import annotations

import httpx

from qunyun.channels.app_tokens import TokenCache, TokenRefused
from qunyun.channels.dingtalk_robot import DingtalkRobot
from qunyun.channels.result import Message, Target
from qunyun.domain.guard import Outcome

TOKEN_INVALID = {40014, 42001}  # an invalid or expired access_token: fetch anew


class DingtalkModeration:
    def __init__(self, base_url: str, client: httpx.Client, tokens: TokenCache | None = None):
        self.base_url, self.client, self.tokens = base_url.rstrip("/"), client, tokens or TokenCache()
        self.robot = DingtalkRobot(self.base_url, client=client, timeout=client.timeout.read or 5.0)

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
        if not target.webhook_url:
            return Outcome(False, "the DingTalk group has no robot webhook URL", unsupported=True)
        sent = self.robot.send(Target(webhook_url=target.webhook_url, secret=target.secret),
                               Message(text=text, title="群规提醒"))
        return Outcome(True) if sent.ok else Outcome(False, f"DingTalk robot: {sent.code} {sent.detail}"[:200])

    def restore(self, target, user_id: str) -> Outcome:
        return Outcome(False, "DingTalk keeps no ban to lift: the member may be added back", unsupported=True)
