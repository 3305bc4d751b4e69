"""The points table as the services' unit of work: consistent reads, the mall, jobs, and all-or-nothing
commits of a Plan. Each idea lives in its own module; this class puts them on one connection."""

from __future__ import annotations

from datetime import datetime

from qunyun.adapters import standing
from qunyun.adapters.lone_pieces import write_alone
from qunyun.adapters.mall_store import MallStore
from qunyun.adapters.points_jobs import JobStore
from qunyun.adapters.points_reads import LedgerReads
from qunyun.adapters.points_stage import stage, stageable
from qunyun.adapters.points_writer import transact
from qunyun.domain.ledger import Contention, Plan

__all__ = ["Contention", "PointsLedger"]


class PointsLedger(MallStore, JobStore, LedgerReads):
    """Implements the ledger ports of qunyun.services.ledger_ports over DynamoDB."""

    def commit(self, plan: Plan, now: datetime) -> None:
        """Writes the plan in one transaction, or a check-in as single writes in a fixed order (points_stage);
        a lost race raises Contention (re-read and plan again)."""
        self.forget()
        if stageable(plan):
            stage(self._connection, plan, now)
        else:
            left = transact(self._connection, plan, now)
            if left is not None and left.items:
                standing.write(self._connection, left)

    def commit_pieces(self, plans: list[Plan], now: datetime, window: int) -> list[str]:
        """Writes one tenant's pieces of one member each (domain/plan_batch.py `lone`) as single writes, their counts
        left for the run to add with its window's; returns each one's outcome: "written", "transaction" (nothing
        written: it needs one) or "lost" (plan it again)."""
        self.forget()
        outcomes, left = write_alone(self._connection, plans, now, window)
        if left.tokens:
            standing.write(self._connection, left)
        return outcomes
