"""Spending push slots on DynamoDB Local: atomic, idempotent, and exact under concurrency."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from qunyun.adapters.deliveries import DeliveryRepository, group_pk, quota_sk
from qunyun.adapters.deliveries_tables import CounterItem
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.groups import Group
from qunyun.domain.quota import Allowance, Push
from qunyun.domain.tenants import TenantPolicy
from qunyun.services import quota

DAY = date(2026, 11, 25)
MORNING, EVENING, FAREWELL = Push.brief("morning"), Push.brief("evening"), Push.farewell()


def shop(tenant, **policy):
    t = TenantRepository().get(tenant.tenant_id)
    return t.model_copy(update={"policy": TenantPolicy(**policy)})


def group(tenant_id: str, channel: str = "wecom_robot") -> Group:
    now = datetime.now(UTC)
    extra = {"owner": "zhangsan", "chat_id": "wrOgQhDgAA"} if channel == "wecom_customer_group" else {}
    return Group(tenant_id=tenant_id, group_id="g-" + uuid.uuid4().hex[:8], name="茶友群", kind="welfare",
                 channel=channel, created_at=now, updated_at=now, **extra)


def planned(g: Group, push: Push, day: date) -> Delivery:
    return Delivery.of(g.tenant_id, g.group_id, day, push, g.channel.value, Status.planned, datetime.now(UTC))


def spend(t, g: Group, push: Push, day: date, later=(), *, deliveries: DeliveryRepository):
    """The planner's spend, with the record it writes with the slot."""
    return quota.spend(t, g, push, day, later, deliveries=deliveries, record=planned(g, push, day))


def day_of(g: Group, day: date = DAY):
    return DeliveryRepository().day(g.tenant_id, g.group_id, day)


def together(n: int, work: Callable[[int], object]) -> list:
    """Runs `work(i)` in n threads released at the same instant; returns results in order."""
    start, results, errors = threading.Barrier(n), [None] * n, []

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work(i)
        except Exception as e:  # noqa: BLE001 - reported below, with the thread's own error
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def counter(g: Group, sk: str) -> CounterItem | None:
    try:
        return CounterItem.get(group_pk(g.tenant_id, g.group_id), sk, consistent_read=True)
    except CounterItem.DoesNotExist:
        return None


def test_twenty_threads_spending_for_one_push_spend_once(tenant):
    # GIVEN a customer group (daily cap and monthly quota)
    t = shop(tenant)
    g = group(t.tenant_id, "wecom_customer_group")
    # WHEN 20 threads spend for the same morning brief at once (a dispatcher run twice, SQS duplicates)
    decisions = together(20, lambda i: spend(t, g, MORNING, DAY, deliveries=DeliveryRepository()))
    # THEN every one is told the brief goes, exactly one of them spent, and both counters say 1
    assert all(d.take for d in decisions)
    assert sum(not d.already for d in decisions) == 1
    assert day_of(g).spent == 1 and day_of(g).pushes == {MORNING.push_id}
    assert counter(g, quota_sk("M2026-11")).spent == 1


def test_concurrent_different_pushes_take_exactly_the_cap(tenant):
    # GIVEN a robot group with the default cap of 2, and 8 reminders of different events racing
    t = shop(tenant)
    g = group(t.tenant_id)
    reminders = [Push.reminder(f"live-{i}", "1h") for i in range(8)]
    # WHEN all are spent at once
    decisions = together(8, lambda i: spend(t, g, reminders[i], DAY, deliveries=DeliveryRepository()))
    # THEN exactly 2 go, the others are skipped for the daily cap, and the counter agrees
    assert sum(d.take for d in decisions) == 2
    assert {d.reason for d in decisions if not d.take} == {"daily_cap"}
    day = day_of(g)
    assert day.spent == 2 and day.pushes == {d.push.push_id for d in decisions if d.take}


def test_an_exhausted_quota_skips_with_reason_quota_and_spends_nothing(tenant):
    # GIVEN a customer group that already received 30 mass sends this November
    t = shop(tenant)
    g = group(t.tenant_id, "wecom_customer_group")
    CounterItem(group_pk(g.tenant_id, g.group_id), quota_sk("M2026-11"), spent=30).save()
    repo = DeliveryRepository()
    # WHEN the morning brief is decided
    decision = spend(t, g, MORNING, DAY, deliveries=repo)
    # THEN it is skipped for the quota and the day's counter is untouched
    assert (decision.take, decision.reason) == (False, "quota")
    assert not day_of(g).begun
    # AND on December 1st the new month's quota lets it through
    assert spend(t, g, MORNING, date(2026, 12, 1), deliveries=repo).take


def test_one_a_day_quota_and_a_later_farewell(tenant):
    # GIVEN a tenant whose customer groups take 1 mass send a day, and one whose robot groups take 2 pushes
    daily = shop(tenant, quota_period="day")
    customer = group(daily.tenant_id, "wecom_customer_group")
    robot = group(daily.tenant_id)
    repo = DeliveryRepository()
    # WHEN the morning brief is decided while a farewell is planned for 18:00, then the farewell and the evening
    first = spend(daily, customer, MORNING, DAY, [FAREWELL, EVENING], deliveries=repo)
    farewell = spend(daily, customer, FAREWELL, DAY, [EVENING], deliveries=repo)
    # THEN the customer group's one send a day is kept for the farewell
    assert (first.take, first.reason, farewell.take) == (False, "quota", True)
    assert spend(daily, customer, EVENING, DAY, deliveries=repo).reason == "quota"
    # AND the robot group sends the morning brief and the farewell, and skips the evening brief for the cap
    assert spend(daily, robot, MORNING, DAY, [FAREWELL, EVENING], deliveries=repo).take
    assert spend(daily, robot, FAREWELL, DAY, [EVENING], deliveries=repo).take
    assert spend(daily, robot, EVENING, DAY, deliveries=repo).reason == "daily_cap"


def test_the_two_counters_move_together_or_not_at_all(tenant):
    # GIVEN a customer group whose quota condition will fail although the day's would pass
    t = shop(tenant)
    g = group(t.tenant_id, "wecom_customer_group")
    CounterItem(group_pk(g.tenant_id, g.group_id), quota_sk("M2026-11"), spent=30).save()
    # WHEN the repository is asked to spend with limits that the quota counter no longer meets
    spent = DeliveryRepository().spend(t.tenant_id, g.group_id, DAY, MORNING,
                                       Allowance(day=2, period=30, period_key="M2026-11"), planned(g, MORNING, DAY),
                                       begun=False)
    # THEN nothing is written: neither counter moved
    assert spent is False
    assert not day_of(g).begun and counter(g, quota_sk("M2026-11")).spent == 30


@pytest.mark.parametrize("channel", ["wecom_robot", "wecom_customer_group"])
def test_spending_again_after_the_day_is_full_is_still_a_no_op(tenant, channel):
    # GIVEN a cap of 1, spent by a farewell
    t = shop(tenant, daily_push_cap=1)
    g = group(t.tenant_id, channel)
    repo = DeliveryRepository()
    assert spend(t, g, FAREWELL, DAY, deliveries=repo).take
    # WHEN the farewell is spent again, and the morning brief decided
    again = spend(t, g, FAREWELL, DAY, deliveries=repo)
    # THEN the farewell keeps its slot without spending another; the brief finds the day full
    assert again.take and again.already
    assert spend(t, g, MORNING, DAY, deliveries=repo).reason == "daily_cap"
    assert day_of(g).spent == 1
