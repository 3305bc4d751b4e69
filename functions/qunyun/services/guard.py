"""The guard: each batch's messages checked against the group rules; an offence is recorded with its evidence
and what is to be done about it before anything is done, then the message deleted where the platform allows it,
the member warned (one message per group and batch, naming the rule, never the offending text) or, on the
ladder's say, removed.

An offence's actions are written as intended with the offence itself (one item) before any is attempted, and
their results after, the whole batch's together (domain/guard.py), so a retried batch never deletes, warns or
removes twice. A member's offences are read once per group and batch (one Query), which gives both their count
in the window and a removal that still stands; the offenders' roster entries (roles, joins) at once. A removal
the platform cannot make or refuses becomes an operator task with the evidence (`qunyun guard tasks`)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from qunyun.domain.connections import CHANNELS
from qunyun.domain.group_events import Message
from qunyun.domain.guard import (
    CAN_DELETE,
    INTERRUPTED,
    Action,
    GuardGroup,
    Offence,
    Outcome,
    action_id,
    ladder_step,
    no_removal,
    not_done,
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
GROUPS_AT_ONCE = 8  # a batch's groups guarded side by side


class GuardStore(Protocol):
    def add_offence(self, o: Offence) -> Offence | None: ...
    def finish_offence(self, o: Offence, results: Mapping[str, tuple[str, str]], now: datetime) -> None: ...
    def finish_offences(self, done: list[tuple[Offence, Mapping[str, tuple[str, str]]]], now: datetime) -> None: ...
    def offences(self, tenant_id: str, group_id: str | None = None, member_id: str | None = None
                 ) -> list[Offence]: ...
    def pardon_offences(self, tenant_id: str, group_id: str, member_id: str) -> int: ...
    def intend(self, a: Action, now: datetime) -> Action | None: ...
    def finish(self, tenant_id: str, action_id: str, status: str, reason: str, now: datetime) -> None: ...
    def action(self, tenant_id: str, action_id: str) -> Action | None: ...
    def actions(self, tenant_id: str) -> list[Action]: ...


class Platforms(Protocol):
    def delete_many(self, group: GuardGroup, message_ids: list[str]) -> list[Outcome]: ...  # in one call if can
    def post(self, group: GuardGroup, text: str) -> Outcome: ...
    def remove(self, group: GuardGroup, user_id: str) -> Outcome: ...
    def restore(self, group: GuardGroup, user_id: str) -> Outcome: ...


Seat = tuple[str, str, str]  # (tenant, group, member): a member's place in a group


class Rules(Protocol):
    def rules(self, tenant_id: str) -> tuple[GroupRules, int]: ...
    def matcher(self, tenant_id: str, guard: GuardSection) -> Matcher: ...
    def for_group(self, tenant_id: str, kind: str, tags: tuple[str, ...]) -> tuple[GuardSection, Matcher]: ...


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
    # Several members' entries at once, (tenant, group, member) → entry, those not on a roster left out: a batch's
    # offenders in all its groups.
    members: Callable[[Iterable[Seat]], dict[Seat, RosterEntry]] | None = None


Keyed = list[tuple[str, Message]]  # (record id, message)
Results = dict[str, tuple[str, str]]  # an offence's actions' results: kind → (status, reason)


@dataclass
class _Batch:
    """A group's batch: its messages that match a rule, its members' offences as read once (and as written since),
    what is to be done."""

    group: GuardGroup
    guard: GuardSection
    hits: list[tuple[Message, Hit]]
    entries: dict[Seat, RosterEntry | None]  # the batch's offenders' roster entries, shared by its groups
    known: dict[str, list[Offence]] = field(default_factory=dict)
    planned: list[tuple[Offence, str]] = field(default_factory=list)  # (offence, the member's name)

    def offences(self, tenant_id: str, member_id: str, log: GuardStore) -> list[Offence]:
        if member_id not in self.known:
            self.known[member_id] = log.offences(tenant_id, self.group.group_id, member_id)
        return self.known[member_id]

    def entry(self, tenant_id: str, member_id: str, deps: GuardDeps) -> RosterEntry | None:
        seat = (tenant_id, self.group.group_id, member_id)
        if seat not in self.entries:
            self.entries[seat] = deps.member(*seat)
        return self.entries[seat]


def guard_messages(messages: Keyed, deps: GuardDeps) -> set[str]:
    """Checks a batch's messages; returns the record ids to retry (their chat's guard could not finish).

    In three steps: the messages that match a rule, group by group; the offenders' roster entries, all at once;
    then each group's offences recorded and acted on, and the results of all of them written together."""
    entries: dict[Seat, RosterEntry | None] = {}
    batches, failed = _matched(messages, entries, deps)
    _read_entries(batches, entries, deps)
    finished: list[tuple[set[str], list[tuple[Offence, Results]]]] = []
    todo = [(keys, batch) for keys, batch in batches if not keys & failed]
    for (keys, _), outcome in zip(todo, _each_group(todo, deps), strict=True):
        if isinstance(outcome, Exception):
            logger.error("the guard could not finish a chat's messages", exc_info=outcome)
            failed |= keys
        else:
            finished.append((keys, outcome))
    return failed | _record_results(finished, deps)


