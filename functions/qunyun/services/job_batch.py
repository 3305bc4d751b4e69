"""A scheduled run's pieces of work written a batch at a time: those of one member each as single writes, their
counts added a window at a time (`Tally`, adapters/lone_pieces.py), the rest several to a transaction with their
counts (domain/plan_batch.py says why).

Each piece is planned as before, from its own reads, and waits in its tenant's batch. A piece that touches what a
waiting one touches (a member's second lot due in the run) was planned from a read the batch will change: it
waits to be planned again and committed alone once the batch is written, and so does a piece that touches what
such a piece touched. A piece whose single write, or a batch whose transaction, loses a race is planned again and
written piece by piece, as a run did before.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from qunyun.domain.ledger import Contention, JobRun, Plan
from qunyun.domain.plan_batch import TRANSACTION_ITEMS, lone, together, touched, writes
from qunyun.services.ledger_ports import JobUnitOfWork as Ledger

Work = Callable[[], Plan | None]  # plans one piece from fresh reads; None when there is nothing to write


WINDOWS = 1_000_000  # windows a start of a run may count: start n numbers its windows from n * WINDOWS + 1


class Tally:
    """A run's counts of its pieces written alone (adapters/lone_pieces.py), added to the run's item a window at a
    time. Each piece's entry names the window that counts it; each start of the run numbers its windows above the
    last start's, so a window an earlier start never counted is told from this start's own."""

    def __init__(self, ledger: Ledger, run: JobRun, start: int) -> None:
        self.ledger, self.run, self.start = ledger, run, start
        self.first = start * WINDOWS + 1
        self.window = self.first  # the window the pieces written now name
        self.pending: Counter[str] = Counter()

    def add(self, counts: dict[str, int]) -> None:
        self.pending.update(counts)

    def close(self) -> None:
        """Adds the window's counts to the run's, once; the next pieces name the next window."""
        if self.pending:
            self.ledger.count(self.run, self.start, self.window, {k: v for k, v in self.pending.items() if v})
            self.pending.clear()
            self.window += 1


def alone(ledger: Ledger, now: datetime, work: Work, tally: Tally | None = None) -> None:
    """Plans and commits one piece, planning again after each lost race; a piece of one member is written alone
    where the run keeps a tally."""
    for attempt in range(25):
        plan = work()
        if plan is None:
            return
        try:
            outcome = "transaction"
            if tally is not None and lone(plan):
                outcome = ledger.commit_pieces([plan], now, tally.window)[0]
            if outcome == "written":
                return tally.add(plan.job[1])
            if outcome == "transaction":
                return ledger.commit(plan, now)
        except Contention:
            pass
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

    def __init__(self, ledger: Ledger, now: datetime, tally: Tally | None = None) -> None:
        self.ledger, self.now, self.tally = ledger, now, tally
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
        """Writes a tenant's batch (every tenant's without one) in one transaction, then the pieces after it; every
        tenant's closes the window of the pieces written alone since the last (a unit for about a thousand pieces,
        where a window a batch cost a unit for some thirty)."""
        for t in [tenant_id] if tenant_id is not None else list(self._batches):
            batch = self._batches.pop(t, None)
            if batch is None:
                continue
            waiting, lost = self._alone(batch.waiting)
            if waiting:
                try:
                    self.ledger.commit(together([plan for _, plan in waiting]), self.now)
                except Contention:
                    lost += [work for work, _ in waiting]
            for work in lost + batch.after:
                alone(self.ledger, self.now, work, self.tally)
        if self.tally is not None and tenant_id is None:  # a window is every batch up to the run's next full flush
            self.tally.close()

    def _alone(self, waiting: list[tuple[Work, Plan]]) -> tuple[list[tuple[Work, Plan]], list[Work]]:
        """Writes the pieces of one member alone where they may (the run keeping a tally); returns the pieces left
        for the transaction, and those to plan again."""
        alone = [self.tally is not None and lone(plan) for _, plan in waiting]
        pieces = [piece for piece, one in zip(waiting, alone, strict=True) if one]
        rest = [piece for piece, one in zip(waiting, alone, strict=True) if not one]
        if not pieces:
            return rest, []
        outcomes = self.ledger.commit_pieces([plan for _, plan in pieces], self.now, self.tally.window)
        for (_, plan), outcome in zip(pieces, outcomes, strict=True):
            if outcome == "written":
                self.tally.add(plan.job[1])
        return (rest + [p for p, o in zip(pieces, outcomes, strict=True) if o == "transaction"],
                [work for (work, _), o in zip(pieces, outcomes, strict=True) if o == "lost"])
