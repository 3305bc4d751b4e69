"""Fake Feishu: the custom bot, `POST /open-apis/bot/v2/hook/{token}` (reference/channels.md), and the Open API
calls of the guard (fakes/feishu_app.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from fakes.base import Answer, FakeServer, RateWindow, Request, json_or_none
from fakes.feishu_app import FeishuApp

BODY_LIMIT = 20 * 1024
SIGNATURE_WINDOW = 3600


@dataclass
class Bot:
    token: str
    secret: str | None = None
    keywords: tuple[str, ...] = ()


@dataclass
class Accepted:
    token: str
    msg_type: str
    text: str  # the visible text: a post's elements joined, a paragraph a line
    content: dict = field(repr=False)
    at: float = 0.0


def error(code: int, msg: str, status: int = 200) -> Answer:
    return Answer(status, {"code": code, "data": {}, "msg": msg})


def expected_sign(timestamp: str, secret: str) -> str:
    """Computed here independently of qunyun's code, from channels.md's recipe."""
    key = (timestamp + "\n" + secret).encode("utf-8")
    return base64.b64encode(hmac.new(key, digestmod=hashlib.sha256).digest()).decode()


def visible_text(msg_type: str, content: dict) -> str:
    if msg_type == "text":
        return str(content.get("text", ""))
    post = next(iter((content.get("post") or {}).values()), {})
    lines = ["".join(str(e.get("text", "")) for e in paragraph) for paragraph in post.get("content", [])]
    return "\n".join(lines)


class FakeFeishuBot(FeishuApp, FakeServer):
    def __init__(self, clock=None):
        super().__init__(clock)
        self._init_app()
        self.bots: dict[str, Bot] = {}
        self.revoked: set[str] = set()
        self.received: list[Accepted] = []
        self.per_second = RateWindow(5, 1.0)
        self.per_minute = RateWindow(100, 60.0)

    def add_bot(self, token: str, secret: str | None = None, keywords: tuple[str, ...] = ()) -> str:
        self.bots[token] = Bot(token, secret, keywords)
        return f"{self.base_url}/open-apis/bot/v2/hook/{token}"

    def revoke(self, token: str) -> None:
        self.revoked.add(token)

    def throttle(self, seconds: float = 60.0) -> None:
        self.force(error(11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]"), seconds)

    def handle(self, request: Request) -> Answer:
        app = self.handle_app(request)
        if app is not None:
            return app
        prefix = "/open-apis/bot/v2/hook/"
        if request.method != "POST" or not request.path.startswith(prefix):
            return Answer(404, "404 page not found")
        bot = self.bots.get(request.path.removeprefix(prefix))
        if bot is None or bot.token in self.revoked:
            return error(19001, "param invalid: incoming webhook access token invalid", 400)
        if len(request.body) > BODY_LIMIT:
            return error(9499, "Bad Request: request body exceeds 20 KB", 400)
        body = json_or_none(request)
        if not isinstance(body, dict) or body.get("msg_type") not in ("text", "post", "image", "share_chat",
                                                                      "interactive"):
            return error(9499, "Bad Request", 400)
        if bot.secret:
            ts, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
            fresh = ts.isdigit() and abs(self.clock() - int(ts)) <= SIGNATURE_WINDOW
            if not fresh or not hmac.compare_digest(sign, expected_sign(ts, bot.secret)):
                return error(19021, "sign match fail or timestamp is not within one hour from current time")
        content = body.get("content") or {}
        text = visible_text(body["msg_type"], content)
        if bot.keywords and not any(k in text for k in bot.keywords):
            return error(19024, "Key Words Not Found")
        now = self.clock()
        if self.per_second.take(bot.token, now) is not None or self.per_minute.take(bot.token, now) is not None:
            return error(11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]")
        self.received.append(Accepted(bot.token, body["msg_type"], text, content, now))
        return Answer(200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"})
