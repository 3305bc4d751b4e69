"""Fake Telegram Bot API: `POST /bot{token}/sendMessage` with parse_mode HTML (reference/channels.md), and the
guard's calls: deleteMessage, deleteMessages (1-100 ids; ids it cannot find are skipped), banChatMember and
unbanChatMember."""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass
from html.parser import HTMLParser

from fakes.base import Answer, FakeServer, RateWindow, Request, json_or_none

TEXT_LIMIT = 4096  # characters after entity parsing
DELETE_AT_ONCE = 100  # deleteMessages: "a JSON-serialized list of 1-100 identifiers of messages to delete"
TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
        "blockquote", "tg-emoji"}


@dataclass
class Accepted:
    token: str
    chat_id: str
    text: str  # after entity parsing: what members read
    html: str
    message_id: int
    at: float


class _Entities(HTMLParser):
    """Telegram's HTML subset: known tags only, properly nested; collects the visible text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.problem = ""

    def handle_starttag(self, tag, attrs):
        if tag not in TAGS:
            self.problem = self.problem or f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problem = self.problem or f'Unexpected end tag "{tag}"'
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> tuple[str, str]:
    """(visible text, problem); problem is empty when Telegram would accept the markup."""
    parser = _Entities()
    parser.feed(html)
    parser.close()
    if not parser.problem and parser.stack:
        parser.problem = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
    return "".join(parser.text), parser.problem


def error(code: int, description: str, retry_after: int | None = None) -> Answer:
    body = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return Answer(code, body)


class FakeTelegramBot(FakeServer):
    def __init__(self, clock=None):
        super().__init__(clock)
        self.tokens: set[str] = set()
        self.chats: set[str] = set()
        self.kicked: set[str] = set()
        self.revoked: set[str] = set()
        self.received: list[Accepted] = []
        self.webhooks: dict[str, dict] = {}  # bot token → the last setWebhook's parameters
        self.per_group = RateWindow(20, 60.0)  # 20 a minute to one group
        self.per_bot = RateWindow(30, 1.0)  # about 30 a second overall
        self._ids = itertools.count(1)
        # The guard's calls: deleted (chat, message id), bans and unbans (chat, user id), refusals by method.
        self.deleted: list[tuple[str, str]] = []
        self.bans: list[tuple[str, str]] = []
        self.unbans: list[tuple[str, str]] = []
        self.banned: set[tuple[str, str]] = set()
        self.refusals: dict[str, str] = {}
        self.invite_links: dict[str, dict] = {}  # URL → the ChatInviteLink

    def add_bot(self, token: str) -> None:
        self.tokens.add(token)

    def add_chat(self, chat_id: str) -> None:
        self.chats.add(str(chat_id))

    def kick(self, chat_id: str) -> None:
        """The bot was removed from the group."""
        self.kicked.add(str(chat_id))

    def revoke(self, token: str) -> None:
        self.revoked.add(token)

    def refuse(self, method: str, description: str) -> None:
        """Answer `method` with 400 and Telegram's description, as when the bot is not an admin."""
        self.refusals[method] = description

    def _moderate(self, method: str, body) -> Answer:
        """deleteMessage, banChatMember, unbanChatMember(only_if_banned): the bot must know the chat."""
        if not isinstance(body, dict) or str(body.get("chat_id", "")) not in self.chats:
            return error(400, "Bad Request: chat not found")
        if method in self.refusals:
            return error(400, f"Bad Request: {self.refusals[method]}")
        chat, subject = str(body["chat_id"]), str(body.get("message_id" if method == "deleteMessage" else "user_id"))
        if method == "deleteMessage":
            self.deleted.append((chat, subject))
        elif method == "banChatMember":
            self.bans.append((chat, subject))
            self.banned.add((chat, subject))
        else:
            if body.get("only_if_banned") and (chat, subject) not in self.banned:
                return Answer(200, {"ok": True, "result": True})
            self.unbans.append((chat, subject))
            self.banned.discard((chat, subject))
        return Answer(200, {"ok": True, "result": True})

    def _delete_messages(self, body) -> Answer:
        """deleteMessages: the chat's messages at once, with Telegram's answers to a list it cannot take; messages
        it cannot find are skipped (the answer is still True)."""
        if not isinstance(body, dict) or not str(body.get("chat_id", "")):
            return error(400, "Bad Request: chat_id is empty")
        if str(body["chat_id"]) not in self.chats:
            return error(400, "Bad Request: chat not found")
        ids = body.get("message_ids")
        if ids is None or ids == []:
            return error(400, "Bad Request: message identifiers are not specified")
        if not isinstance(ids, list):
            return error(400, "Bad Request: expected an Array of message identifiers")
        if len(ids) > DELETE_AT_ONCE:
            return error(400, "Bad Request: too many message identifiers specified")
        if any(not isinstance(i, int) or isinstance(i, bool) or i <= 0 for i in ids):
            return error(400, "Bad Request: invalid message identifier specified")
        if "deleteMessages" in self.refusals:
            return error(400, f"Bad Request: {self.refusals['deleteMessages']}")
        chat = str(body["chat_id"])
        gone = set(self.deleted)
        self.deleted += [(chat, str(i)) for i in dict.fromkeys(ids) if (chat, str(i)) not in gone]
        return Answer(200, {"ok": True, "result": True})

    def throttle(self, retry_after: int, seconds: float | None = None) -> None:
        self.force(error(429, f"Too Many Requests: retry after {retry_after}", retry_after), seconds or retry_after)

    def _set_webhook(self, token: str, body) -> Answer:
        """setWebhook: an https URL (http to 127.0.0.1 stands in for it here) and a well-formed secret token."""
        if not isinstance(body, dict) or not str(body.get("url", "")).startswith(("https://", "http://127.0.0.1")):
            return error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(body.get("secret_token", ""))):
            return error(400, "Bad Request: secret token contains unallowed characters")
        self.webhooks[token] = body
        return Answer(200, {"ok": True, "result": True, "description": "Webhook was set"})

    def handle(self, request: Request) -> Answer:
        token, _, method = request.path.removeprefix("/bot").partition("/")
        if request.method != "POST" or not request.path.startswith("/bot"):
            return Answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if token not in self.tokens or token in self.revoked:
            return error(401, "Unauthorized")
        if method == "setWebhook":
            return self._set_webhook(token, json_or_none(request))
        other = {"deleteMessage": self._moderate, "banChatMember": self._moderate, "unbanChatMember": self._moderate,
                 "deleteMessages": lambda _, body: self._delete_messages(body),
                 "createChatInviteLink": self._invite_link, "revokeChatInviteLink": self._invite_link}.get(method)
        if other is not None:
            return other(method, json_or_none(request))
        if method != "sendMessage":
            return error(404, "Not Found: method not found")
        body = json_or_none(request)
        if not isinstance(body, dict):
            return error(400, "Bad Request: message text is empty")
        chat_id = str(body.get("chat_id", ""))
        if chat_id not in self.chats:
            return error(400, "Bad Request: chat not found")
        if chat_id in self.kicked:
            return error(403, "Forbidden: bot was kicked from the group chat")
        html = str(body.get("text", ""))
        text, problem = parse(html) if body.get("parse_mode") == "HTML" else (html, "")
        if problem:
            return error(400, f"Bad Request: can't parse entities: {problem}")
        if not text.strip():
            return error(400, "Bad Request: message text is empty")
        if len(text) > TEXT_LIMIT:
            return error(400, "Bad Request: message is too long")
        now = self.clock()
        wait = self.per_bot.take(token, now)
        if wait is None and chat_id.startswith("-"):  # groups have negative ids
            wait = self.per_group.take((token, chat_id), now)
        if wait is not None:
            seconds = max(1, round(wait))
            return error(429, f"Too Many Requests: retry after {seconds}", seconds)
        accepted = Accepted(token, chat_id, text, html, next(self._ids), now)
        self.received.append(accepted)
        return Answer(200, {"ok": True, "result": {"message_id": accepted.message_id, "chat": {"id": chat_id},
                                                   "date": int(now), "text": text}})

    def _invite_link(self, method: str, body) -> Answer:
        """createChatInviteLink (name ≤ 32, member_limit 1-99999, expire_date in the future) and
        revokeChatInviteLink; the bot must be an administrator of a chat it knows."""
        if not isinstance(body, dict) or str(body.get("chat_id", "")) not in self.chats:
            return error(400, "Bad Request: chat not found")
        if method in self.refusals:
            return error(400, f"Bad Request: {self.refusals[method]}")
        chat = str(body["chat_id"])
        if method == "revokeChatInviteLink":
            link = self.invite_links.get(str(body.get("invite_link", "")))
            if link is None or link["chat_id"] != chat:
                return error(400, "Bad Request: INVITE_HASH_EXPIRED")
            link["is_revoked"] = True
            return Answer(200, {"ok": True, "result": {k: v for k, v in link.items() if k != "chat_id"}})
        if len(str(body.get("name") or "")) > 32:
            return error(400, "Bad Request: invite link name is too long")
        limit = body.get("member_limit")
        if limit is not None and not (isinstance(limit, int) and 1 <= limit <= 99999):
            return error(400, "Bad Request: member limit must be between 1 and 99999")
        expire = body.get("expire_date")
        if expire is not None and int(expire) <= self.clock():
            return error(400, "Bad Request: EXPIRE_DATE_INVALID")
        url = f"https://t.me/+{secrets.token_urlsafe(12)}"
        link = {"invite_link": url, "creator": {"id": 1, "is_bot": True, "first_name": "qunyun"},
                "creates_join_request": False, "is_primary": False, "is_revoked": False, "chat_id": chat,
                **({"name": body["name"]} if body.get("name") else {}),
                **({"member_limit": limit} if limit is not None else {}),
                **({"expire_date": int(expire)} if expire is not None else {})}
        self.invite_links[url] = link
        return Answer(200, {"ok": True, "result": {k: v for k, v in link.items() if k != "chat_id"}})
