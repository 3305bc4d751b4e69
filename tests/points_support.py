"""Helpers shared by the points ledger tests (test_points_*.py)."""

from __future__ import annotations

from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository


class OnlyTenants(TenantRepository):
    """The real tenants table, seen by a settle run as if these were the only tenants.

    SettlePoints works through every tenant in the table; the DynamoDB Local of a test session is shared by
    every test, so each run is scoped to its own test's tenants and its summary counts only their work."""

    def __init__(self, *tenant_ids: str):
        self._only = list(tenant_ids)

    def ids(self) -> list[str]:
        return list(self._only)

    def get(self, tenant_id: str):
        return super().get(tenant_id) if tenant_id in self._only else None


class CountingLedger(PointsLedger):
    """The real ledger, counting its commits: transactions, a run's pieces written alone, and its windows' counts."""

    def __init__(self) -> None:
        super().__init__()
        self.commits = 0

    def commit(self, plan, now):
        super().commit(plan, now)
        self.commits += 1

    def commit_pieces(self, plans, now, window):
        outcomes = super().commit_pieces(plans, now, window)
        self.commits += 1
        return outcomes

    def count(self, run, start, window, counters):
        super().count(run, start, window, counters)
        self.commits += 1


def as_old_layout(tenant_id: str, member_id: str, order_id: str) -> None:
    """Moves a purchase's pending lot out of its order into a lot item under its member, as the code before the
    order-held lots wrote it (P#purchase#{order}, with the lot's own fields)."""
    from qunyun.adapters import points_keys as keys
    from qunyun.adapters.points_tables import LotItem, OrderItem

    order = OrderItem.get(*keys.record_key("purchase", tenant_id, order_id), consistent_read=True)
    LotItem(keys.member_pk(tenant_id, member_id), f"P#purchase#{order_id}", state=order.state,
            remaining=order.remaining, settle_at=order.settle_at, due_at=order.due_at, source_type="purchase",
            source_id=order_id, group_id=order.group_id, version=1).save()
    order.update(actions=[OrderItem.state.remove(), OrderItem.remaining.remove(), OrderItem.settle_at.remove(),
                          OrderItem.due_at.remove(), OrderItem.due_new.remove()])
