"""Leaderboards, the service alone, on an in-memory BoardStore (tests/memory/boards.py).

GIVEN earnings over days WHEN a board is asked for THEN members are ranked on points earned in the period
(competition ranking, refunds counted against their day), a finished period is read as stored and a running
one computed."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime

import pytest
from memory.boards import MemoryBoards
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.domain.errors import InvalidRequest
from qunyun.services.boards import build_boards, leaderboard
from qunyun.services.ledger_ports import BoardStore

NOW = datetime(2026, 12, 4, 10, tzinfo=UTC)


def _board(store, scope="tenant", period="day", day=date(2026, 12, 2), limit=100) -> list[tuple[int, str, int]]:
    out = leaderboard("t1", scope, period, day, limit, ledger=store, now=NOW)
    return [(row["rank"], row["member_id"], row["points"]) for row in out["entries"]]


def test_ties_share_a_rank_and_refunds_count_against_their_day():
    store = MemoryBoards()
    for member, points in (("a", 10), ("b", 30), ("c", 10), ("d", 5), ("b", -5)):
        store.earn("t1", "2026-12-02", member, points, group_id="g1")
    store.earn("t1", "2026-12-02", "e", -3)  # only a refund that day: not on the board
    assert _board(store) == [(1, "b", 25), (2, "a", 10), (2, "c", 10), (4, "d", 5)]
    assert _board(store, scope="group:g1", limit=2) == [(1, "b", 25), (2, "a", 10)]


def test_a_week_adds_its_days_and_another_tenant_counts_nothing():
    store = MemoryBoards()
    store.earn("t1", "2026-11-30", "a", 7)  # Monday
    store.earn("t1", "2026-12-06", "a", 3)  # Sunday of the same ISO week
    store.earn("t1", "2026-12-07", "a", 100)  # next week
    store.earn("t2", "2026-12-01", "b", 50)
    assert _board(store, period="week") == [(1, "a", 10)]


def test_a_stored_board_is_read_when_it_covers_the_period_and_computed_when_it_does_not():
    store = MemoryBoards()
    store.earn("t1", "2026-12-02", "a", 10)
    build_boards(store, "t1", date(2026, 12, 2), NOW)
    store.earn("t1", "2026-12-02", "late", 99)  # after the board was stored: the stored day board decides
    assert _board(store) == [(1, "a", 10)]
    # The month's stored board runs through the 2nd only, so the running month is computed from entries.
    assert _board(store, period="month") == [(1, "late", 99), (2, "a", 10)]


@pytest.mark.parametrize("scope,period,limit", [("tenant", "year", 10), ("group:", "day", 10), ("tenant", "day", 0)])
def test_bad_requests_name_their_field(scope, period, limit):
    with pytest.raises(InvalidRequest):
        _board(MemoryBoards(), scope=scope, period=period, limit=limit)


def test_the_memory_store_and_the_ledger_answer_the_same_port():
    for name, port in inspect.getmembers(BoardStore, inspect.isfunction):
        if name.startswith("_"):
            continue
        for implementation in (MemoryBoards, PointsLedger):
            assert list(inspect.signature(getattr(implementation, name)).parameters) == \
                list(inspect.signature(port).parameters), (implementation.__name__, name)
