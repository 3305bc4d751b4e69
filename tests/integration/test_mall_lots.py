"""A redemption reads the lots its tenant's expiry rule can name with its other items, and queries the member's
lots only when those do not hold all of its available points (services/mall.py `_lots`).

Tried here: the default rule (this year's and last year's lots: no query, the older spent first); `never`;
rolling days (always a query); a lot made under an earlier rule (a query, and the older lot still spent first); a
lot past its expiry that the job has not expired yet (a query, and that lot left alone).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import LotItem
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.ledger import LotId
from qunyun.domain.mall import RedemptionRequest, Reward
from qunyun.domain.points import expires_at
from qunyun.domain.rules import ExpiryRule, Rules
from qunyun.services.adjust import adjust, reconcile_member
from qunyun.services.mall import add_rewards, redeem

NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


class Queries(PointsLedger):
    """The real ledger, counting the Query calls made through it or the lot items' own client while `counting`."""

    def __init__(self) -> None:
        super().__init__()
        self.queries = 0
        self.clients = list({id(c): c for c in (self._connection.client,
                                                LotItem._get_connection().connection.client)}.values())

    def _count(self, **_) -> None:
        self.queries += 1

    def counting(self, work):
        for c in self.clients:
            c.meta.events.register("provide-client-params.dynamodb.Query", self._count)
        try:
            return work()
        finally:
            for c in self.clients:
                c.meta.events.unregister("provide-client-params.dynamodb.Query", self._count)


def shop(make_tenant, expiry: ExpiryRule):
    fx = make_tenant()
    tenants = TenantRepository()
    tenants.set_rules(fx.tenant_id, Rules(expiry=expiry))
    t = tenants.get(fx.tenant_id)
    add_rewards(t, [Reward(id="mug", name="Mug", cost=40, stock=100)], ledger=PointsLedger(), now=NOW)
    return t


def grant(t, member: str, points: int, at: datetime) -> None:
    adjust(t, member, points, "grant", ledger=PointsLedger(), now=at)


def buy(t, member: str, request_id: str = "r1") -> tuple[int, Queries]:
    ledger = Queries()
    req = RedemptionRequest(request_id=request_id, member_id=member, reward_id="mug", quantity=1)
    answer = ledger.counting(lambda: redeem(t, req, ledger=ledger, now=NOW))
    return answer.status, ledger


def lots(t, member: str) -> dict[str, tuple[str, int]]:
    return {lot.id.name: (lot.state, lot.remaining) for lot in PointsLedger().lots(t.tenant_id, member)}


def expiry_of(t, at: datetime) -> str:
    return expires_at(at, t.rules.expiry, t.timezone)


def test_the_default_rule_names_this_years_and_last_years_lots_and_spends_the_older_first(make_tenant):
    # GIVEN points earned last year and this year, under the default rule (they last through the next year)
    t = shop(make_tenant, ExpiryRule())
    last_year, this_year = NOW - timedelta(days=365), NOW - timedelta(days=30)
    grant(t, "u1", 30, last_year)
    grant(t, "u1", 50, this_year)
    # WHEN the member redeems a 40-point reward
    status, ledger = buy(t, "u1")
    # THEN it reads no lot apart from the plan's other items, and spends last year's lot first
    assert (status, ledger.queries) == (201, 0)
    assert lots(t, "u1") == {expiry_of(t, last_year): ("available", 0), expiry_of(t, this_year): ("available", 40)}
    assert reconcile_member(t.tenant_id, "u1", ledger=PointsLedger()) == []


def test_never_names_its_one_lot(make_tenant):
    t = shop(make_tenant, ExpiryRule(policy="never"))
    grant(t, "u1", 100, NOW - timedelta(days=400))
    status, ledger = buy(t, "u1")
    assert (status, ledger.queries) == (201, 0)
    assert lots(t, "u1") == {LotId.expiring(expiry_of(t, NOW)).name: ("available", 60)}


def test_rolling_days_query_the_lots(make_tenant):
    # GIVEN a lot a day: the rule cannot name them all
    t = shop(make_tenant, ExpiryRule(policy="rolling_days", days=30))
    grant(t, "u1", 30, NOW - timedelta(days=2))
    grant(t, "u1", 30, NOW - timedelta(days=1))
    status, ledger = buy(t, "u1")
    assert (status, ledger.queries) == (201, 1)
    assert sorted(lots(t, "u1").values()) == [("available", 0), ("available", 20)]


def test_a_lot_made_under_an_earlier_rule_is_found_and_spent_first(make_tenant):
    # GIVEN a lot made under rolling days, expiring in 10 days, then the tenant moves to the default rule
    t = shop(make_tenant, ExpiryRule(policy="rolling_days", days=10))
    grant(t, "u1", 30, NOW - timedelta(days=1))
    TenantRepository().set_rules(t.tenant_id, Rules())
    t = TenantRepository().get(t.tenant_id)
    grant(t, "u1", 50, NOW - timedelta(hours=1))
    # WHEN the member redeems
    status, ledger = buy(t, "u1")
    # THEN the named lot does not hold all of its points, so its lots are queried, and the older lot goes first
    assert (status, ledger.queries) == (201, 1)
    assert sorted(lots(t, "u1").values()) == [("available", 0), ("available", 40)]
    assert reconcile_member(t.tenant_id, "u1", ledger=PointsLedger()) == []


def test_a_lot_past_its_expiry_not_yet_expired_by_the_job_is_left_alone(make_tenant):
    # GIVEN last month's lot (expired at the start of this month, the job not run yet) and this month's
    t = shop(make_tenant, ExpiryRule(policy="end_of_month"))
    last_month = NOW - timedelta(days=31)
    grant(t, "u1", 100, last_month)
    grant(t, "u1", 50, NOW - timedelta(days=2))
    # WHEN the member redeems 40 points
    status, ledger = buy(t, "u1")
    # THEN its balance still counts the old lot, so its lots are queried; only this month's is spent
    assert (status, ledger.queries) == (201, 1)
    assert lots(t, "u1") == {expiry_of(t, last_month): ("available", 100), expiry_of(t, NOW): ("available", 10)}
    # AND with only the old lot's points left to spend, the next one is refused
    status, _ = buy(t, "u1", "r2")
    assert status == 422
