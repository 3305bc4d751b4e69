"""What the points and mall services need of storage, as Protocols: the units of work they are handed.

`qunyun.adapters.points_ledger.PointsLedger` implements all of them over DynamoDB. A service reads in
domain terms, plans a change as a `Plan`, and commits it all-or-nothing; a commit that lost a race raises
`qunyun.domain.ledger.Contention`, and the service reads and plans again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, runtime_checkable

from qunyun.domain.ledger import (
    Board,
    Entry,
    EventRecord,
    Guard,
    Invite,
    JobRun,
    LotId,
    LotState,
    MemberState,
    Plan,
    Purchase,
    Read,
)
from qunyun.domain.mall import Redemption, RewardTerms


class Snapshot(Protocol):
    """Reads planned together: one round trip before a change, kept until `forget`. Without `consistent`, the
    round trip may find items as they were a moment ago: plan from it only what a write's condition checks."""

    def prefetch(self, reads: list[Read], consistent: bool = True) -> None: ...

    def ahead(self, reads: list[Read], consistent: bool = True) -> AbstractContextManager[None]: ...

    def consistent(self) -> bool: ...

    def forget(self) -> None: ...


@runtime_checkable
class MemberReads(Protocol):
    def member(self, tenant_id: str, member_id: str) -> MemberState: ...

    def lots(self, tenant_id: str, member_id: str, pending: bool = False) -> list[LotState]: ...

    def lot(self, tenant_id: str, member_id: str, lot: LotId) -> LotState | None: ...

    def guard(self, tenant_id: str, member_id: str, guard: Guard) -> int | None: ...

    def members(self, tenant_id: str) -> Iterator[str]: ...

    def all_entries(self, tenant_id: str, member_id: str) -> Iterator[Entry]: ...

    def entries_page(self, tenant_id: str, member_id: str, limit: int,
                     cursor: str | None) -> tuple[list[Entry], str | None]: ...


@runtime_checkable
class PointsUnitOfWork(Snapshot, MemberReads, Protocol):
    """Points events, adjustments and settlement: the ledger's records, and the one commit."""

    def event(self, tenant_id: str, event_id: str) -> EventRecord | None: ...

    def order(self, tenant_id: str, order_id: str) -> Purchase | None: ...

    def invite(self, tenant_id: str, invitee_id: str) -> Invite | None: ...

    def commit(self, plan: Plan, now: datetime) -> None: ...


@runtime_checkable
class MallUnitOfWork(PointsUnitOfWork, Protocol):
    """Rewards, their sharded stock and redemptions, on top of the points ledger."""

    def reward(self, tenant_id: str, reward_id: str) -> RewardTerms | None: ...

    def rewards(self, tenant_id: str) -> list[RewardTerms]: ...

    def stock(self, tenant_id: str, reward_id: str, shards: int) -> dict[int, int]: ...

    def add_reward(self, tenant_id: str, terms: RewardTerms, stock: list[int], now: datetime) -> None: ...

    def update_terms(self, tenant_id: str, terms: RewardTerms) -> None: ...

    def restock(self, tenant_id: str, reward_id: str, changes: dict[int, int]) -> None: ...

    def redemption(self, tenant_id: str, order_id: str) -> Redemption | None: ...

    def save_failed(self, tenant_id: str, redemption: Redemption) -> bool: ...

    def notices(self, until: str, tenant_id: str | None = None, page: int = 100) -> Iterator[tuple[str, str]]: ...


@runtime_checkable
class BoardStore(Protocol):
    """Earning entries by day, and the leaderboards built from them."""

    def earnings_on(self, tenant_id: str, day: str) -> Iterator[tuple[str, str | None, int]]: ...

    def board(self, tenant_id: str, scope: str, period: str, start: str) -> Board | None: ...

    def save_board(self, tenant_id: str, scope: str, period: str, start: str, entries: list, through: str,
                   as_of: datetime) -> None: ...

    def boards_built(self, tenant_id: str, day: str) -> bool: ...


@runtime_checkable
class BoardsUnitOfWork(PointsUnitOfWork, BoardStore, Protocol):
    """Points events, members and their leaderboards: what PointsApi serves."""


@runtime_checkable
class JobUnitOfWork(BoardsUnitOfWork, Protocol):
    """A scheduled run of SettlePoints: its due work, checkpoint and counters."""

    def run(self, run: JobRun) -> dict | None: ...

    def finish_run(self, run: JobRun, start: int) -> None: ...

    def start_run(self, run: JobRun) -> tuple[int, int]: ...

    def commit_pieces(self, plans: list[Plan], now: datetime, window: int) -> list[str]: ...

    def count(self, run: JobRun, start: int, window: int, counters: dict[str, int]) -> None: ...

    def piece_of(self, tenant_id: str, member_id: str, at: datetime, entry_id: str) -> tuple[int, int] | None: ...

    def due_work(self, until: str, page: int = 100) -> Iterator[list[tuple[str, str, LotId]]]: ...

    def due_handled(self, skipped: set[str] = frozenset()) -> int: ...

    def mark_boards(self, tenant_id: str, day: str, run: JobRun, count: int) -> bool: ...
