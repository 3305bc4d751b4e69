"""Fake WeCom group robot: `POST /cgi-bin/webhook/send?key=KEY` (reference/channels.md)."""

from __future__ import annotations

from dataclasses import dataclass

from fakes.base import Answer, FakeServer, RateWindow, Request, json_or_none

MARKDOWN_LIMIT = 4096  # UTF-8 bytes, markdown and markdown_v2
TEXT_LIMIT = 2048


@dataclass
class Accepted:
    key: str
    msgtype: str
    content: str
    at: float


def error(errcode: int, errmsg: str) -> Answer:
    return Answer(200, {"errcode": errcode, "errmsg": errmsg})


class FakeWecomRobot(FakeServer):
    def __init__(self, clock=None):
        super().__init__(clock)
        self.keys: set[str] = set()
        self.revoked: set[str] = set()
        self.received: list[Accepted] = []
        self.rate = RateWindow(20, 60.0)  # 20 messages a minute per robot

    def add_robot(self, key: str) -> str:
        """Registers a robot; returns its webhook URL as WeCom shows it (at this fake's host)."""
        self.keys.add(key)
        return f"{self.base_url}/cgi-bin/webhook/send?key={key}"

    def revoke(self, key: str) -> None:
        """The robot was removed from the group: its key stops working."""
        self.revoked.add(key)

    def throttle(self, seconds: float = 60.0) -> None:
        self.force(error(45009, "api freq out of limit"), seconds)

    def handle(self, request: Request) -> Answer:
        if request.path != "/cgi-bin/webhook/send" or request.method != "POST":
            return Answer(404, "not found")
        key = request.query.get("key", "")
        if key not in self.keys or key in self.revoked:
            return error(93000, "invalid webhook url, hint: [wecom fake]")
        body = json_or_none(request)
        if not isinstance(body, dict) or "msgtype" not in body:
            return error(40008, "invalid message type")
        msgtype = body["msgtype"]
        if msgtype not in ("text", "markdown", "markdown_v2"):
            return error(40008, "invalid message type")
        content = str((body.get(msgtype) or {}).get("content", ""))
        if not content:
            return error(44004, "empty content")
        limit = TEXT_LIMIT if msgtype == "text" else MARKDOWN_LIMIT
        if len(content.encode("utf-8")) > limit:
            return error(40058, f"{msgtype}.content exceed max length {limit}. invalid Request Parameter")
        if self.rate.take(key, self.clock()) is not None:
            return error(45009, "api freq out of limit")
        self.received.append(Accepted(key, msgtype, content, self.clock()))
        return error(0, "ok")
