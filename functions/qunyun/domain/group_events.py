"""What happens inside a group, as qunyun hears it from any platform: one pydantic model, a union by `kind`.

Each platform's callback is normalised into these (functions/qunyun/inbound/), queued, and read once by
ProcessGroupEvents. `event_id` is the platform's own id of the callback (or, where a platform has none, a
digest of what identifies it), so a platform's retry of the same callback is recorded once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

PLATFORMS = ("wecom", "feishu", "dingtalk", "telegram", "slack")
Platform = Literal["wecom", "feishu", "dingtalk", "telegram", "slack"]


class Member(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str = Field(min_length=1, max_length=128)  # the platform's own id
    name: str | None = Field(None, max_length=256)  # member-controlled text: escaped wherever it is shown
    role: Literal["owner", "admin"] | None = None  # where the platform's event says so (the guard's exemptions)

    def member_id(self, platform: str) -> str:
        """qunyun's member id for points and rosters (API.md §6): `{platform}:{user id}`."""
        return f"{platform}:{self.user_id}"


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: str
    platform: Platform
    event_id: str = Field(min_length=1, max_length=256)
    chat_id: str = Field(min_length=1, max_length=256)
    occurred_at: datetime
    # WeCom's member-list versions (LastMemVer, CurMemVer): a mismatch with the roster's means a lost callback.
    member_version: tuple[str, str] | None = None


class MemberJoined(_Event):
    kind: Literal["member_joined"] = "member_joined"
    members: list[Member] = Field(min_length=1)
    how: Literal["invited", "link", "qr", "unknown"] = "unknown"
    inviter: str | None = None
    invite_link: str | None = None  # the link's URL or name, where the platform says which was used
    invite_url: str | None = None  # the link's URL itself (Telegram), which names a qunyun join link


class MemberLeft(_Event):
    kind: Literal["member_left"] = "member_left"
    members: list[Member] = Field(min_length=1)
    how: Literal["left", "removed", "unknown"] = "unknown"


class Message(_Event):
    kind: Literal["message"] = "message"
    sender: Member
    message_id: str = Field(min_length=1, max_length=256)
    text: str | None = None  # None where the platform shows that a message was sent but not what it said


class RoleChanged(_Event):
    """Members' roles in the group changed (promoted, demoted, the owner handed over): each member with their role
    now, None for an ordinary member."""

    kind: Literal["role_changed"] = "role_changed"
    members: list[Member] = Field(min_length=1)


class GroupChanged(_Event):
    kind: Literal["group_changed"] = "group_changed"
    change: str  # the platform's word: change_name, change_owner, chat_updated, ...


class GroupDismissed(_Event):
    kind: Literal["group_dismissed"] = "group_dismissed"


GroupEvent = Annotated[MemberJoined | MemberLeft | Message | GroupChanged | GroupDismissed | RoleChanged,
                       Field(discriminator="kind")]
GROUP_EVENT: TypeAdapter[GroupEvent] = TypeAdapter(GroupEvent)