def offending(messages: Keyed, deps: GuardDeps) -> tuple[Keyed, set[str]]:
    """The batch's messages that match a rule of their group (each once), and the record ids of the chats whose
    rules or groups could not be read (to retry): what ProcessGroupEvents hands to the guard's own queue."""
    batches, failed = _matched(messages, {}, deps)
    keys = {id(m): key for key, m in messages}
    seen: dict[str, tuple[str, Message]] = {}
    for _, batch in batches:
        for m, _ in batch.hits:
            seen.setdefault(keys[id(m)], (keys[id(m)], m))
    return [seen[key] for key, _ in messages if key in seen], failed


def _matched(messages: Keyed, entries: dict[Seat, RosterEntry | None], deps: GuardDeps
             ) -> tuple[list[tuple[set[str], _Batch]], set[str]]:
    """Each group's messages of the batch that match its rules (groups without any left out), and the record ids
    of the chats that could not be looked at."""
    chats: dict[tuple[str, str, str], Keyed] = defaultdict(list)
    for key, m in messages:
        chats[(m.tenant_id, m.platform, m.chat_id)].append((key, m))
    failed: set[str] = set()
    batches: list[tuple[set[str], _Batch]] = []
    for (tenant_id, platform, chat_id), keyed in chats.items():
        try:
            mapped = deps.directory.groups(tenant_id, [chat_id]).get(chat_id, [])
            batches += [({key for key, _ in keyed}, b) for g in mapped if g.channel in CHANNELS[platform]
                        if (b := _hits(tenant_id, g.group_id, [m for _, m in keyed], entries, deps)) is not None]
        except Exception:
            logger.exception("the guard could not finish a chat's messages")
            failed |= {key for key, _ in keyed}
    return batches, failed


def _each_group(todo: list[tuple[set[str], _Batch]], deps: GuardDeps) -> list:
    """Each group's offences recorded and acted on: its results, or the exception that stopped it. Groups are
    independent (a member's offences count per group), and each is a few round trips to DynamoDB and the platform,
    so a batch's groups run side by side (the first alone: it makes the clients the others share)."""

    def one(batch: _Batch):
        try:
            return _guard_group(batch, deps)
        except Exception as err:
            return err
    if not todo:
        return []
    first = [one(todo[0][1])]
    if len(todo) == 1:
        return first
    with ThreadPoolExecutor(max_workers=min(GROUPS_AT_ONCE, len(todo) - 1)) as pool:
        return first + list(pool.map(one, [batch for _, batch in todo[1:]]))


