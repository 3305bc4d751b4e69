"""DingTalk custom robot: markdown, `POST /robot/send?access_token=X&timestamp=T&sign=S`.

Facts (reference/channels.md): sign = URL-encoded Base64 of HMAC-SHA256 keyed with the secret over
`timestamp + "\\n" + secret`, timestamp in milliseconds and within an hour; 20 messages a minute per robot,
and a robot that exceeds it is throttled for 10 minutes. channels.md gives no size limit for markdown; we
keep parts within 4096 UTF-8 bytes, like WeCom's, so a part reads well on a phone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from qunyun.channels import transport
from qunyun.channels.base import HttpChannel, credential
from qunyun.channels.result import Failure, Message, Target, permanent, transient
from qunyun.channels.split import fit

LIMIT_BYTES = 4096
MAX_PARTS = 5  # a quarter of the robot's minute: bursting gets it throttled for 10 minutes
THROTTLE_SECONDS = 600.0

ERRORS = {
    -1: (True, "DingTalk is busy"),
    130101: (True, "the robot sent more than 20 messages a minute and is throttled for 10 minutes"),
    310000: (False, "DingTalk refused the robot's security check (signature, keyword or IP)"),
    300001: (False, "the robot's access_token does not exist (robot removed?)"),
    400102: (False, "the robot is disabled"),
}


def sign(timestamp_ms: str, secret: str) -> str:
    """DingTalk's recipe, before URL encoding (httpx encodes query parameters)."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def classify(errcode: int, errmsg: str) -> Failure | None:
    if errcode == 0:
        return None
    retry, meaning = ERRORS.get(errcode, (False, f"DingTalk refused the message: {errmsg[:200]}"))
    if errcode == 310000 and errmsg:
        meaning = f"{meaning}: {errmsg[:200]}"
    if errcode == 130101:
        return transient(str(errcode), meaning, THROTTLE_SECONDS)
    return transient(str(errcode), meaning, 1.0) if retry else permanent(str(errcode), meaning)


def title_of(message: Message, text: str) -> str:
    """DingTalk shows the title in the chat list; the first line stands in when the message has none."""
    if message.title:
        return message.title
    first = text.strip().split("\n", 1)[0]
    return re.sub(r"^[#>\s*-]+", "", first)[:64] or "…"


class DingtalkRobot(HttpChannel):
    name = "dingtalk_robot"
    setting = "dingtalk_base_url"

    def prepare(self, message: Message) -> list[str]:
        return fit(message.text, LIMIT_BYTES, unit="bytes", markup="markdown", max_parts=MAX_PARTS,
                   read_more_url=message.read_more_url, read_more_label=message.read_more_label)

    def check(self, target: Target) -> Failure | None:
        if not credential(target.webhook_url, query="access_token"):
            return permanent("no_token", "the group's webhook URL has no access_token=...")
        return None

    def send_part(self, target: Target, message: Message, text: str, index: int, count: int):
        params = {"access_token": credential(target.webhook_url, query="access_token")}
        if target.secret:
            params["timestamp"] = str(int(self.clock() * 1000))
            params["sign"] = sign(params["timestamp"], target.secret)
        payload = {"msgtype": "markdown", "markdown": {"title": title_of(message, text), "text": text}}
        resp = transport.post(self.client, f"{self.base_url}/robot/send", params=params, payload=payload)
        if isinstance(resp, Failure):
            return resp
        body = transport.json_body(resp)
        if body is None or "errcode" not in body:
            return transport.unexpected(resp, "DingTalk")
        return classify(int(body["errcode"]), str(body.get("errmsg", "")))
