"""ProcessGroupEvents' rules: what a batch of group events changes.

Each chat maps to its group through the CSV's chat_id (a group whose channel is of the callback's platform);
a chat no group names keeps its events a while for `inbound unmapped`. Joins and leaves move the roster only
forward in time, so a repeated or reordered callback changes nothing twice; a group's messages of a batch
become one activity page per local day; the connection's last event moves once per batch."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from qunyun.domain.activity import Page, Sent, pages
from qunyun.domain.connections import CHANNELS, ChatGroup
from qunyun.domain.group_events import GroupEvent, MemberJoined, MemberLeft, Message, RoleChanged
from qunyun.domain.links import Link
from qunyun.domain.roster import PlatformMember, RosterChange, RosterEntry, reconcile
from qunyun.domain.welcomes import WELCOME_WINDOW
from qunyun.services.group_checkins import CheckinDeps, record_checkins
from qunyun.services.group_welcomes import queue_welcomes
from qunyun.services.link_joins import LinkJoins

logger = logging.getLogger(__name__)


class Directory(Protocol):
    def groups(self, tenant_id: str, chat_ids: Iterable[str]) -> dict[str, list[ChatGroup]]: ...


class Roster(Protocol):
    def apply(self, tenant_id: str, group_id: str, change: RosterChange) -> bool: ...
    def entries(self, tenant_id: str, group_id: str) -> list[RosterEntry]: ...
    def left_at(self, tenant_id: str, group_id: str, member_id: str) -> datetime | None: ...
    def member_version(self, tenant_id: str, group_id: str) -> str | None: ...
    def set_member_version(self, tenant_id: str, group_id: str, version: str, at: datetime) -> None: ...
    def set_role(self, tenant_id: str, group_id: str, member_id: str, role: str | None, at: datetime) -> bool: ...


class Activity(Protocol):
    def write_many(self, pages: Iterable[Page]) -> int: ...


class Unmapped(Protocol):
    def keep(self, tenant_id: str, platform: str, chat_id: str, events: list[GroupEvent], now: datetime) -> int: ...


class LastEvent(Protocol):
    def touch(self, tenant_id: str, platform: str, at: datetime) -> None: ...


@dataclass(frozen=True)
class GroupEventDeps:
    directory: Directory
    roster: Roster
    activity: Activity
    unmapped: Unmapped
    connections: LastEvent
    timezone: Callable[[str], str]  # a tenant's timezone, for groups without their own
    # (member_version, members) of a WeCom customer group as WeCom lists it, or None when it cannot be read.
    wecom_members: Callable[[str, str], tuple[str, list[PlatformMember]] | None]
    clock: Callable[[], datetime]
    # The group rules' guard (services/guard.py): the batch's recorded messages in, the records to retry out.
    guard: Callable[[list[tuple[str, Message]]], set[str]] | None = None
    checkins: CheckinDeps | None = None  # None: messages are counted, never check-ins; no welcome is queued
    welcome_window: Callable[[str], int] = lambda tenant_id: WELCOME_WINDOW  # a tenant's window_seconds
    links: LinkJoins | None = None  # join links: who brought whom (services/link_joins.py); None: no attribution


Keyed = list[tuple[str, GroupEvent]]  # (record id, event)


def process_batch(events: Keyed, deps: GroupEventDeps) -> set[str]:
    """Records a batch of events; returns the record ids whose events could not be recorded (to retry)."""
    chats: dict[tuple[str, str, str], Keyed] = defaultdict(list)
    for key, event in events:
        chats[(event.tenant_id, event.platform, event.chat_id)].append((key, event))
    failed: set[str] = set()
    written: list[tuple[Page, list[str]]] = []  # each page, with the records behind its chat
    for tenant_id in {t for t, _, _ in chats}:
        mine = {k: v for k, v in chats.items() if k[0] == tenant_id}
        try:
            groups = deps.directory.groups(tenant_id, {chat for _, _, chat in mine})
        except Exception:
            logger.exception("chats could not be mapped")
            failed |= {key for keyed in mine.values() for key, _ in keyed}
            continue
        for (_, platform, chat_id), keyed in mine.items():
            try:
                for page in _record_chat(tenant_id, platform, chat_id, [e for _, e in keyed],
                                         groups.get(chat_id, []), deps):
                    written.append((page, [key for key, _ in keyed]))
            except Exception:
                logger.exception("a chat's events could not be recorded")
                failed |= {key for key, _ in keyed}
    failed |= _write_pages(written, deps)
    if deps.guard is not None:
        failed |= deps.guard([(key, e) for key, e in events if key not in failed and isinstance(e, Message)])
    _touch(events, failed, deps)
    return failed


def _write_pages(written: list[tuple[Page, list[str]]], deps: GroupEventDeps) -> set[str]:
    """The batch's pages together (BatchWriteItem); should that fail, their records are retried (a page written
    again is the same item)."""
    try:
        deps.activity.write_many(page for page, _ in written)
    except Exception:
        logger.exception("activity pages could not be written")
        return {key for _, keys in written for key in keys}
    return set()


def _touch(events: Keyed, failed: set[str], deps: GroupEventDeps) -> None:
    latest: dict[tuple[str, str], datetime] = {}
    for key, e in events:
        connection = (e.tenant_id, e.platform)
        if key not in failed and (connection not in latest or e.occurred_at > latest[connection]):
            latest[connection] = e.occurred_at
    for (tenant_id, platform), at in latest.items():
        try:
            deps.connections.touch(tenant_id, platform, at)
        except Exception:  # what `connect show` says; the events themselves are recorded
            logger.exception("the connection's last event could not be updated")


def _record_chat(tenant_id: str, platform: str, chat_id: str, events: list[GroupEvent], groups: list[ChatGroup],
                 deps: GroupEventDeps) -> list[Page]:
    """Applies a chat's joins and leaves to its groups' rosters; returns the activity pages to write."""
    mapped = [g for g in groups if g.channel in CHANNELS[platform]]
    opened = any(isinstance(e, MemberJoined) or getattr(e, "change", None) == "create" for e in events)
    if not mapped and platform == "wecom" and opened and deps.links is not None:
        rolled = deps.links.rollover(tenant_id, chat_id)  # a group WeCom opened for a full join link's groups
        mapped = [rolled] if rolled else []
    if not mapped:
        deps.unmapped.keep(tenant_id, platform, chat_id, events, deps.clock())
        return []
    ordered = sorted(events, key=lambda e: e.occurred_at)
    messages = [e for e in ordered if isinstance(e, Message)]
    out = []
    for i, group in enumerate(mapped):
        _roster(tenant_id, platform, chat_id, group.group_id, ordered, deps)
        # A chat is one group's in all but odd set-ups; its check-ins are that first group's.
        zone = ZoneInfo(group.timezone or deps.timezone(tenant_id))
        if deps.checkins is not None and deps.checkins.reply is not None:  # after the joins are on the roster
            queue_welcomes(tenant_id, group.group_id, group.channel, zone, ordered, deps.checkins.reply, deps.clock(),
                           deps.welcome_window(tenant_id))
        checked = set()
        if i == 0 and messages and deps.checkins is not None:
            checked = {c.message_id for c in record_checkins(tenant_id, platform, chat_id, group.group_id, zone,
                                                               messages, deps.checkins, deps.clock())}
        out += _activity(tenant_id, platform, group.group_id, messages, zone, checked)
    return out


def _roster(tenant_id: str, platform: str, chat_id: str, group_id: str, events: list[GroupEvent],
            deps: GroupEventDeps) -> None:
    for event in events:
        if event.member_version:
            _check_version(tenant_id, platform, chat_id, group_id, event, deps)
        if isinstance(event, MemberJoined):
            _joined(tenant_id, platform, chat_id, group_id, event, deps)
        elif isinstance(event, MemberLeft):
            for m in event.members:
                change = RosterChange(m.member_id(platform), "left", event.occurred_at, event.how, m.name)
                applied = deps.roster.apply(tenant_id, group_id, change)
                # Also when a retry finds the leave recorded already: the invite's cancel may not have been.
                if deps.links is not None and (applied or deps.roster.left_at(
                        tenant_id, group_id, change.member_id) == event.occurred_at):
                    deps.links.left(tenant_id, group_id, change.member_id, event.occurred_at)
        elif isinstance(event, RoleChanged):
            for m in event.members:
                deps.roster.set_role(tenant_id, group_id, m.member_id(platform), m.role, event.occurred_at)


def _joined(tenant_id: str, platform: str, chat_id: str, group_id: str, event: MemberJoined,
            deps: GroupEventDeps) -> None:
    """A join, with the link that brought each member where one did; a `member:` link's inviter earns (held)."""
    links = deps.links.joined(tenant_id, platform, chat_id, event) if deps.links is not None else {}
    for m in event.members:
        link = links.get(m.user_id)
        deps.roster.apply(tenant_id, group_id, RosterChange(
            m.member_id(platform), "member", event.occurred_at, event.how, m.name, event.invite_link,
            role=m.role, link_id=link.link_id if link else None, link_for=str(link.for_) if link else None))
        if link is not None:
            deps.links.invited(tenant_id, link, m.member_id(platform), group_id, event.occurred_at)


