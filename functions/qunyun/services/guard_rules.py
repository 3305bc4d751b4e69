"""The group rules in force: set whole from a checked file, read through a cache so that each execution
environment compiles a tenant's matcher once per version of its rules."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from qunyun.domain.guard_rules import GroupRules, GuardSection, Matcher


class RulesStore(Protocol):
    def get(self, tenant_id: str) -> tuple[GroupRules, int] | None: ...
    def put(self, tenant_id: str, rules: GroupRules, at: datetime) -> int: ...


def set_rules(tenant_id: str, rules: GroupRules, now: datetime, *, store: RulesStore) -> int:
    """Replaces the tenant's rules (already checked whole); returns their new version."""
    return store.put(tenant_id, rules, now)


def rules_in_force(tenant_id: str, *, store: RulesStore) -> GroupRules:
    """The tenant's rules, or the defaults of API.md §7 where none were set."""
    found = store.get(tenant_id)
    return found[0] if found else GroupRules()


class RulesCache:
    """Rules per tenant, read again after `seconds`; matchers compiled once per (tenant, version, group rules)."""

    def __init__(self, store: RulesStore, seconds: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.store, self.seconds, self.clock = store, seconds, clock
        self._rules: dict[str, tuple[float, GroupRules, int]] = {}
        self._matchers: dict[tuple[str, int, str], Matcher] = {}
        self._sections: dict[tuple[str, int, str, tuple[str, ...]], tuple[GuardSection, Matcher]] = {}

    def rules(self, tenant_id: str) -> tuple[GroupRules, int]:
        cached = self._rules.get(tenant_id)
        if cached is None or self.clock() - cached[0] > self.seconds:
            found = self.store.get(tenant_id)
            rules, version = found if found else (GroupRules(), 0)
            cached = (self.clock(), rules, version)
            self._rules[tenant_id] = cached
        return cached[1], cached[2]

    def matcher(self, tenant_id: str, guard: GuardSection) -> Matcher:
        _, version = self.rules(tenant_id)
        key = (tenant_id, version, guard.model_dump_json())  # overrides may differ per group
        if key not in self._matchers:
            self._matchers[key] = Matcher(guard)
        return self._matchers[key]

    def for_group(self, tenant_id: str, kind: str, tags: tuple[str, ...]) -> tuple[GuardSection, Matcher]:
        """The guard rules in force in a group of this kind and tags, and their matcher: merged and checked once
        per (tenant, version, kind, tags), not once a group and batch (200 rules take a millisecond to check)."""
        rules, version = self.rules(tenant_id)
        key = (tenant_id, version, kind, tags)
        if key not in self._sections:
            guard = rules.for_group(kind, tags)[0]
            self._sections[key] = (guard, self.matcher(tenant_id, guard))
        return self._sections[key]
