"""Fake Slack: the incoming webhook, `POST /services/T…/B…/X…` (reference/channels.md), and the Web API calls
of the guard (fakes/slack_api.py)."""

from __future__ import annotations

from dataclasses import dataclass

from fakes.base import Answer, FakeServer, RateWindow, Request, json_or_none
from fakes.slack_api import SlackApi

TEXT_LIMIT = 40_000  # longer text is truncated, not refused
SECTION_LIMIT = 3_000
MAX_BLOCKS = 50


@dataclass
class Accepted:
    path: str
    text: str
    sections: list[str]
    at: float


class FakeSlackWebhook(SlackApi, FakeServer):
    def __init__(self, clock=None):
        super().__init__(clock)
        self._init_api()
        self.hooks: set[str] = set()
        self.revoked: set[str] = set()
        self.received: list[Accepted] = []
        self.rate = RateWindow(1, 1.0)  # about one message a second

    def add_webhook(self, path: str = "T000/B000/XXXX") -> str:
        self.hooks.add(path)
        return f"{self.base_url}/services/{path}"

    def revoke(self, path: str) -> None:
        self.revoked.add(path)

    def handle(self, request: Request) -> Answer:
        api = self.handle_api(request)
        if api is not None:
            return api
        path = request.path.removeprefix("/services/")
        if request.method != "POST" or path not in self.hooks:
            return Answer(404, "no_service")
        if path in self.revoked:
            return Answer(403, "invalid_token")
        body = json_or_none(request)
        if not isinstance(body, dict):
            return Answer(400, "invalid_payload")
        blocks = body.get("blocks") or []
        if not body.get("text") and not blocks:
            return Answer(400, "no_text")
        sections = [str((b.get("text") or {}).get("text", "")) for b in blocks if b.get("type") == "section"]
        if len(blocks) > MAX_BLOCKS or any(len(s) > SECTION_LIMIT for s in sections):
            return Answer(400, "invalid_blocks")
        wait = self.rate.take(path, self.clock())
        if wait is not None:
            return Answer(429, "rate_limited", {"Retry-After": str(max(1, round(wait)))})
        self.received.append(Accepted(path, str(body.get("text", ""))[:TEXT_LIMIT], sections, self.clock()))
        return Answer(200, "ok")
