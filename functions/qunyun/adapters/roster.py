"""Rosters and WeCom member-list versions in the community table; every roster write is conditional on the
entry having last changed earlier than the event behind it (domain/roster.py)."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import UpdateError

from qunyun.adapters.community_tables import GroupStateItem, RosterItem
from qunyun.adapters.tables import conditional_failed
from qunyun.domain.roster import RosterChange, RosterEntry


def _pk(tenant_id: str, group_id: str) -> str:
    return f"{tenant_id}#ROSTER#{group_id}"


def roster_pk(tenant_id: str, group_id: str) -> str:
    """A group's roster partition, for readers that take its items raw (adapters/metrics_sources.py)."""
    return _pk(tenant_id, group_id)


def _actions(change: RosterChange) -> list:
    since = change.since or change.at
    actions = [RosterItem.member_id.set(change.member_id), RosterItem.status.set(change.status),
               RosterItem.changed_at.set(change.at)]
    if change.name:
        actions.append(RosterItem.name.set(change.name))
    if change.status == "member":
        actions += [RosterItem.joined_at.set(since), RosterItem.joined_how.set(change.how),
                    RosterItem.role.set(change.role) if change.role else RosterItem.role.remove(),
                    RosterItem.role_at.set(change.at)]
        for attr, value in ((RosterItem.invite_link, change.invite_link), (RosterItem.link_id, change.link_id),
                            (RosterItem.link_for, change.link_for)):
            actions.append(attr.set(value) if value else attr.remove())
    else:
        actions += [RosterItem.left_at.set(since), RosterItem.left_how.set(change.how)]
    return actions


class RosterStore:
    def apply(self, tenant_id: str, group_id: str, change: RosterChange) -> bool:
        """Applies a change unless the entry changed at or after its time, or a join finds the member present
        (two callbacks for one join). False when nothing changed."""
        later = RosterItem.changed_at.does_not_exist() | (RosterItem.changed_at < change.at)
        if change.status == "member":
            later &= RosterItem.status.does_not_exist() | (RosterItem.status != "member")
        try:
            RosterItem(_pk(tenant_id, group_id), change.member_id).update(actions=_actions(change), condition=later)
        except UpdateError as err:
            if conditional_failed(err):
                return False
            raise
        return True

    def set_role(self, tenant_id: str, group_id: str, member_id: str, role: str | None, at: datetime) -> bool:
        """A member's role as of an event, unless a later event set it already. False when nothing changed."""
        try:
            RosterItem(_pk(tenant_id, group_id), member_id).update(
                actions=[RosterItem.member_id.set(member_id), RosterItem.changed_at.set(RosterItem.changed_at | at),
                         RosterItem.role.set(role) if role else RosterItem.role.remove(), RosterItem.role_at.set(at)],
                condition=RosterItem.role_at.does_not_exist() | (RosterItem.role_at < at))
        except UpdateError as err:
            if conditional_failed(err):
                return False
            raise
        return True

    def entries(self, tenant_id: str, group_id: str) -> list[RosterEntry]:
        return [RosterEntry(i.member_id, i.name, i.status, i.joined_at, i.joined_how, i.left_at, i.left_how,
                            i.changed_at, i.role, i.link_id, i.link_for)
                for i in RosterItem.query(_pk(tenant_id, group_id))]

    def attributed(self, tenant_id: str, group_id: str) -> list[RosterEntry]:
        """The group's members (present and gone) that a join link brought, with the link and what it is for:
        what per-store and per-rep figures count (domain/links.py `credited`)."""
        return [e for e in self.entries(tenant_id, group_id) if e.link_id]

    def left_at(self, tenant_id: str, group_id: str, member_id: str) -> datetime | None:
        """When the member left the group, while they are out of it."""
        try:
            item = RosterItem.get(_pk(tenant_id, group_id), member_id, consistent_read=True)
        except RosterItem.DoesNotExist:
            return None
        return item.left_at if item.status == "left" else None

    def member_version(self, tenant_id: str, group_id: str) -> str | None:
        try:
            return GroupStateItem.get(f"{tenant_id}#GROUPSTATE", group_id).member_version
        except GroupStateItem.DoesNotExist:
            return None

    def set_member_version(self, tenant_id: str, group_id: str, version: str, at: datetime) -> None:
        """The version after an event, unless a later event set it already."""
        try:
            GroupStateItem(f"{tenant_id}#GROUPSTATE", group_id).update(
                actions=[GroupStateItem.member_version.set(version), GroupStateItem.changed_at.set(at)],
                condition=GroupStateItem.changed_at.does_not_exist() | (GroupStateItem.changed_at < at))
        except UpdateError as err:
            if not conditional_failed(err):
                raise
