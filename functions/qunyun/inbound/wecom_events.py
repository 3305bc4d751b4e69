"""WeCom's `change_external_chat` as group events (reference/inbound.md §1). WeCom shows joins and leaves of
customer groups but no message text (only the paid archive has it), so no `message` event comes from here."""

from __future__ import annotations

from qunyun.domain.group_events import GroupChanged, GroupDismissed, GroupEvent, Member, MemberJoined, MemberLeft
from qunyun.inbound.normalised import digest, from_unix

JOIN_SCENE = {"0": "invited", "3": "qr"}  # the callback's codes, not groupchat/get's (1 direct, 2 link, 3 QR)
QUIT_SCENE = {"0": "left", "1": "removed"}


def group_events(tenant_id: str, fields: dict) -> list[GroupEvent]:
    if fields.get("Event") != "change_external_chat" or not fields.get("ChatId"):
        return []
    change, detail = fields.get("ChangeType", ""), fields.get("UpdateDetail", "")
    members = [Member(user_id=user) for user in fields.get("MemChangeList") or [] if user]
    versions = (fields["LastMemVer"], fields["CurMemVer"]) if fields.get("CurMemVer") else None
    common = {"tenant_id": tenant_id, "platform": "wecom", "chat_id": fields["ChatId"],
              "occurred_at": from_unix(fields.get("CreateTime") or 0), "member_version": versions,
              "event_id": digest(fields.get("CreateTime"), fields["ChatId"], change, detail,
                                 fields.get("CurMemVer"), ",".join(m.user_id for m in members))}
    if change == "dismiss":
        return [GroupDismissed(**common)]
    if change == "update" and detail == "add_member" and members:
        return [MemberJoined(**common, members=members, how=JOIN_SCENE.get(fields.get("JoinScene"), "unknown"))]
    if change == "update" and detail == "del_member" and members:
        return [MemberLeft(**common, members=members, how=QUIT_SCENE.get(fields.get("QuitScene"), "unknown"))]
    return [GroupChanged(**common, change=detail or change)]
