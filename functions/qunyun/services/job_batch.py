"""A scheduled run's pieces of work committed several to a transaction (domain/plan_batch.py says why).

Each piece is planned as before, from its own reads, and waits in its tenant's batch. A piece that touches what a
waiting one touches (a member's second lot due in the run) was planned from a read the batch will change: it
waits to be planned again and committed alone once the batch is written, and so does a piece that touches what
such a piece touched. A batch whose transaction loses a race is written piece by piece, each planned again, as a
run did before.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime

from qunyun.domain.ledger import Contention, Plan
from qunyun.domain.plan_batch import TRANSACTION_ITEMS, together, touched, writes
from qunyun.services.ledger_ports import JobUnitOfWork as Ledger

Work = Callable[[], Plan | None]  # plans one piece from fresh reads; None when there is nothing to write


def alone(ledger: Ledger, now: datetime, work: Work) -> None:
    """Plans and commits one piece, planning again after each lost race."""
    for attempt in range(25):
        plan = work()
        if plan is None:
            return
        try:
            return ledger.commit(plan, now)
        except Contention:
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    raise RuntimeError("settlement kept losing races for one member; it will be retried by the next run")


class _Batch:
    """One tenant's waiting pieces: their works and plans, what they touch, their items, the pieces after and
    what those touched when first planned."""

    def __init__(self) -> None:
        self.waiting: list[tuple[Work, Plan]] = []
        self.touched: set[tuple[str, str]] = set()
        self.items = 1  # the run's counters: one item for the whole batch
        self.after: list[Work] = []
        self.after_touched: set[tuple[str, str]] = set()


class Batches:
    """The waiting pieces of each tenant of a run; `flush` writes what is left."""

    def __init__(self, ledger: Ledger, now: datetime) -> None:
        self.ledger, self.now = ledger, now
        self._batches: dict[str, _Batch] = {}

    def do(self, tenant_id: str, work: Work) -> None:
        """Plans the piece and adds it to its tenant's batch, or to the pieces planned again after it."""
        plan = work()
        if plan is None:
            return
        batch, keys = self._batches.setdefault(tenant_id, _Batch()), touched(plan)
        # what a piece after the batch writes would make this plan stale too: it goes after them, in order
        if keys & (batch.touched | batch.after_touched):
            batch.after.append(work)
            batch.after_touched |= keys
            return
        items = writes(plan) - (plan.job is not None)
        if batch.items + items > TRANSACTION_ITEMS:
            self.flush(tenant_id)
            batch = self._batches.setdefault(tenant_id, _Batch())
        batch.waiting.append((work, plan))
        batch.touched |= keys
        batch.items += items

    def flush(self, tenant_id: str | None = None) -> None:
        """Writes a tenant's batch (every tenant's without one) in one transaction, then the pieces after it."""
        for t in [tenant_id] if tenant_id is not None else list(self._batches):
            batch = self._batches.pop(t, None)
            if batch is None:
                continue
            if batch.waiting:
                try:
                    self.ledger.commit(together([plan for _, plan in batch.waiting]), self.now)
                except Contention:
                    for work, _ in batch.waiting:
                        alone(self.ledger, self.now, work)
            for work in batch.after:
                alone(self.ledger, self.now, work)