def _hits(tenant_id: str, group_id: str, messages: list[Message], entries: dict[Seat, RosterEntry | None],
          deps: GuardDeps) -> _Batch | None:
    """The group's messages that match its rules, or None when none does (or the tenant has no rules)."""
    _, version = deps.rules.rules(tenant_id)
    if version == 0:  # a tenant that never set group rules has no guard: nothing is an offence by default
        return None
    group = deps.groups(tenant_id, group_id)  # after the rules: a tenant without any reads no group here
    if group is None:
        return None
    guard, matcher = deps.rules.for_group(tenant_id, group.kind, tuple(group.tags))
    hits = [(m, hit) for m in sorted(messages, key=lambda m: m.occurred_at) if (hit := matcher.first(m.text))]
    return _Batch(group, guard, hits, entries) if hits else None


def _read_entries(batches: list[tuple[set[str], _Batch]], entries: dict[Seat, RosterEntry | None],
                  deps: GuardDeps) -> None:
    """The roster entries (roles, joins) of the batch's offenders wherever roles exempt, in one read; should it
    fail, each is read when needed."""
    wanted = {(m.tenant_id, b.group.group_id, m.sender.member_id(m.platform))
              for _, b in batches if b.guard.exempt.roles for m, _ in b.hits}
    if not wanted or deps.members is None:
        return
    try:
        found = deps.members(wanted)
    except Exception:
        logger.exception("the offenders' roster entries could not be read at once")
        return
    entries.update({seat: found.get(seat) for seat in wanted})


def _record_results(finished: list[tuple[set[str], list[tuple[Offence, Results]]]], deps: GuardDeps) -> set[str]:
    """The batch's results together; should that fail, their chats come back and find their actions intended."""
    done = [r for _, results in finished for r in results]
    if not done:
        return set()
    try:
        deps.log.finish_offences(done, deps.clock())
    except Exception:
        logger.exception("the guard's results could not be recorded")
        return {key for keys, results in finished if results for key in keys}
    return set()


def _guard_group(batch: _Batch, deps: GuardDeps) -> list[tuple[Offence, Results]]:
    """The group's offences of the batch, recorded and acted on; returns their actions' results."""
    for m, hit in batch.hits:
        if not _exempt(m, batch.group, batch.guard, batch, deps):
            _offence(m, batch.guard, hit, batch, deps)
    return _carry_out(batch, deps)


def _exempt(m: Message, group: GuardGroup, guard: GuardSection, batch: _Batch, deps: GuardDeps) -> bool:
    member_id = m.sender.member_id(m.platform)
    exempt = guard.exempt
    if member_id in exempt.members or (m.sender.role and m.sender.role in exempt.roles):
        return True
    if "owner" in exempt.roles and group.owner and group.owner == m.sender.user_id:
        return True
    if exempt.roles:  # a role the roster learned from the platform's events (a message seldom carries one)
        entry = batch.entry(m.tenant_id, member_id, deps)
        if entry is not None and entry.role in exempt.roles:
            return True
    return bool(exempt.top_points) and member_id in deps.top_members(m.tenant_id, exempt.top_points)


def _offence(m: Message, guard: GuardSection, hit: Hit, batch: _Batch, deps: GuardDeps) -> None:
    """Records the offence with what is to be done about it: its deletion, then a warning or, on the ladder's
    say, a removal (none while an earlier removal of the window stands)."""
    member_id, group = m.sender.member_id(m.platform), batch.group
    known = batch.offences(m.tenant_id, member_id, deps.log)
    found = next((o for o in known if o.message_id == m.message_id), None)
    if found is not None:  # a retried batch: what was written as intended may have happened
        _interrupted(found, deps)
        return
    offence = Offence(m.tenant_id, group.group_id, m.platform, m.chat_id, member_id, m.message_id, m.text or "",
                      hit.rule, hit.detail, m.occurred_at)
    kinds = ["delete"] if m.platform in CAN_DELETE else []
    if not _standing_removal(offence, known, guard, lambda: batch.entry(m.tenant_id, member_id, deps)):
        count = offences_in_window([*known, offence], offence, guard.window_days)
        kinds.append(ladder_step(guard.ladder, count))
    offence = replace(offence, actions={k: ("intended", "") for k in kinds})
    stored = deps.log.add_offence(offence)  # the evidence and the intentions first, in one write
    if stored is not None:  # written meanwhile by another delivery of the same message
        known.append(stored)
        _interrupted(stored, deps)
        return
    known.append(offence)
    batch.planned.append((offence, shown_name(m.sender.name, m.sender.user_id)))


