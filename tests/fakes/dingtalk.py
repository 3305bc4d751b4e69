"""Fake DingTalk: the custom robot, `POST /robot/send?access_token=X&timestamp=T&sign=S` (reference/channels.md),
and the app API calls of the guard (fakes/dingtalk_app.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from fakes.base import Answer, FakeServer, RateWindow, Request, json_or_none
from fakes.dingtalk_app import DingtalkApp

SIGNATURE_WINDOW_MS = 3600 * 1000
THROTTLE_SECONDS = 600  # a robot over 20 a minute is throttled for 10 minutes


@dataclass
class Robot:
    token: str
    secret: str | None = None
    keywords: tuple[str, ...] = ()


@dataclass
class Accepted:
    token: str
    msgtype: str
    title: str
    text: str
    at: float


def error(errcode: int, errmsg: str) -> Answer:
    return Answer(200, {"errcode": errcode, "errmsg": errmsg})


def expected_sign(timestamp_ms: str, secret: str) -> str:
    """channels.md's recipe, before URL encoding (the server sees the decoded query)."""
    mac = hmac.new(secret.encode("utf-8"), (timestamp_ms + "\n" + secret).encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


class FakeDingtalkRobot(DingtalkApp, FakeServer):
    def __init__(self, clock=None):
        super().__init__(clock)
        self._init_app()
        self.robots: dict[str, Robot] = {}
        self.revoked: set[str] = set()
        self.received: list[Accepted] = []
        self.rate = RateWindow(20, 60.0)
        self.throttled_until: dict[str, float] = {}

    def add_robot(self, token: str, secret: str | None = None, keywords: tuple[str, ...] = ()) -> str:
        self.robots[token] = Robot(token, secret, keywords)
        return f"{self.base_url}/robot/send?access_token={token}"

    def revoke(self, token: str) -> None:
        self.revoked.add(token)

    def handle(self, request: Request) -> Answer:
        app = self.handle_app(request)
        if app is not None:
            return app
        if request.method != "POST" or request.path != "/robot/send":
            return Answer(404, "not found")
        robot = self.robots.get(request.query.get("access_token", ""))
        if robot is None or robot.token in self.revoked:
            return error(300001, "token is not exist")
        now = self.clock()
        if robot.secret:
            ts = request.query.get("timestamp", "")
            if not ts.isdigit() or abs(now * 1000 - int(ts)) > SIGNATURE_WINDOW_MS:
                return error(310000, "invalid timestamp")
            if not hmac.compare_digest(request.query.get("sign", ""), expected_sign(ts, robot.secret)):
                return error(310000, "sign not match")
        body = json_or_none(request)
        msgtype = body.get("msgtype") if isinstance(body, dict) else None
        if msgtype not in ("text", "markdown", "link", "actionCard", "feedCard"):
            return error(40035, "缺少参数 json")
        part = body.get(msgtype) or {}
        text = str(part.get("text") or part.get("content") or "")
        title = str(part.get("title") or "")
        if msgtype == "markdown" and (not title or not text):
            return error(40035, "缺少参数 markdown.title or markdown.text")
        if robot.keywords and not any(k in text + title for k in robot.keywords):
            return error(310000, "keywords not in content")
        if now < self.throttled_until.get(robot.token, 0):
            return error(130101, "send too fast, exceed 20 times per minute")
        if self.rate.take(robot.token, now) is not None:
            self.throttled_until[robot.token] = now + THROTTLE_SECONDS
            return error(130101, "send too fast, exceed 20 times per minute")
        self.received.append(Accepted(robot.token, msgtype, title, text, now))
        return error(0, "ok")
