"""The guard's wiring, shared by ProcessGroupEvents and SweepInactive: its rules (compiled once per tenant and
rules version), records, platform client and the tenant's top members by points (read at most every 10 minutes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from qunyun.services.guard import ChatGroups, GuardDeps


def tenant_timezones(tenant: Callable[[str], object | None]) -> Callable[[str], str]:
    """Each tenant's timezone as first read by this environment (the tenant's `timezone`, or the default)."""
    import functools

    from qunyun.domain.tenants import DEFAULT_TIMEZONE

    @functools.lru_cache(maxsize=1024)
    def timezone(tenant_id: str) -> str:
        found = tenant(tenant_id)
        return getattr(found, "timezone", None) or DEFAULT_TIMEZONE

    return timezone


def guard_deps(directory: ChatGroups, timezone: Callable[[str], str]) -> GuardDeps:
    """The guard's rules, records and platform calls; matchers compiled once per tenant and rules version."""
    from qunyun.adapters.guard_groups import GuardGroups, GuardPlatforms, roster_entries, roster_entry
    from qunyun.adapters.guard_log import GuardLog
    from qunyun.adapters.guard_rules import GuardRulesStore
    from qunyun.adapters.points_ledger import PointsLedger
    from qunyun.adapters.secrets import secret_store
    from qunyun.services.boards import TOP, leaderboard
    from qunyun.services.guard_rules import RulesCache
    from qunyun.settings import get_settings

    settings, ledger = get_settings(), PointsLedger()
    top_cache: dict[tuple[str, int], tuple[float, set[str]]] = {}
    top_lock = threading.Lock()  # a batch's groups are guarded side by side: one reads the board, the rest wait

    def top_members(tenant_id: str, n: int) -> set[str]:
        """The month's top N of the tenant's leaderboard, read at most every 10 minutes."""
        with top_lock:
            hit = top_cache.get((tenant_id, n))
            if hit is None or time.monotonic() - hit[0] > 600:
                now = datetime.now(UTC)
                day = now.astimezone(ZoneInfo(timezone(tenant_id))).date()
                board = leaderboard(tenant_id, "tenant", "month", day, min(n, TOP), ledger=ledger, now=now)
                hit = (time.monotonic(), {e["member_id"] for e in board["entries"]})
                top_cache[(tenant_id, n)] = hit
            return hit[1]

    return GuardDeps(directory=directory, groups=GuardGroups(secret_store(settings)),
                     rules=RulesCache(GuardRulesStore()), log=GuardLog(),
                     platforms=GuardPlatforms(moderation(settings)), top_members=top_members,
                     clock=lambda: datetime.now(UTC), member=roster_entry,
                     members=roster_entries)


def moderation(settings):
    """The platforms' moderation clients, at the base URLs the settings give (local fakes in tests)."""
    from qunyun.channels.moderation import Moderation

    return Moderation(settings.telegram_base_url, feishu_base_url=settings.feishu_base_url,
                      slack_api_base_url=settings.slack_api_base_url, dingtalk_base_url=settings.dingtalk_base_url)
