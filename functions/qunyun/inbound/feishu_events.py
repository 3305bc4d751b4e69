"""Feishu's schema-2.0 events as group events (reference/inbound.md §2): messages of group chats (text where
the app has `im:message.group_msg`, or was @-mentioned), members added and deleted, chats updated and disbanded.
A chat updated with a new `owner_id` hands the owner's role over (the only role Feishu's events carry)."""

from __future__ import annotations

import json

from qunyun.domain.group_events import (
    GroupChanged,
    GroupDismissed,
    GroupEvent,
    Member,
    MemberJoined,
    MemberLeft,
    Message,
    RoleChanged,
)
from qunyun.inbound.normalised import from_unix_ms


def _user(entry: dict) -> Member | None:
    ids = entry.get("user_id") or entry.get("sender_id") or {}
    user = ids.get("open_id") if isinstance(ids, dict) else None
    return Member(user_id=user, name=entry.get("name")) if user else None


def _text(message: dict) -> str | None:
    if message.get("message_type") != "text":
        return None
    try:
        return json.loads(message.get("content") or "{}").get("text")
    except (ValueError, AttributeError):
        return None


def _owner_change(common: dict, event: dict) -> list[GroupEvent]:
    def owner(side: str) -> str | None:
        ids = (event.get(side) or {}).get("owner_id") or {}
        return ids.get("open_id") if isinstance(ids, dict) else None

    new, old = owner("after_change"), owner("before_change")
    if not new or new == old:
        return []
    members = [Member(user_id=new, role="owner")] + ([Member(user_id=old)] if old else [])
    return [RoleChanged(**common | {"event_id": f"{common['event_id']}#owner"}, members=members)]


def group_events(tenant_id: str, envelope: dict) -> list[GroupEvent]:
    header, event = envelope.get("header") or {}, envelope.get("event") or {}
    kind, chat = header.get("event_type", ""), event.get("chat_id") or (event.get("message") or {}).get("chat_id")
    if not header.get("event_id") or not chat:
        return []
    common = {"tenant_id": tenant_id, "platform": "feishu", "event_id": header["event_id"], "chat_id": chat,
              "occurred_at": from_unix_ms(header.get("create_time") or 0)}
    if kind == "im.message.receive_v1":
        message, sender = event.get("message") or {}, event.get("sender") or {}
        who = _user(sender)
        if message.get("chat_type") != "group" or sender.get("sender_type") != "user" or who is None:
            return []
        return [Message(**common, sender=who, message_id=message.get("message_id") or header["event_id"],
                        text=_text(message))]
    users = [user for user in map(_user, event.get("users") or []) if user]
    if kind == "im.chat.member.user.added_v1" and users:
        return [MemberJoined(**common, members=users, how="invited" if event.get("operator_id") else "unknown")]
    if kind in ("im.chat.member.user.deleted_v1", "im.chat.member.user.withdrawn_v1") and users:
        # deleted_v1 is "left voluntarily or was removed": Feishu does not say which.
        return [MemberLeft(**common, members=users, how="removed" if kind.endswith("withdrawn_v1") else "unknown")]
    if kind == "im.chat.disbanded_v1":
        return [GroupDismissed(**common)]
    if kind == "im.chat.updated_v1":
        return [GroupChanged(**common, change="chat_updated"), *_owner_change(common, event)]
    return []
