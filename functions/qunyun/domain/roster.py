"""A group's roster: who is in it, since when and how, and who left and how.

Callbacks arrive late, twice or out of order, so an entry moves only forward in time: every change carries the
time of the event behind it and applies only over an entry last changed earlier."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Status = Literal["member", "left"]
# groupchat/get's join_scene (1 direct, 2 link, 3 QR), not the callback's JoinScene codes.
WECOM_JOIN_SCENE = {1: "invited", 2: "link", 3: "qr"}


@dataclass(frozen=True)
class RosterChange:
    member_id: str
    status: Status
    at: datetime
    how: str
    name: str | None = None
    invite_link: str | None = None
    since: datetime | None = None  # when the platform says it happened, where not at the event's time
    role: str | None = None  # owner or admin, where the platform's join says so
    link_id: str | None = None  # the qunyun join link that brought the member (domain/links.py)
    link_for: str | None = None  # and what it is for: store:ID | rep:ID | member:ID | campaign:NAME


@dataclass(frozen=True)
class RosterEntry:
    member_id: str
    name: str | None
    status: Status
    joined_at: datetime | None
    joined_how: str | None
    left_at: datetime | None
    left_how: str | None
    changed_at: datetime
    role: str | None = None  # owner or admin where the platform's events said so (the guard's exemptions)
    link_id: str | None = None
    link_for: str | None = None


@dataclass(frozen=True)
class PlatformMember:
    """A member as the platform lists its group (WeCom's groupchat/get)."""

    user_id: str
    name: str | None
    joined_at: datetime | None
    how: str
    state: str | None = None  # WeCom: the `state` of the join way (群活码) the member came through


def reconcile(platform: str, present: list[RosterEntry], listed: list[PlatformMember], at: datetime
              ) -> list[RosterChange]:
    """The changes that bring a roster in line with the platform's list: members gone are `left` ("unknown"
    how), members new are `joined` as the list says."""
    listed_ids = {f"{platform}:{m.user_id}": m for m in listed}
    present_ids = {e.member_id for e in present if e.status == "member"}
    changes = [RosterChange(member_id, "left", at, "unknown") for member_id in sorted(present_ids - set(listed_ids))]
    for member_id, m in sorted(listed_ids.items()):
        if member_id not in present_ids:
            changes.append(RosterChange(member_id, "member", at, m.how, name=m.name, since=m.joined_at))
    return changes
