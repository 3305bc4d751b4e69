"""Slack's Events API as group events (reference/inbound.md §5): channel messages (with `channels:history`),
members joining and leaving channels, channels archived, deleted or renamed. Bots' own messages are not
members' activity and are left out."""

from __future__ import annotations

from qunyun.domain.group_events import (
    GroupChanged,
    GroupDismissed,
    GroupEvent,
    Member,
    MemberJoined,
    MemberLeft,
    Message,
)
from qunyun.inbound.normalised import from_unix

MEMBER_MESSAGES = (None, "thread_broadcast", "file_share")


def group_events(tenant_id: str, envelope: dict) -> list[GroupEvent]:
    event = envelope.get("event") or {}
    kind, channel = event.get("type"), event.get("channel")
    channel = channel.get("id") if isinstance(channel, dict) else channel
    if envelope.get("type") != "event_callback" or not envelope.get("event_id") or not channel:
        return []
    common = {"tenant_id": tenant_id, "platform": "slack", "event_id": envelope["event_id"], "chat_id": channel,
              "occurred_at": from_unix(envelope.get("event_time") or 0)}
    user = event.get("user")
    if kind == "message" and user and not event.get("bot_id") and event.get("subtype") in MEMBER_MESSAGES:
        return [Message(**common, sender=Member(user_id=user), message_id=event.get("ts") or envelope["event_id"],
                        text=event.get("text"))]
    if kind == "member_joined_channel" and user:
        inviter = event.get("inviter")
        return [MemberJoined(**common, members=[Member(user_id=user)], how="invited" if inviter else "unknown",
                             inviter=inviter)]
    if kind == "member_left_channel" and user:
        return [MemberLeft(**common, members=[Member(user_id=user)], how="unknown")]
    if kind in ("channel_archive", "channel_deleted", "group_archive", "group_deleted"):
        return [GroupDismissed(**common)]
    if kind in ("channel_rename", "group_rename"):
        return [GroupChanged(**common, change=kind)]
    return []
