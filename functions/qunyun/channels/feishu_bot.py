"""Feishu / Lark custom bot: `POST /open-apis/bot/v2/hook/{token}`, rich text (post) or plain text, signed.

Facts (reference/channels.md): the body carries `timestamp` (seconds) and `sign` = Base64 of HMAC-SHA256
keyed with `timestamp + "\\n" + secret` over an empty message, valid for an hour; the body is at most 20 KB;
5 requests a second and 100 a minute per bot (11232 when throttled); 19021 is a bad or expired signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

from qunyun.channels import transport
from qunyun.channels.base import HttpChannel, credential
from qunyun.channels.result import Failure, Message, Target, permanent, transient
from qunyun.channels.split import fit

BODY_LIMIT_BYTES = 20 * 1024
MAX_PARTS = 3  # 5 a second: a longer brief would throttle itself
THROTTLE_RETRY_SECONDS = 60.0  # 11232 does not say which window (second or minute) was exceeded
_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]+)\)")

ERRORS = {
    11232: (True, "the bot sent more than 5 messages a second or 100 a minute"),
    19021: (False, "the signature is wrong or its timestamp is off by more than an hour (check the secret)"),
    19022: (False, "the bot only accepts requests from allowed IP addresses"),
    19024: (False, "the message lacks the bot's required keyword"),
    19001: (False, "the webhook token is invalid"),
    9499: (False, "Feishu rejected the request as malformed"),
}


def sign(timestamp: str, secret: str) -> str:
    """Feishu's recipe: the key is `timestamp\\nsecret` and the message is empty."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def classify(code: int, msg: str) -> Failure | None:
    if code == 0:
        return None
    retry, meaning = ERRORS.get(code, (False, f"Feishu refused the message: {msg[:200]}"))
    return transient(str(code), meaning, THROTTLE_RETRY_SECONDS) if retry else permanent(str(code), meaning)


def post_content(title: str, text: str) -> dict:
    """Markdown-ish text as a Feishu post: a paragraph per line, [label](url) as a link element."""
    paragraphs = []
    for line in text.split("\n"):
        elements, pos = [], 0
        for m in _LINK.finditer(line):
            if m.start() > pos:
                elements.append({"tag": "text", "text": line[pos:m.start()]})
            elements.append({"tag": "a", "text": m.group(1) or m.group(2), "href": m.group(2)})
            pos = m.end()
        if pos < len(line) or not elements:
            elements.append({"tag": "text", "text": line[pos:]})
        paragraphs.append(elements)
    return {"post": {"zh_cn": {"title": title, "content": paragraphs}}}


class FeishuBot(HttpChannel):
    name = "feishu_bot"
    setting = "feishu_base_url"

    def body(self, message: Message, text: str, timestamp: str | None = None, secret: str | None = None) -> dict:
        """A post when the message has a title, plain text otherwise; signed when the bot has a secret."""
        if message.title:
            body: dict = {"msg_type": "post", "content": post_content(message.title, text)}
        else:
            body = {"msg_type": "text", "content": {"text": text}}
        if secret:
            body = {"timestamp": timestamp, "sign": sign(timestamp, secret), **body}
        return body

    def prepare(self, message: Message) -> list[str]:
        # The limit is on the whole JSON body, which grows with escaping and post markup: fit the text to a
        # budget, measure the bodies, and shrink the budget until every one of them fits.
        budget = BODY_LIMIT_BYTES - 1024
        while True:
            parts = fit(message.text, budget, unit="bytes", markup="markdown", max_parts=MAX_PARTS,
                        read_more_url=message.read_more_url, read_more_label=message.read_more_label)
            sizes = [len(json.dumps(self.body(message, p, "1700000000", "s"), ensure_ascii=False).encode())
                     for p in parts]
            if all(s <= BODY_LIMIT_BYTES for s in sizes) or budget < 2048:
                return parts
            budget = budget * 9 // 10

    def check(self, target: Target) -> Failure | None:
        if not credential(target.webhook_url, after="/hook/"):
            return permanent("no_token", "the group's webhook URL has no /open-apis/bot/v2/hook/TOKEN")
        return None

    def send_part(self, target: Target, message: Message, text: str, index: int, count: int):
        token = credential(target.webhook_url, after="/hook/")
        body = self.body(message, text, str(int(self.clock())), target.secret)
        resp = transport.post(self.client, f"{self.base_url}/open-apis/bot/v2/hook/{token}", payload=body)
        if isinstance(resp, Failure):
            return resp
        answer = transport.json_body(resp)
        code = None if answer is None else answer.get("code", answer.get("StatusCode"))
        if code is None:
            return transport.unexpected(resp, "Feishu")
        return classify(int(code), str(answer.get("msg", answer.get("StatusMessage", ""))))
