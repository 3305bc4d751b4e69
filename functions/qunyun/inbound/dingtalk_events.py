"""DingTalk's callbacks as group events (reference/inbound.md §3): the group-chat events of the encrypted
event callback (`chat_add_member`, `chat_remove_member`, `chat_quit`, `chat_update_*`, `chat_disband`) and the
robot's HTTP callback, which carries only messages that @-mention the robot."""

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
from qunyun.inbound.normalised import digest, from_unix_ms


def group_events(tenant_id: str, event: dict) -> list[GroupEvent]:
    kind, chat = event.get("EventType", ""), event.get("ChatId") or event.get("OpenConversationId")
    if not kind.startswith("chat_") or not chat:
        return []
    users = [Member(user_id=str(user)) for user in event.get("UserId") or [] if user]
    common = {"tenant_id": tenant_id, "platform": "dingtalk", "chat_id": chat,
              "occurred_at": from_unix_ms(event.get("TimeStamp") or 0),
              "event_id": digest(kind, chat, event.get("TimeStamp"), ",".join(u.user_id for u in users))}
    if kind == "chat_add_member" and users:
        return [MemberJoined(**common, members=users, how="invited" if event.get("Operator") else "unknown",
                             inviter=event.get("Operator"))]
    if kind in ("chat_remove_member", "chat_quit") and users:
        return [MemberLeft(**common, members=users, how="removed" if kind == "chat_remove_member" else "left")]
    if kind == "chat_disband":
        return [GroupDismissed(**common)]
    return [GroupChanged(**common, change=kind)] if kind.startswith("chat_update") else []


def robot_message(tenant_id: str, payload: dict) -> list[GroupEvent]:
    """A robot callback: a group message that @-mentions the robot (`conversationType` 2 is a group). `isAdmin`
    marks a sender who is an admin (of the organisation: DingTalk gives no group role here), taken as an admin."""
    sender = payload.get("senderStaffId") or payload.get("senderId")
    if str(payload.get("conversationType")) != "2" or not sender or not payload.get("msgId"):
        return []
    text = (payload.get("text") or {}).get("content") if payload.get("msgtype") == "text" else None
    return [Message(tenant_id=tenant_id, platform="dingtalk", event_id=payload["msgId"],
                    chat_id=payload.get("conversationId") or "", occurred_at=from_unix_ms(payload.get("createAt") or 0),
                    sender=Member(user_id=str(sender), name=payload.get("senderNick"),
                                  role="admin" if payload.get("isAdmin") is True else None),
                    message_id=payload["msgId"],
                    text=text.strip() if text else None)]
