"""The rollup's read of a day's earnings on DynamoDB Local: the board partition is read in slices of the entries'
write times, a bounded number of entries a Query, and every entry of the day comes back exactly once, however the
entries bunch (a morning check-in rush) and however late they were written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from qunyun.adapters import metrics_sources, points_keys
from qunyun.adapters.points_tables import EntryItem

DAY = date(2026, 11, 25)
TZ = "Asia/Shanghai"
START = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # the day's first instant in Shanghai


def _entries(tenant_id: str, written: list[datetime]) -> None:
    with EntryItem.batch_write() as batch:
        for n, at in enumerate(written):
            member = f"m{n}"
            batch.save(EntryItem(points_keys.member_pk(tenant_id, member), points_keys.entry_sk(at, f"e{n}"),
                                 board_pk=points_keys.board_day_pk(tenant_id, DAY.isoformat()), entry_id=f"e{n}",
                                 kind="earn", source_type="checkin", source_id=str(DAY), actor="member",
                                 points=n + 1, group_id=f"g{n % 3}", program_day=DAY.isoformat(), created_at=at))


class Queries:
    """Counts the Queries EntryItem's client sends and the most items one of them answered."""

    def __init__(self) -> None:
        self.client = EntryItem._get_connection().connection.client
        self.sent, self.most = 0, 0

    def _count(self, parsed, model, **_) -> None:
        if model.name == "Query":
            self.sent += 1
            self.most = max(self.most, len(parsed.get("Items", [])))

    def __enter__(self) -> Queries:
        self.client.meta.events.register("after-call.dynamodb", self._count)
        return self

    def __exit__(self, *exc) -> None:
        self.client.meta.events.unregister("after-call.dynamodb", self._count)


def test_a_day_of_bunched_and_late_entries_is_read_once_in_bounded_slices(tenant, monkeypatch):
    # GIVEN 120 entries of the day: 100 written within one second after the morning brief, some through the day,
    # some days late (late events), one written (by a skewed clock) before the day began
    monkeypatch.setattr(metrics_sources, "SLICE", 7)
    rush = [START + timedelta(hours=8, microseconds=n * 10_000) for n in range(100)]
    through = [START + timedelta(hours=h) for h in range(1, 24, 2)]
    late = [START + timedelta(days=d, minutes=d) for d in (1, 2, 6)] + [START + timedelta(days=30)]
    written = rush + through + late + [START - timedelta(minutes=5)]
    _entries(tenant.tenant_id, written)
    # WHEN the rollup reads the day's earnings
    with Queries() as queries:
        earnings = metrics_sources.earnings_on(tenant.tenant_id, DAY, TZ)
    # THEN each entry comes back once, with its member, group and points
    assert sorted((e.member_id, e.group_id, e.points) for e in earnings) == [
        (f"m{n}", f"g{n % 3}", n + 1) for n in sorted(range(len(written)), key=lambda n: f"m{n}")]
    assert {e.source_type for e in earnings} == {"checkin"}
    # AND no Query answered more than a slice, so the day took many
    assert queries.most <= 7
    assert queries.sent >= len(written) // 7


def test_a_small_day_takes_a_few_queries(tenant):
    # GIVEN a day of three entries
    _entries(tenant.tenant_id, [START + timedelta(hours=h) for h in (1, 9, 20)])
    # WHEN the rollup reads it
    with Queries() as queries:
        earnings = metrics_sources.earnings_on(tenant.tenant_id, DAY, TZ)
    # THEN the three come back, from the three outer slices' Queries alone
    assert sorted(e.points for e in earnings) == [1, 2, 3]
    assert queries.sent == 3
