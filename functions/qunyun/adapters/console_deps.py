"""The console's repositories, each made on its first use: a page builds the tables it reads and no others.

Built up front, a cold start of the Console loaded every table module the pages could read and made the clients
of 39 models (docs/benchmarks.md, cold starts); the group page reads five tables, the guard page two."""

from __future__ import annotations

from functools import cached_property
from typing import Any


class ConsoleTables:
    """What `services/console_views.py` reads through (its `ConsoleDeps`, with the rollups port the Console adds),
    the CLI's own repositories."""

    @cached_property
    def tenants(self) -> Any:
        from qunyun.adapters.tenants import TenantRepository
        return TenantRepository()

    @cached_property
    def groups(self) -> Any:
        from qunyun.adapters.groups import GroupRepository
        return GroupRepository()

    @cached_property
    def deliveries(self) -> Any:
        from qunyun.adapters.deliveries import DeliveryRepository
        return DeliveryRepository()

    @cached_property
    def roster(self) -> Any:
        from qunyun.adapters.console_roster import ConsoleRoster
        return ConsoleRoster()

    @cached_property
    def activity(self) -> Any:
        from qunyun.adapters.activity import ActivityStore
        return ActivityStore()

    @cached_property
    def guard_log(self) -> Any:
        from qunyun.adapters.guard_log import GuardLog
        return GuardLog()

    @cached_property
    def sweep_runs(self) -> Any:
        from qunyun.adapters.sweep_runs import SweepRuns
        return SweepRuns()

    @cached_property
    def ledger(self) -> Any:
        from qunyun.adapters.points_ledger import PointsLedger
        return PointsLedger()

    @cached_property
    def flash(self) -> Any:
        from qunyun.adapters.flash import FlashRepository
        return FlashRepository()

    @cached_property
    def reads(self) -> Any:
        from qunyun.adapters.console_reads import ConsoleReads
        return ConsoleReads()

    @cached_property
    def dead_letters(self) -> Any:
        from qunyun.adapters.dead_letters import DeadLetterCounts
        from qunyun.settings import get_settings
        return DeadLetterCounts(get_settings().dead_letter_queue_urls)

    @cached_property
    def metrics(self) -> Any:
        """The days RollupMetrics closed (the Console reads them through services/console_rollups.py)."""
        from qunyun.adapters.metrics_store import MetricsStore
        return MetricsStore()

    @cached_property
    def keys(self) -> Any:
        from qunyun.adapters.console_sessions import ConsoleKeys
        return ConsoleKeys()
