"""Slack's Web API as the guard calls it with a bot token (reference/inbound.md §5): `chat.postMessage`,
`chat.delete` (a bot token deletes only the bot's own messages: `cant_delete_message` otherwise) and
`conversations.kick`. Every answer is HTTP 200 with `ok` and, when false, an `error`."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from fakes.base import Answer, Request, json_or_none

KICK_SCOPES = {"channels:manage", "groups:write", "channels:write"}


@dataclass
class Channel:
    channel_id: str
    members: set[str] = field(default_factory=set)
    general: bool = False
    restricted: bool = False  # the workspace lets only admins remove members


def failed(error: str) -> Answer:
    return Answer(200, {"ok": False, "error": error})


class SlackApi:
    """Mixed into the fake Slack: the Web API's routes (`/api/{method}`) beside the incoming webhooks'."""

    def _init_api(self) -> None:
        self.bot_tokens: dict[str, tuple[str, set[str]]] = {}  # token → (bot user id, scopes)
        self.channels: dict[str, Channel] = {}
        self.bot_posts: set[tuple[str, str]] = set()  # (channel, ts) of the bot's own messages
        self.posted: list[tuple[str, str]] = []  # (channel, text)
        self.deleted: list[tuple[str, str]] = []  # (channel, ts)
        self.kicked: list[tuple[str, str]] = []  # (channel, user)
        self._ts = itertools.count(1)

    def add_bot_token(self, token: str, bot_user: str = "UBOT", scopes=("chat:write", "channels:manage")) -> None:
        self.bot_tokens[token] = (bot_user, set(scopes))

    def add_channel(self, channel_id: str, members=(), **kwargs) -> Channel:
        self.channels[channel_id] = Channel(channel_id, set(members), **kwargs)
        return self.channels[channel_id]

    def handle_api(self, request: Request) -> Answer | None:
        if not request.path.startswith("/api/"):
            return None
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return failed("not_authed")
        bot = self.bot_tokens.get(auth.removeprefix("Bearer "))
        if bot is None:
            return failed("invalid_auth")
        body = json_or_none(request) or {}
        channel = self.channels.get(str(body.get("channel")))
        if channel is None:
            return failed("channel_not_found")
        method = request.path.removeprefix("/api/")
        if method == "chat.postMessage":
            return self._post(bot[0], channel, body)
        if method == "chat.delete":
            return self._delete(channel, str(body.get("ts")))
        if method == "conversations.kick":
            return self._kick(bot, channel, str(body.get("user")))
        return failed("unknown_method")

    def _post(self, bot_user: str, channel: Channel, body: dict) -> Answer:
        if bot_user not in channel.members:
            return failed("not_in_channel")
        if not body.get("text"):
            return failed("no_text")
        ts = f"{1700000000 + next(self._ts)}.000100"
        self.bot_posts.add((channel.channel_id, ts))
        self.posted.append((channel.channel_id, body["text"]))
        return Answer(200, {"ok": True, "channel": channel.channel_id, "ts": ts})

    def _delete(self, channel: Channel, ts: str) -> Answer:
        if (channel.channel_id, ts) not in self.bot_posts:
            return failed("cant_delete_message")  # a member's message: a bot token deletes only its own
        self.bot_posts.discard((channel.channel_id, ts))
        self.deleted.append((channel.channel_id, ts))
        return Answer(200, {"ok": True, "channel": channel.channel_id, "ts": ts})

    def _kick(self, bot: tuple[str, set[str]], channel: Channel, user: str) -> Answer:
        if not bot[1] & KICK_SCOPES:
            return Answer(200, {"ok": False, "error": "missing_scope", "needed": "channels:manage",
                                "provided": ",".join(sorted(bot[1]))})
        if user == bot[0]:
            return failed("cant_kick_self")
        if channel.general:
            return failed("cant_kick_from_general")
        if channel.restricted:
            return failed("restricted_action")
        if user not in channel.members:
            return failed("not_in_channel")
        channel.members.discard(user)
        self.kicked.append((channel.channel_id, user))
        return Answer(200, {"ok": True})