def _check_version(tenant_id: str, platform: str, chat_id: str, group_id: str, event: GroupEvent,
                   deps: GroupEventDeps) -> None:
    """A WeCom callback whose previous member-list version is not the roster's means one was lost or came out
    of order: the roster is brought in line with groupchat/get before this event applies."""
    last, current = event.member_version
    stored = deps.roster.member_version(tenant_id, group_id)
    if stored is not None and stored != last:
        listed = deps.wecom_members(tenant_id, chat_id)
        if listed is not None:
            current, members = listed[0] or current, listed[1]
            # Just before the event, so that the event's own join or leave (and its how) still applies after.
            before = event.occurred_at - timedelta(microseconds=1)
            links = deps.links.listed(tenant_id, platform, members) if deps.links is not None else {}
            for change in reconcile(platform, deps.roster.entries(tenant_id, group_id), members, before):
                _reconciled(tenant_id, group_id, change, links.get(change.member_id), deps)
    deps.roster.set_member_version(tenant_id, group_id, current, event.occurred_at)


def _reconciled(tenant_id: str, group_id: str, change: RosterChange, link: Link | None,
                deps: GroupEventDeps) -> None:
    """A change groupchat/get shows: a member it lists came through the join way its `state` names, if any; a
    member gone from it left before the event at the latest, which cancels a held invite still due after that."""
    at = change.since or change.at
    if change.status != "member" or link is None or not link.usable_at(at):
        if deps.roster.apply(tenant_id, group_id, change) and change.status == "left" and deps.links is not None:
            deps.links.left(tenant_id, group_id, change.member_id, at)
        return
    deps.roster.apply(tenant_id, group_id, replace(change, link_id=link.link_id, link_for=str(link.for_)))
    deps.links.invited(tenant_id, link, change.member_id, group_id, at)


def _activity(tenant_id: str, platform: str, group_id: str, messages: list[Message], zone: ZoneInfo,
              checked: set[str]) -> list[Page]:
    days: dict[date, list[Sent]] = defaultdict(list)
    names: dict[str, str] = {}
    for m in messages:
        member_id = m.sender.member_id(platform)
        sent = Sent(m.message_id, member_id, int(m.occurred_at.timestamp()), checkin=m.message_id in checked)
        days[m.occurred_at.astimezone(zone).date()].append(sent)
        if m.sender.name:
            names[member_id] = m.sender.name
    return [Page(tenant_id, group_id, day, page, {s.member_id: names[s.member_id] for s in page
                                                  if s.member_id in names})
            for day, sent in days.items() for page in pages(sent)]
