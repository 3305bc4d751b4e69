"""A BoardStore in dictionaries: the earning entries of each day, and the boards stored."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from qunyun.domain.ledger import Board


class MemoryBoards:
    def __init__(self) -> None:
        self.earned: dict[tuple[str, str], list[tuple[str, str | None, int]]] = defaultdict(list)
        self.boards: dict[tuple[str, str, str, str], Board] = {}
        self.built: set[tuple[str, str]] = set()

    def earn(self, tenant_id: str, day: str, member_id: str, points: int, group_id: str | None = None) -> None:
        self.earned[(tenant_id, day)].append((member_id, group_id, points))

    def earnings_on(self, tenant_id: str, day: str) -> Iterator[tuple[str, str | None, int]]:
        yield from self.earned[(tenant_id, day)]

    def board(self, tenant_id: str, scope: str, period: str, start: str) -> Board | None:
        return self.boards.get((tenant_id, scope, period, start))

    def save_board(self, tenant_id: str, scope: str, period: str, start: str, entries: list, through: str,
                   as_of: datetime) -> None:
        self.boards[(tenant_id, scope, period, start)] = Board(list(entries), through, as_of)

    def boards_built(self, tenant_id: str, day: str) -> bool:
        return (tenant_id, day) in self.built
