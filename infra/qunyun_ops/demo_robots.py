"""The demo's stand-in for the chat platforms: one small HTTP server on 127.0.0.1 that answers as a WeCom group
robot, a DingTalk robot, a Feishu bot and a Telegram bot accept a message, and records what each robot received; WeCom's
customer-group mass-send API is answered by its own stand-in (demo_wecom.py) on the same base URL, as on WeCom.
It also answers the guard's Telegram calls (deleteMessage, deleteMessages, banChatMember, unbanChatMember) and
records them.

The demo points the local stack's channels at it (QUNYUN_WECOM_BASE_URL and friends), so the demo groups'
robots "receive" their briefs without anything leaving the machine. It checks nothing (tests/fakes/ holds
the faithful fakes, with signatures, limits and error codes); any other platform call is answered 404, which
the channels record as a failure instead of reaching the real platform.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from qunyun_ops.demo_links import DemoJoinLinks
from qunyun_ops.demo_wecom import DemoWecom

PLATFORMS = ("wecom", "dingtalk", "feishu", "slack", "telegram")
CORP_ID, CORP_SECRET = "ww-demo-tea", "demo-corp-secret"  # the demo tenant's corp and 客户联系 secret
MODERATION = ("deleteMessage", "deleteMessages", "banChatMember", "unbanChatMember")  # the guard's Telegram calls


@dataclass(frozen=True)
class Received:
    platform: str
    robot: str  # the robot's key or token, as the webhook URL names it
    text: str


def _text(platform: str, body: dict) -> str:
    if platform == "feishu":
        content = body.get("content") or {}
        if "text" in content:
            return str(content["text"])
        post = (content.get("post") or {}).get("zh_cn") or next(iter((content.get("post") or {}).values()), {})
        lines = ["".join(str(part.get("text", "")) for part in line) for line in post.get("content", [])]
        return "\n".join([post.get("title", ""), *lines]).strip() or json.dumps(content, ensure_ascii=False)
    if platform == "telegram":
        return str(body.get("text", ""))
    msgtype = body.get("msgtype", "")
    part = body.get(msgtype) or {}
    return str(part.get("content") or part.get("text") or "")


class DemoRobots:
    """A context manager: `base_url` serves every platform's robot API; `received` lists accepted messages."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.moderated: list[tuple[str, str, str]] = []  # (Telegram method, chat, message or user id)
        self.wecom = DemoWecom(CORP_ID, CORP_SECRET)
        self.links = DemoJoinLinks(self.wecom)  # WeCom's join ways and Telegram's invite links (demo_links.py)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server, "start the demo robots first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def environment(self) -> dict[str, str]:
        """The channel settings that send every robot and bot here (settings.py reads them)."""
        return {f"QUNYUN_{p.upper()}_BASE_URL": self.base_url for p in PLATFORMS}

    def _answer(self, method: str, path: str, query: dict[str, str], body: dict) -> tuple[int, dict]:
        answered = self.links.answer(method, path, query, body) or self.wecom.answer(method, path, query, body)
        if answered is not None:
            return answered
        if method == "POST" and path == "/cgi-bin/webhook/send":
            self._keep("wecom_robot", query.get("key", ""), body)
            return 200, {"errcode": 0, "errmsg": "ok"}
        if method == "POST" and path == "/robot/send":
            self._keep("dingtalk_robot", query.get("access_token", ""), body)
            return 200, {"errcode": 0, "errmsg": "ok"}
        if method == "POST" and path.startswith("/open-apis/bot/v2/hook/"):
            self._keep("feishu_bot", path.rsplit("/", 1)[1], body)
            return 200, {"code": 0, "msg": "success", "data": {}}
        if method == "POST" and path.startswith("/bot") and path.endswith("/sendMessage"):
            self._keep("telegram_bot", str(body.get("chat_id", "")), body)
            return 200, {"ok": True, "result": {"message_id": len(self.received)}}
        if method == "POST" and path.startswith("/bot") and path.rsplit("/", 1)[1] in MODERATION:
            with self._lock:  # the guard's calls: what it deleted, and whom it removed
                self.moderated.append((path.rsplit("/", 1)[1], str(body.get("chat_id", "")),
                                       str(body.get("message_id") or body.get("user_id") or
                                           ",".join(map(str, body.get("message_ids") or ())))))
            return 200, {"ok": True, "result": True}
        return 404, {"errcode": 404, "errmsg": "the demo robots do not serve this"}

    def _keep(self, platform: str, robot: str, body: dict) -> None:
        with self._lock:
            self.received.append(Received(platform, robot, _text(platform.split("_")[0], body)))

    def __enter__(self) -> DemoRobots:
        robots = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {}
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, answer = robots._answer(self.command, parts.path, query, body if isinstance(body, dict) else {})
                payload = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve  # noqa: N815 - http.server's naming

            def handle(self) -> None:
                try:
                    super().handle()
                except ConnectionResetError:
                    pass  # a function's kept-alive client went away as the stack stopped

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