def _interrupted(o: Offence, deps: GuardDeps) -> None:
    """An offence found written: its actions still intended are not attempted again; their results are unknown."""
    open_ = {k: (not_done(k), INTERRUPTED) for k, (status, _) in o.actions.items() if status == "intended"}
    if open_:
        deps.log.finish_offence(o, open_, deps.clock())


def _standing_removal(o: Offence, known: list[Offence], guard: GuardSection,
                      entry_of: Callable[[], RosterEntry | None]) -> bool:
    """A member already removed for an earlier offence of the window (by the guard: the sweep's removals are its
    own) is not removed or warned again, unless they joined again since (their roster entry says): the offence
    is recorded (and its message deleted), the removal made stands for it."""
    removals = [r for k in known for r in k.removals()]
    if not removals:
        return False
    entry = entry_of()
    joined_at = entry.joined_at if entry is not None and entry.status == "member" else None
    return removed_already(removals, o, guard.window_days, joined_at,
                           action_id("remove", o.group_id, o.member_id, o.message_id))


def _carry_out(batch: _Batch, deps: GuardDeps) -> list[tuple[Offence, Results]]:
    """The batch's deletions, removals and one warning; returns each offence's results (to record)."""
    if not batch.planned:
        return []
    group, results = batch.group, {o.message_id: {} for o, _ in batch.planned}
    deleting = [o for o, _ in batch.planned if "delete" in o.actions]
    if deleting:  # one call for the chat's batch where the platform deletes several messages at once
        for o, outcome in zip(deleting, deps.platforms.delete_many(group, [o.message_id for o in deleting]),
                              strict=True):
            results[o.message_id]["delete"] = ("done" if outcome.ok else "failed", outcome.reason)
    for o, _ in batch.planned:
        if "remove" in o.actions:
            outcome = attempt_removal(o.action("remove"), group, deps)
            results[o.message_id]["remove"] = ("done" if outcome.ok else "task", outcome.reason)
    warned = [(o, name) for o, name in batch.planned if "warn" in o.actions]
    if warned:
        outcome = deps.platforms.post(group, warning_text([(name, rule_name(o.rule)) for o, name in warned]))
        for o, _ in warned:
            results[o.message_id]["warn"] = ("done" if outcome.ok else "failed", outcome.reason)
    return [(o, results[o.message_id]) for o, _ in batch.planned]


def attempt_removal(removal: Action, group: GuardGroup, deps: GuardDeps) -> Outcome:
    """The platform's removal, or why there is none (the removal is then an operator task)."""
    reason = no_removal(removal.platform, group.tags)
    if reason is not None:
        return Outcome(False, reason, unsupported=True)
    return deps.platforms.remove(group, user_id(removal.member_id))


def remove(removal: Action, group: GuardGroup, deps: GuardDeps) -> None:
    """A removal of its own (the sweep's): intended, then attempted, then its result."""
    act(removal, lambda: attempt_removal(removal, group, deps), deps)


def act(action: Action, attempt: Callable[[], Outcome], deps: GuardDeps) -> None:
    """Intended, then attempted, then its result: an action found already intended is not attempted again."""
    found = deps.log.intend(action, deps.clock())
    if found is not None:
        if found.status == "intended":  # the last attempt stopped between the call and its record
            deps.log.finish(action.tenant_id, action.action_id, not_done(action.kind), INTERRUPTED, deps.clock())
        return
    outcome = attempt()
    status = "done" if outcome.ok else not_done(action.kind)
    deps.log.finish(action.tenant_id, action.action_id, status, outcome.reason, deps.clock())
