"""Clock boundaries of the points ledger (DESIGN.md §5.3-6, reference/ledger.md 17-18, 21).

Program-days and expiry are computed in the tenant's timezone: 23:59:59 and 00:00:01 in Shanghai are two
days (and one day in UTC); points earned at 23:59:59 on 31 December and at 00:00:00 on 1 January expire a
year apart under end_of_next_year; end_of_month on the last day of a month ends at the next midnight. A lot
at or past its `expires_at` is not spendable before any job ran, and the next settle run expires it. The
reversals of all the parts of a refunded purchase add up exactly to what it earned.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from points_support import OnlyTenants
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.errors import QunyunError
from qunyun.domain.events import PointsEvent
from qunyun.domain.rules import ExpiryRule, PurchaseRule, Rules
from qunyun.services.adjust import adjust, reconcile_member
from qunyun.services.members import member_view
from qunyun.services.points import apply_event
from qunyun.services.tenants import create_tenant
from stream_support import settle  # the stream delivered first: the due pages list what was written

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shop(make_tenant, timezone: str | None = None, **rules):
    fx = make_tenant(timezone=timezone)
    if rules:
        TenantRepository().set_rules(fx.tenant_id, Rules(**rules))
    return TenantRepository().get(fx.tenant_id)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def send(t, kind: str, member: str, at: datetime, now: datetime | None = None, event_id: str | None = None,
         **fields) -> dict:
    event = PointsEvent(event_id=event_id or f"ev-{uuid.uuid4().hex[:10]}", type=kind, member_id=member,
                        occurred_at=at, **fields)
    return apply_event(t, event, ledger=PointsLedger(), now=now or at)


def run_settle(t, now: datetime) -> dict:
    return settle(now, ledger=PointsLedger(), tenants=OnlyTenants(t.tenant_id), job_name=f"clock-{t.tenant_id}")


def view(t, member: str, now: datetime) -> dict:
    return member_view(t.tenant_id, member, ledger=PointsLedger(), now=now)


def lots(t, member: str) -> dict[str, int]:
    return {lot.expires_at: lot.remaining for lot in PointsLedger().lots(t.tenant_id, member)
            if lot.state == "available" and lot.remaining > 0}


# ---- program-days ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("timezone", "first", "second", "grants", "streak"), [
    # 23:59:59 and 00:00:01 in Shanghai: two program-days, the second extends the streak (+1 point)
    ("Asia/Shanghai", "2026-03-01T15:59:59Z", "2026-03-01T16:00:01Z", (5, 6), (2, "2026-03-02")),
    # the same two instants for a UTC tenant are one day: the second is already checked in
    ("UTC", "2026-03-01T15:59:59Z", "2026-03-01T16:00:01Z", (5, 0), (1, "2026-03-01")),
    # and the other way round: UTC midnight is one Shanghai day, two UTC days
    ("Asia/Shanghai", "2026-03-01T23:59:59Z", "2026-03-02T00:00:01Z", (5, 0), (1, "2026-03-02")),
    ("UTC", "2026-03-01T23:59:59Z", "2026-03-02T00:00:01Z", (5, 6), (2, "2026-03-02")),
    # 23:59:59 on the 1st, then 00:00:00 on the 3rd (Shanghai): a day was missed, the streak starts again
    ("Asia/Shanghai", "2026-03-01T15:59:59Z", "2026-03-02T16:00:00Z", (5, 5), (1, "2026-03-03")),
])
def test_checkins_around_midnight_count_program_days(make_tenant, timezone, first, second, grants, streak):
    # GIVEN a tenant in `timezone`
    t = shop(make_tenant, timezone)
    # WHEN a member checks in at the two instants
    a = send(t, "checkin", "u1", utc(first.replace("Z", "+00:00")))
    b = send(t, "checkin", "u1", utc(second.replace("Z", "+00:00")))
    # THEN each program-day grants once, and the streak counts program-days
    assert (a["granted"], b["granted"]) == grants
    if grants[1] == 0:
        assert b["reason"] == "already_checked_in"
    later = utc(second.replace("Z", "+00:00")) + timedelta(seconds=1)
    assert view(t, "u1", later)["streak"] == {"days": streak[0], "last_checkin": streak[1]}


# ---- expiry instants -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("policy", "earned_at", "expires"), [
    # end_of_next_year: 31 December 23:59:59 and 1 January 00:00:00 (Shanghai) expire a year apart
    ("end_of_next_year", "2026-12-31T23:59:59+08:00", "2027-12-31T16:00:00+00:00"),
    ("end_of_next_year", "2027-01-01T00:00:00+08:00", "2028-12-31T16:00:00+00:00"),
    # end_of_month: earned on the last day, it ends at the next local midnight; on the first, a month later
    ("end_of_month", "2027-01-31T23:59:59+08:00", "2027-01-31T16:00:00+00:00"),
    ("end_of_month", "2027-02-01T00:00:00+08:00", "2027-02-28T16:00:00+00:00"),
    ("end_of_month", "2028-02-29T12:00:00+08:00", "2028-02-29T16:00:00+00:00"),  # leap day
    ("end_of_month", "2026-12-31T08:00:00+08:00", "2026-12-31T16:00:00+00:00"),  # into the next year
])
def test_expiry_is_computed_in_the_program_timezone(make_tenant, policy, earned_at, expires):
    # GIVEN a Shanghai tenant whose points expire by `policy`
    t = shop(make_tenant, expiry=ExpiryRule(policy=policy))
    at = datetime.fromisoformat(earned_at)
    # WHEN a check-in earns points at `earned_at`
    send(t, "checkin", "u1", at)
    # THEN the lot's expiry is the first local midnight after the period
    assert lots(t, "u1") == {expires: 5}
    end = datetime.fromisoformat(expires)
    # AND the points are spendable until one second before it, and expired from that instant
    assert view(t, "u1", end - timedelta(seconds=1))["balance"]["available"] == 5
    at_end = view(t, "u1", end)
    assert (at_end["balance"]["available"], at_end["balance"]["expired"], at_end["expiring"]) == (0, 5, [])


def test_purchase_points_settling_either_side_of_new_year_expire_a_year_apart(make_tenant):
    # GIVEN purchases whose return windows end at 23:59:59 on 31 December and 00:00:00 on 1 January (Shanghai)
    t = shop(make_tenant, purchase=PurchaseRule(points_per_yuan=1, return_window_days=7))
    end_2026 = datetime(2026, 12, 31, 23, 59, 59, tzinfo=SHANGHAI)
    send(t, "purchase", "u1", end_2026 - timedelta(days=7), order_id="o-dec", amount_fen=1000)
    send(t, "purchase", "u2", end_2026 + timedelta(seconds=1) - timedelta(days=7), order_id="o-jan", amount_fen=1000)
    # WHEN SettlePoints runs at 01:00 on 1 January
    summary = run_settle(t, datetime(2027, 1, 1, 1, 0, tzinfo=SHANGHAI).astimezone(UTC))
    # THEN both settle, and their expiry is counted from when the window ended, in the program timezone
    assert summary["settled"] == 2
    assert lots(t, "u1") == {"2027-12-31T16:00:00+00:00": 10}
    assert lots(t, "u2") == {"2028-12-31T16:00:00+00:00": 10}


def test_rolling_expiry_ends_at_local_midnight_across_a_dst_change(make_tenant):
    # GIVEN a Berlin tenant with rolling_days 1 (Europe switches to summer time on Sunday 29 March 2026)
    t = shop(make_tenant, "Europe/Berlin", expiry=ExpiryRule(policy="rolling_days", days=1))
    # WHEN points are earned at noon on Saturday 28 March
    send(t, "checkin", "u1", datetime(2026, 3, 28, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    # THEN they last through Sunday and end at Monday 00:00 CEST, which is 22:00 UTC
    assert lots(t, "u1") == {"2026-03-29T22:00:00+00:00": 5}


# ---- a lot past expiry, before and after the job -------------------------------------------------------
def test_a_lot_past_expiry_is_not_spendable_and_the_next_run_expires_it(make_tenant):
    # GIVEN two members who each earned 5 points on 2 March (Shanghai), rolling_days 1: gone at 4 March 00:00
    t = shop(make_tenant, expiry=ExpiryRule(policy="rolling_days", days=1))
    earned = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    for m in ("early", "late"):
        send(t, "checkin", m, earned)
    end = datetime(2026, 3, 4, 0, 0, tzinfo=SHANGHAI).astimezone(UTC)
    assert lots(t, "early") == {end.isoformat(): 5}
    # WHEN one second before the end a deduction of 3 takes from the lot
    early = adjust(t, "early", -3, "correction", ledger=PointsLedger(), now=end - timedelta(seconds=1))
    assert (early["balance"]["available"], early["balance"]["debt"]) == (2, 0)
    # AND at the end itself, before any run, the other member's lot shows as expired and is not taken
    shown = view(t, "late", end)["balance"]
    assert (shown["available"], shown["expired"]) == (0, 5)
    late = adjust(t, "late", -3, "correction", ledger=PointsLedger(), now=end)
    # THEN the deduction became debt, and the stored lot still waits for the job
    assert (late["balance"]["available"], late["balance"]["debt"], late["balance"]["written_off"]) == (5, 3, 3)
    # WHEN a settle run happens one second before the end, nothing expires; at the end, both lots do
    assert run_settle(t, end - timedelta(seconds=1))["lots_expired"] == 0
    summary = run_settle(t, end)
    assert (summary["lots_expired"], summary["points_expired"]) == (2, 7)
    after = view(t, "late", end)["balance"]
    assert (after["available"], after["expired"], after["debt"]) == (0, 5, 3)
    kinds = [e.kind for e in PointsLedger().all_entries(t.tenant_id, "late")]
    assert kinds.count("expire") == 1
    expire = next(e for e in PointsLedger().all_entries(t.tenant_id, "late") if e.kind == "expire")
    assert (int(expire.points), expire.deltas) == (-5, {"available": -5, "expired": 5})
    # AND later earnings repay the debt first
    again = send(t, "checkin", "late", end + timedelta(hours=10))
    assert (again["balance"]["debt"], again["balance"]["available"]) == (0, 2)
    for m in ("early", "late"):
        assert reconcile_member(t.tenant_id, m, ledger=PointsLedger()) == []


# ---- refunds in parts ------------------------------------------------------------------------------------
def test_a_purchase_refunded_in_three_parts_reverses_exactly_what_it_earned(make_tenant):
    # GIVEN a purchase of 100.01 yuan at 3 points per yuan: 300 points, pending for 7 days
    t = shop(make_tenant, purchase=PurchaseRule(points_per_yuan=3, return_window_days=7))
    placed = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    assert send(t, "purchase", "u1", placed, order_id="o-1", amount_fen=10001)["pending"] == 300
    # WHEN the first third is refunded inside the window (cumulative floor(300 × refunded / 10001))
    first = send(t, "purchase_refund", "u1", placed + timedelta(days=1), order_id="o-1", refund_id="r-1",
                 amount_fen=3333)
    assert (first["reversed"], first["pending"], first["granted"]) == (99, -99, 0)
    # AND the rest settles, the member spends 150 of it, and two more parts are refunded afterwards
    assert run_settle(t, placed + timedelta(days=7))["points_released"] == 201
    adjust(t, "u1", -150, "redeemed at the counter", ledger=PointsLedger(), now=placed + timedelta(days=7, hours=1))
    later = placed + timedelta(days=8)
    second = send(t, "purchase_refund", "u1", later, order_id="o-1", refund_id="r-2", amount_fen=3333)
    third = send(t, "purchase_refund", "u1", later, order_id="o-1", refund_id="r-3", amount_fen=3335)
    # THEN the three parts reverse 99 + 100 + 101 = 300, all that the purchase earned
    assert (second["reversed"], third["reversed"]) == (100, 101)
    balance = third["balance"]
    assert balance["cancelled"] == 300
    # AND what the member no longer had (51 available against 201) is debt: 150
    assert (balance["available"], balance["pending"], balance["debt"]) == (0, 0, 150)
    assert reconcile_member(t.tenant_id, "u1", ledger=PointsLedger()) == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=st.integers(1, 10**7), per_yuan=st.integers(1, 7), cuts=st.tuples(st.floats(0, 1), st.floats(0, 1)))
def test_any_three_part_refund_reverses_exactly_the_points_earned(ddb, amount, per_yuan, cuts):
    # GIVEN any purchase, refunded in three parts of any size (a part may be the whole order)
    tid = "r-" + uuid.uuid4().hex[:12]
    create_tenant(tid, "Refunds", None, tenants=TenantRepository(), secrets=secret_store())
    TenantRepository().set_rules(tid, Rules(purchase=PurchaseRule(points_per_yuan=per_yuan),
                                            daily_caps={}))
    t = TenantRepository().get(tid)
    at = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    points = send(t, "purchase", "u1", at, order_id="o", amount_fen=amount)["pending"]
    assert points == amount // 100 * per_yuan
    a, b = sorted(int(c * amount) for c in cuts)
    parts = [p for p in (a, b - a, amount - b) if p > 0]
    # WHEN each part is refunded
    reversed_ = [send(t, "purchase_refund", "u1", at, order_id="o", refund_id=f"r{i}", amount_fen=p)["reversed"]
                 for i, p in enumerate(parts)]
    # THEN the parts reverse exactly what the order earned, and a further refund is refused
    assert sum(reversed_) == points
    with pytest.raises(QunyunError) as err:
        send(t, "purchase_refund", "u1", at, order_id="o", refund_id="r-more", amount_fen=1)
    assert err.value.code == "refund_exceeds_order"
    member = PointsLedger().member(tid, "u1")
    assert (member.balance["pending"], member.balance["cancelled"], member.earned) == (0, points, points)


# ---- the 7-day window and retries ------------------------------------------------------------------------
def test_a_retry_of_an_applied_event_after_seven_days_still_answers_duplicate(make_tenant):
    # GIVEN a check-in that was applied when it happened
    t = shop(make_tenant)
    at = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    first = send(t, "checkin", "u1", at, event_id="c-1")
    assert first["status"] == "applied"
    # WHEN the client's retry of that very event arrives 7 days and 1 second later (an outbox replay)
    # THEN it is answered with the first result, marked duplicate: the event was applied, not refused
    again = send(t, "checkin", "u1", at, now=at + timedelta(days=7, seconds=1), event_id="c-1")
    assert again == {**first, "status": "duplicate"}


# ---- the scheduled time as given -------------------------------------------------------------------------
def test_a_run_at_an_instant_written_with_a_negative_utc_offset_settles_what_is_due(make_tenant):
    # GIVEN a purchase whose return window ended at 2026-03-09 04:00 UTC
    t = shop(make_tenant, purchase=PurchaseRule(points_per_yuan=1, return_window_days=2))
    placed = datetime(2026, 3, 7, 4, 0, tzinfo=UTC)
    send(t, "purchase", "u1", placed, order_id="o-1", amount_fen=1000)
    # WHEN SettlePoints runs one hour later, its scheduled time written as 00:00 at UTC-05:00 (05:00 UTC)
    now = datetime(2026, 3, 9, 0, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert now > placed + timedelta(days=2)
    summary = run_settle(t, now)
    # THEN the purchase settles: an instant is the same instant whatever offset it is written with
    assert summary["settled"] == 1, summary
    assert view(t, "u1", now)["balance"]["available"] == 10
