"""The Feishu Open API as the guard calls it, as the tenant's app (reference/inbound.md §2): a
tenant_access_token for app_id and app_secret, then a message recalled, a message sent to a chat and members
removed from a chat, each checked against the token and the bot's standing in the chat."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

from fakes.base import Answer, Request, json_or_none

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGES = "/open-apis/im/v1/messages"
CHATS = "/open-apis/im/v1/chats/"


@dataclass
class Chat:
    chat_id: str
    members: set[str] = field(default_factory=set)  # open ids
    owner: str | None = None
    # The bot is the owner, an admin, or the creator with im:chat:operate_as_owner: it may remove and recall.
    bot_manages: bool = True


def refused(code: int, msg: str) -> Answer:
    return Answer(400, {"code": code, "msg": msg, "data": {}})


class FeishuApp:
    """Mixed into the fake Feishu: its Open API routes beside the custom bot's webhook."""

    def _init_app(self) -> None:
        self.apps: dict[str, str] = {}
        self.tokens: dict[str, str] = {}  # tenant_access_token → app id
        self.chats: dict[str, Chat] = {}
        self.recalled: list[str] = []
        self.message_chats: dict[str, str] = {}  # message id → chat id, of the members' messages a test said
        self.sent: list[tuple[str, str]] = []  # (chat id, text)
        self.removed: list[tuple[str, str]] = []  # (chat id, open id)
        self._serial = itertools.count(1)

    def add_app(self, app_id: str, app_secret: str) -> None:
        self.apps[app_id] = app_secret

    def add_chat(self, chat_id: str, members=(), owner: str | None = None, bot_manages: bool = True) -> Chat:
        self.chats[chat_id] = Chat(chat_id, set(members), owner, bot_manages)
        return self.chats[chat_id]

    def said(self, chat_id: str, message_id: str) -> None:
        """A member's message in the chat, as Feishu knows it before its event goes out."""
        self.message_chats[message_id] = chat_id

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def handle_app(self, request: Request) -> Answer | None:
        if request.path == TOKEN_PATH and request.method == "POST":
            return self._token(json_or_none(request) or {})
        if not request.path.startswith((MESSAGES, CHATS)):
            return None
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return refused(99991661, "Missing access token for authorization. Please make a request with token "
                                     "attached.")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return refused(99991663, "Invalid access token for authorization. Please make a request with token "
                                     "attached.")
        if request.path.startswith(CHATS) and request.path.endswith("/members") and request.method == "DELETE":
            return self._remove(request)
        if request.path == MESSAGES and request.method == "POST":
            return self._send(request)
        if request.path.startswith(MESSAGES + "/") and request.method == "DELETE":
            return self._recall(request.path.removeprefix(MESSAGES + "/"))
        return Answer(404, "404 page not found")

    def _token(self, body: dict) -> Answer:
        if self.apps.get(str(body.get("app_id"))) != body.get("app_secret") or not body.get("app_secret"):
            return Answer(200, {"code": 10014, "msg": "app secret invalid"})
        token = f"t-{next(self._serial)}"
        self.tokens[token] = body["app_id"]
        return Answer(200, {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": 7200})

    def _recall(self, message_id: str) -> Answer:
        chat = self.chats.get(self.message_chats.get(message_id, ""))
        if chat is None or message_id in self.recalled:
            return refused(230011, "The message is recalled or does not exist.")
        if not chat.bot_manages:
            return refused(230026, "No permission to recall this message.")
        self.recalled.append(message_id)
        return Answer(200, {"code": 0, "msg": "success", "data": {}})

    def _send(self, request: Request) -> Answer:
        body = json_or_none(request) or {}
        chat = self.chats.get(str(body.get("receive_id")))
        if request.query.get("receive_id_type") != "chat_id" or chat is None:
            return refused(230001, "Your request contains an invalid request parameter.")
        text = json.loads(body.get("content") or "{}").get("text", "")
        self.sent.append((chat.chat_id, text))
        return Answer(200, {"code": 0, "msg": "success", "data": {"message_id": f"om_{next(self._serial)}"}})

    def _remove(self, request: Request) -> Answer:
        chat = self.chats.get(request.path.removeprefix(CHATS).removesuffix("/members"))
        ids = (json_or_none(request) or {}).get("id_list")
        if chat is None:
            return refused(232006, "Your request specifies a chat_id which is invalid.")
        if request.query.get("member_id_type", "open_id") != "open_id" or not isinstance(ids, list):
            return refused(232001, "Your request contains an invalid request parameter.")
        if not chat.bot_manages:
            return refused(232017, "No Permission: If the operator is NOT owner or creator with the scope, the "
                                   "operator can NOT complete the request.")
        if chat.owner in ids:
            return refused(232076, "Can't kick chat owner.")
        invalid = [i for i in ids if not str(i).startswith("ou_")]
        missing = [i for i in ids if i not in invalid and i not in chat.members]
        for i in ids:
            if i in chat.members:
                chat.members.discard(i)
                self.removed.append((chat.chat_id, i))
        return Answer(200, {"code": 0, "msg": "success", "data": {"invalid_id_list": invalid,
                                                                   "not_existed_id_list": missing,
                                                                   "pending_approval_id_list": []}})
