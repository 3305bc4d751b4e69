"""The guard: each batch's messages checked against the group rules; an offence is recorded with its evidence
before anything is done about it, then the message deleted where the platform allows it, the member warned
(one message per group and batch, naming the rule, never the offending text) or, on the ladder's say, removed.

Every action is written as intended before it is attempted and its result after (domain/guard.py), so a
retried batch never deletes, warns or removes twice. A removal the platform cannot make or refuses becomes an
operator task with the evidence (`qunyun guard tasks`)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from qunyun.domain.connections import CHANNELS
from qunyun.domain.group_events import Message
from qunyun.domain.guard import (
    CAN_DELETE,
    Action,
    GuardGroup,
    Offence,
    Outcome,
    action_id,
    ladder_step,
    no_removal,
    offences_in_window,
    removed_already,
    rule_name,
    user_id,
    warning_text,
)
from qunyun.domain.guard_rules import GroupRules, GuardSection, Hit, Matcher
from qunyun.domain.member_names import shown_name
from qunyun.domain.roster import RosterEntry

logger = logging.getLogger(__name__)


class GuardStore(Protocol):
    def add_offence(self, o: Offence) -> None: ...
    def offences(self, tenant_id: str, group_id: str | None = None, member_id: str | None = None
                 ) -> list[Offence]: ...
    def pardon_offences(self, tenant_id: str, group_id: str, member_id: str) -> int: ...
    def intend(self, a: Action, now: datetime) -> Action | None: ...
    def finish(self, tenant_id: str, action_id: str, status: str, reason: str, now: datetime) -> None: ...
    def action(self, tenant_id: str, action_id: str) -> Action | None: ...
    def actions(self, tenant_id: str) -> list[Action]: ...
    def removals(self, tenant_id: str, group_id: str, member_id: str) -> list[Action]: ...


class Platforms(Protocol):
    def delete(self, group: GuardGroup, message_id: str) -> Outcome: ...
    def post(self, group: GuardGroup, text: str) -> Outcome: ...
    def remove(self, group: GuardGroup, user_id: str) -> Outcome: ...
    def restore(self, group: GuardGroup, user_id: str) -> Outcome: ...


class Rules(Protocol):
    def rules(self, tenant_id: str) -> tuple[GroupRules, int]: ...
    def matcher(self, tenant_id: str, guard: GuardSection) -> Matcher: ...


class ChatGroups(Protocol):
    def groups(self, tenant_id: str, chat_ids: Iterable[str]) -> dict: ...


@dataclass(frozen=True)
class GuardDeps:
    directory: ChatGroups  # chat id → the tenant's ChatGroups (the one ProcessGroupEvents uses)
    groups: Callable[[str, str], GuardGroup | None]
    rules: Rules
    log: GuardStore
    platforms: Platforms
    top_members: Callable[[str, int], set[str]]  # the tenant's top N members by points (cached)
    clock: Callable[[], datetime]
    # The member's roster entry (their role, and when they last joined), read only for an offence.
    member: Callable[[str, str, str], RosterEntry | None] = lambda tenant_id, group_id, member_id: None


Keyed = list[tuple[str, Message]]  # (record id, message)


@dataclass
class _Warnings:
    group: GuardGroup
    pending: list[tuple[Action, str]] = field(default_factory=list)  # (warn action, member's name)


def guard_messages(messages: Keyed, deps: GuardDeps) -> set[str]:
    """Checks a batch's messages; returns the record ids to retry (their chat's guard could not finish)."""
    chats: dict[tuple[str, str, str], Keyed] = defaultdict(list)
    for key, m in messages:
        chats[(m.tenant_id, m.platform, m.chat_id)].append((key, m))
    failed: set[str] = set()
    for (tenant_id, platform, chat_id), keyed in chats.items():
        try:
            mapped = deps.directory.groups(tenant_id, [chat_id]).get(chat_id, [])
            for chat_group in mapped:
                if chat_group.channel in CHANNELS[platform]:
                    _guard_group(tenant_id, chat_group.group_id, [m for _, m in keyed], deps)
        except Exception:
            logger.exception("the guard could not finish a chat's messages")
            failed |= {key for key, _ in keyed}
    return failed


def _guard_group(tenant_id: str, group_id: str, messages: list[Message], deps: GuardDeps) -> None:
    rules, version = deps.rules.rules(tenant_id)
    if version == 0:  # a tenant that never set group rules has no guard: nothing is an offence by default
        return
    group = deps.groups(tenant_id, group_id)  # after the rules: a tenant without any reads no group here
    if group is None:
        return
    guard = rules.for_group(group.kind, group.tags)[0]
    matcher = deps.rules.matcher(tenant_id, guard)
    warnings = _Warnings(group)
    for m in sorted(messages, key=lambda m: m.occurred_at):
        hit = matcher.first(m.text)
        if hit is not None and not _exempt(m, group, guard, deps):
            _offence(m, group, guard, hit, warnings, deps)
    _post_warnings(tenant_id, warnings, deps)


def _exempt(m: Message, group: GuardGroup, guard: GuardSection, deps: GuardDeps) -> bool:
    member_id = m.sender.member_id(m.platform)
    exempt = guard.exempt
    if member_id in exempt.members or (m.sender.role and m.sender.role in exempt.roles):
        return True
    if "owner" in exempt.roles and group.owner and group.owner == m.sender.user_id:
        return True
    if exempt.roles:  # a role the roster learned from the platform's events (a message seldom carries one)
        entry = deps.member(m.tenant_id, group.group_id, member_id)
        if entry is not None and entry.role in exempt.roles:
            return True
    return bool(exempt.top_points) and member_id in deps.top_members(m.tenant_id, exempt.top_points)


def _offence(m: Message, group: GuardGroup, guard: GuardSection, hit: Hit, warnings: _Warnings,
             deps: GuardDeps) -> None:
    member_id = m.sender.member_id(m.platform)
    offence = Offence(m.tenant_id, group.group_id, m.platform, m.chat_id, member_id, m.message_id, m.text or "",
                      hit.rule, hit.detail, m.occurred_at)
    deps.log.add_offence(offence)  # the evidence first: whatever follows, the offence is on record
    count = offences_in_window(deps.log.offences(m.tenant_id, group.group_id, member_id), offence,
                               guard.window_days)

    def action(kind: str, reason: str = "") -> Action:
        return Action(m.tenant_id, action_id(kind, group.group_id, member_id, m.message_id), kind, group.group_id,
                      m.platform, m.chat_id, member_id, m.message_id, hit.rule, m.occurred_at, reason=reason,
                      evidence=m.text or "")

    if m.platform in CAN_DELETE:
        act(action("delete"), lambda: deps.platforms.delete(group, m.message_id), deps)
    if _standing_removal(offence, guard, deps):  # recorded (and deleted); the removal made stands for it
        return
    if ladder_step(guard.ladder, count) == "remove":
        remove(action("remove"), group, deps)
        return
    warn = action("warn")
    if deps.log.intend(warn, deps.clock()) is None:
        warnings.pending.append((warn, shown_name(m.sender.name, m.sender.user_id)))


def _standing_removal(o: Offence, guard: GuardSection, deps: GuardDeps) -> bool:
    """A member already removed for an earlier offence of the window (by the guard: the sweep's removals are its
    own) is not removed or warned again, unless they joined again since."""
    removals = [r for r in deps.log.removals(o.tenant_id, o.group_id, o.member_id)
                if not r.message_id.startswith("sweep-")]
    if not removals:
        return False
    entry = deps.member(o.tenant_id, o.group_id, o.member_id)
    joined_at = entry.joined_at if entry is not None and entry.status == "member" else None
    return removed_already(removals, o, guard.window_days, joined_at,
                           action_id("remove", o.group_id, o.member_id, o.message_id))


def remove(removal: Action, group: GuardGroup, deps: GuardDeps) -> None:
    reason = no_removal(removal.platform, group.tags)
    if reason is not None:
        act(removal, lambda: Outcome(False, reason, unsupported=True), deps)
        return
    act(removal, lambda: deps.platforms.remove(group, user_id(removal.member_id)), deps)


def act(action: Action, attempt: Callable[[], Outcome], deps: GuardDeps) -> None:
    """Intended, then attempted, then its result: an action found already intended is not attempted again."""
    found = deps.log.intend(action, deps.clock())
    if found is not None:
        if found.status == "intended":  # the last attempt stopped between the call and its record
            status = "task" if action.kind == "remove" else "failed"
            deps.log.finish(action.tenant_id, action.action_id, status,
                            "interrupted before its result was recorded: check whether it happened", deps.clock())
        return
    outcome = attempt()
    status = "done" if outcome.ok else ("task" if action.kind == "remove" else "failed")
    deps.log.finish(action.tenant_id, action.action_id, status, outcome.reason, deps.clock())


def _post_warnings(tenant_id: str, warnings: _Warnings, deps: GuardDeps) -> None:
    if not warnings.pending:
        return
    text = warning_text([(name, rule_name(a.rule)) for a, name in warnings.pending])
    outcome = deps.platforms.post(warnings.group, text)
    for a, _ in warnings.pending:
        deps.log.finish(tenant_id, a.action_id, "done" if outcome.ok else "failed", outcome.reason, deps.clock())
