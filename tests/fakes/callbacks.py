"""The platforms' side of callbacks: each builds a request signed or encrypted as the platform does, with the
inbound modules' own seal/encrypt/signature helpers (themselves tested against the published vectors).

Each builder returns a `Call`: method, query, headers and body, to send to `/v1/inbound/{platform}/{tenant}`."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from qunyun.inbound import dingtalk, feishu, slack
from qunyun.inbound.msgcrypt import MsgCrypt


@dataclass
class Call:
    method: str = "POST"
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def path(self, platform: str, tenant: str) -> str:
        suffix = f"?{urlencode(self.query)}" if self.query else ""
        return f"/v1/inbound/{platform}/{tenant}{suffix}"


def aes_key() -> str:
    """A fresh EncodingAESKey: 43 characters of base64 for 32 bytes."""
    import base64

    return base64.b64encode(secrets.token_bytes(32)).decode()[:43]


@dataclass
class WecomCallbacks:
    token: str
    aes_key: str
    corp_id: str

    @property
    def crypt(self) -> MsgCrypt:
        return MsgCrypt(self.token, self.aes_key, self.corp_id)

    def url_check(self, echo: str) -> Call:
        sealed = self.crypt.seal(echo, str(int(time.time())), secrets.token_hex(4))
        return Call("GET", {"msg_signature": sealed["msg_signature"], "timestamp": sealed["timeStamp"],
                            "nonce": sealed["nonce"], "echostr": sealed["encrypt"]})

    def event(self, xml: str) -> Call:
        sealed = self.crypt.seal(xml, str(int(time.time())), secrets.token_hex(4))
        body = f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><Encrypt><![CDATA[{sealed['encrypt']}]]>" \
               f"</Encrypt><AgentID><![CDATA[]]></AgentID></xml>"
        return Call("POST", {"msg_signature": sealed["msg_signature"], "timestamp": sealed["timeStamp"],
                             "nonce": sealed["nonce"]}, {"content-type": "text/xml"}, body.encode())

    @staticmethod
    def change_external_chat(chat_id: str, detail: str, members: list[str], at: int, *, scene: str = "0",
                             versions: tuple[str, str] | None = None) -> str:
        items = "".join(f"<Item><![CDATA[{m}]]></Item>" for m in members)
        scene_tag = "JoinScene" if detail == "add_member" else "QuitScene"
        version = f"<LastMemVer>{versions[0]}</LastMemVer><CurMemVer>{versions[1]}</CurMemVer>" if versions else ""
        return (f"<xml><ToUserName><![CDATA[corp]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
                f"<CreateTime>{at}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
                f"<Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[{chat_id}]]></ChatId>"
                f"<ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[{detail}]]></UpdateDetail>"
                f"<{scene_tag}>{scene}</{scene_tag}><MemChangeCnt>{len(members)}</MemChangeCnt>"
                f"<MemChangeList>{items}</MemChangeList>{version}</xml>")


@dataclass
class DingtalkCallbacks:
    app_key: str
    app_secret: str
    token: str
    aes_key: str

    def event(self, payload: dict) -> Call:
        sealed = MsgCrypt(self.token, self.aes_key, self.app_key).seal(
            json.dumps(payload), str(int(time.time() * 1000)), secrets.token_hex(4))
        return Call("POST", {"signature": sealed["msg_signature"], "timestamp": sealed["timeStamp"],
                             "nonce": sealed["nonce"]}, {"content-type": "application/json"},
                    json.dumps({"encrypt": sealed["encrypt"]}).encode())

    def robot(self, payload: dict) -> Call:
        stamp = str(int(time.time() * 1000))
        return Call("POST", {}, {"content-type": "application/json", "timestamp": stamp,
                                 "sign": dingtalk.robot_sign(self.app_secret, stamp)}, json.dumps(payload).encode())


@dataclass
class FeishuCallbacks:
    encrypt_key: str
    verification_token: str

    def _call(self, payload: dict) -> Call:
        body = json.dumps({"encrypt": feishu.encrypt(self.encrypt_key, json.dumps(payload))}).encode()
        stamp, nonce = str(int(time.time())), secrets.token_hex(4)
        return Call("POST", {}, {"content-type": "application/json", "x-lark-request-timestamp": stamp,
                                 "x-lark-request-nonce": nonce,
                                 "x-lark-signature": feishu.signature(stamp, nonce, self.encrypt_key, body)}, body)

    def url_verification(self, challenge: str) -> Call:
        return self._call({"challenge": challenge, "token": self.verification_token, "type": "url_verification"})

    def event(self, event_type: str, event: dict, event_id: str | None = None) -> Call:
        return self._call({"schema": "2.0", "header": {
            "event_id": event_id or secrets.token_hex(16), "token": self.verification_token,
            "create_time": str(int(time.time() * 1000)), "event_type": event_type, "tenant_key": "tk",
            "app_id": "cli_a"}, "event": event})


@dataclass
class SlackCallbacks:
    signing_secret: str

    def call(self, payload: dict, stamp: int | None = None, retry: int | None = None) -> Call:
        body = json.dumps(payload).encode()
        ts = str(int(time.time()) if stamp is None else stamp)
        headers = {"content-type": "application/json", "x-slack-request-timestamp": ts,
                   "x-slack-signature": slack.signature(self.signing_secret, ts, body)}
        if retry:
            headers |= {"x-slack-retry-num": str(retry), "x-slack-retry-reason": "http_timeout"}
        return Call("POST", {}, headers, body)


@dataclass
class TelegramCallbacks:
    secret_token: str

    def update(self, update: dict) -> Call:
        return Call("POST", {}, {"content-type": "application/json",
                                 "x-telegram-bot-api-secret-token": self.secret_token}, json.dumps(update).encode())
