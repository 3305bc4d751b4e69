"""Telegram updates as group events (reference/inbound.md §4): messages of groups and supergroups, members
joining and leaving through `chat_member` (which names the invite link used) and the service messages
(`new_chat_members`, `left_chat_member`) every bot gets. Both may describe one join: the roster applies a join
to a member already present as nothing, so the second changes nothing. `chat_member` also gives roles: status
`creator` is the owner, `administrator` an admin, on a join or when a present member's status changes."""

from __future__ import annotations

from qunyun.domain.group_events import GroupEvent, Member, MemberJoined, MemberLeft, Message, RoleChanged
from qunyun.inbound.normalised import from_unix

GROUPS = ("group", "supergroup")
PRESENT = ("creator", "administrator", "member", "restricted")
ROLES = {"creator": "owner", "administrator": "admin"}


def _member(user: dict, role: str | None = None) -> Member:
    name = " ".join(part for part in (user.get("first_name"), user.get("last_name")) if part)
    return Member(user_id=str(user["id"]), name=name or user.get("username"), role=role)


def _chat_member(common: dict, update: dict) -> list[GroupEvent]:
    old, new = update.get("old_chat_member") or {}, update.get("new_chat_member") or {}
    user = new.get("user") or {}
    if not user.get("id") or user.get("is_bot"):
        return []
    was = old.get("status") in PRESENT and old.get("is_member", True)
    now = new.get("status") in PRESENT and new.get("is_member", True)
    role = ROLES.get(new.get("status"))
    if now and not was:
        link = update.get("invite_link") or {}
        inviter = (update.get("from") or {}).get("id")
        how = "link" if link else ("invited" if inviter and inviter != user["id"] else "unknown")
        return [MemberJoined(**common, members=[_member(user, role)], how=how, invite_link=link.get("name") or
                             link.get("invite_link"), invite_url=link.get("invite_link") or None,
                             inviter=str(inviter) if how == "invited" else None)]
    if now and was and ROLES.get(old.get("status")) != role:  # promoted, demoted or made the owner
        return [RoleChanged(**common, members=[_member(user, role)])]
    if was and not now:
        how = "removed" if new.get("status") == "kicked" else "left"
        return [MemberLeft(**common, members=[_member(user)], how=how)]
    return []


def _message(common: dict, message: dict) -> list[GroupEvent]:
    sender = message.get("from") or {}
    joined = [_member(u) for u in message.get("new_chat_members") or [] if not u.get("is_bot")]
    if joined:
        self_join = [m.user_id for m in joined] == [str(sender.get("id"))]
        return [MemberJoined(**common, members=joined, how="unknown" if self_join else "invited",
                             inviter=None if self_join else str(sender.get("id")))]
    left = message.get("left_chat_member")
    if left and not left.get("is_bot"):
        return [MemberLeft(**common, members=[_member(left)],
                           how="left" if left.get("id") == sender.get("id") else "removed")]
    if not sender.get("id") or sender.get("is_bot"):
        return []
    return [Message(**common, sender=_member(sender), message_id=str(message.get("message_id")),
                    text=message.get("text") or message.get("caption"))]


def group_events(tenant_id: str, update: dict) -> list[GroupEvent]:
    body = update.get("message") or update.get("chat_member")
    chat = (body or {}).get("chat") or {}
    if update.get("update_id") is None or chat.get("type") not in GROUPS:
        return []
    common = {"tenant_id": tenant_id, "platform": "telegram", "event_id": str(update["update_id"]),
              "chat_id": str(chat["id"]), "occurred_at": from_unix(body.get("date") or 0)}
    return _chat_member(common, body) if "chat_member" in update else _message(common, body)
