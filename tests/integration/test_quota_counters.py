"""Spending push slots on DynamoDB Local: atomic, idempotent, and exact under concurrency."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from qunyun.adapters.deliveries import DeliveryRepository, group_pk, quota_sk, quota_token
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


def mass_sends(g: Group, period: str) -> set[str]:
    """The tokens of the pushes that spent a mass send of the group's quota period."""
    try:
        item = CounterItem.get(group_pk(g.tenant_id, g.group_id), quota_sk(period), consistent_read=True)
    except CounterItem.DoesNotExist:
        return set()
    return set(item.pushes or ())


def use_up(g: Group, period: str, n: int) -> set[str]:
    """Records n mass sends of earlier days in the group's quota counter."""
    tokens = {quota_token(date(2026, 11, 1 + i % 24), f"reminder.old-{i}.1h") for i in range(n)}
    CounterItem(group_pk(g.tenant_id, g.group_id), quota_sk(period), pushes=tokens).save()
    return tokens


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
    assert mass_sends(g, "M2026-11") == {quota_token(DAY, MORNING.push_id)}


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
    use_up(g, "M2026-11", 30)
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


def test_mass_sends_read_with_the_day_are_not_read_again_and_a_stale_reading_cannot_overrun(tenant):
    from support import DynamoCalls, dynamodb_clients

    t = shop(tenant)
    repo = DeliveryRepository()
    clients = dynamodb_clients([])
    # GIVEN two customer groups read ahead with their days: one with 29 of November's 30 mass sends spent
    fresh, full = group(t.tenant_id, "wecom_customer_group"), group(t.tenant_id, "wecom_customer_group")
    use_up(fresh, "M2026-11", 29)
    read = repo.days(t.tenant_id, [(fresh.group_id, DAY), (full.group_id, DAY)],
                     {(fresh.group_id, DAY): "M2026-11", (full.group_id, DAY): "M2026-11"})
    assert read[(fresh.group_id, DAY)].periods == {"M2026-11": frozenset(mass_sends(fresh, "M2026-11"))}
    assert read[(full.group_id, DAY)].periods == {"M2026-11": frozenset()}
    # WHEN the first is planned from that reading
    with DynamoCalls(clients) as seen:
        decision = quota.spend(t, fresh, MORNING, DAY, deliveries=repo, record=planned(fresh, MORNING, DAY),
                               known=read[(fresh.group_id, DAY)])
    # THEN it takes November's last mass send without reading anything again
    assert decision.take and len(mass_sends(fresh, "M2026-11")) == 30
    assert not any(op.startswith(("GetItem", "BatchGetItem")) for op in seen.calls), dict(seen.calls)
    # AND WHEN the second's month fills up after it was read (another sender spent all 30 meanwhile)
    use_up(full, "M2026-11", 30)
    decision = quota.spend(t, full, MORNING, DAY, deliveries=repo, record=planned(full, MORNING, DAY),
                           known=read[(full.group_id, DAY)])
    # THEN the write made from the old reading is refused, the group read again and skipped for the quota
    assert (decision.take, decision.reason) == (False, "quota")
    assert len(mass_sends(full, "M2026-11")) == 30 and not day_of(full).begun


def test_a_refused_quota_writes_nothing(tenant):
    # GIVEN a customer group whose quota condition will fail although the day's would pass
    t = shop(tenant)
    g = group(t.tenant_id, "wecom_customer_group")
    used = use_up(g, "M2026-11", 30)
    # WHEN the repository is asked to spend with limits that the quota counter no longer meets
    spent = DeliveryRepository().spend(t.tenant_id, g.group_id, DAY, MORNING,
                                       Allowance(day=2, period=30, period_key="M2026-11"), planned(g, MORNING, DAY),
                                       begun=False)
    # THEN nothing is written: neither the day nor the counter
    assert spent is False
    assert not day_of(g).begun and mass_sends(g, "M2026-11") == used


def test_pushes_racing_for_a_customer_groups_day_keep_only_the_mass_sends_that_went(tenant):
    # GIVEN a customer group with the default cap of 2 and 8 reminders of different events racing for it
    t = shop(tenant)
    g = group(t.tenant_id, "wecom_customer_group")
    reminders = [Push.reminder(f"live-{i}", "1h") for i in range(8)]
    # WHEN all are spent at once: each may take a mass send, then lose the day's last slot
    decisions = together(8, lambda i: spend(t, g, reminders[i], DAY, deliveries=DeliveryRepository()))
    # THEN 2 go, and the counter holds exactly their two mass sends: the losers gave theirs back
    went = {d.push.push_id for d in decisions if d.take}
    assert len(went) == 2 and {d.reason for d in decisions if not d.take} == {"daily_cap"}
    assert mass_sends(g, "M2026-11") == {quota_token(DAY, p) for p in went}


def stop_after_the_mass_send(t, g: Group, push: Push, repo: DeliveryRepository, monkeypatch) -> None:
    """Spends for `push` in a process that stops right after taking the mass send, before the day's write."""
    from qunyun.adapters import deliveries_tables

    def stop(*args, **kwargs):
        raise SystemExit("stopped")

    with monkeypatch.context() as m:
        m.setattr(deliveries_tables.DayItem, "save", stop)
        with pytest.raises(SystemExit):
            spend(t, g, push, DAY, deliveries=repo)


def test_a_sender_stopped_between_the_mass_send_and_the_day_spends_once_on_its_retry(tenant, monkeypatch):
    # GIVEN a customer group, and a first attempt whose process stops right after taking the mass send
    t = shop(tenant)
    g = group(t.tenant_id, "wecom_customer_group")
    repo = DeliveryRepository()
    stop_after_the_mass_send(t, g, MORNING, repo, monkeypatch)
    assert mass_sends(g, "M2026-11") == {quota_token(DAY, MORNING.push_id)} and not day_of(g).begun
    # WHEN the push is tried again
    decision = spend(t, g, MORNING, DAY, deliveries=repo)
    # THEN it goes, with the mass send it already held: one mass send and one slot spent
    assert decision.take and not decision.already
    assert mass_sends(g, "M2026-11") == {quota_token(DAY, MORNING.push_id)}
    assert day_of(g).spent == 1 and day_of(g).pushes == {MORNING.push_id}


def test_a_stopped_senders_mass_send_is_given_back_when_the_day_fills_meanwhile(tenant, monkeypatch):
    # GIVEN a cap of 1 and a morning brief whose sender stopped after taking the mass send
    t = shop(tenant, daily_push_cap=1)
    g = group(t.tenant_id, "wecom_customer_group")
    repo = DeliveryRepository()
    stop_after_the_mass_send(t, g, MORNING, repo, monkeypatch)
    # AND a farewell that took the day's only slot meanwhile
    assert spend(t, g, FAREWELL, DAY, deliveries=repo).take
    # WHEN the morning brief is tried again
    decision = spend(t, g, MORNING, DAY, deliveries=repo)
    # THEN it is skipped for the cap and its mass send is returned: only the farewell's counts
    assert (decision.take, decision.reason) == (False, "daily_cap")
    assert mass_sends(g, "M2026-11") == {quota_token(DAY, FAREWELL.push_id)}


def test_a_months_mass_sends_stay_within_one_write_unit(tenant):
    # GIVEN a customer group that received a reminder with a long id on each of 31 days of a month
    t = shop(tenant)
    g = group(t.tenant_id, "wecom_customer_group")
    repo = DeliveryRepository()
    for d in range(1, 31):
        assert spend(t, g, Push.reminder("spring-festival-live-" + "x" * 150, "1h"), date(2026, 12, d),
                     deliveries=repo).take
    # WHEN the 31st is spent
    item = CounterItem(group_pk(g.tenant_id, g.group_id), quota_sk("M2026-12"))
    response = item._get_connection().update_item(
        item.pk, item.sk, actions=[CounterItem.pushes.add({quota_token(date(2026, 12, 31), "brief.morning")})],
        return_consumed_capacity="TOTAL")
    # THEN the counter holds 31 and its write costs one unit
    assert len(mass_sends(g, "M2026-12")) == 31
    assert response["ConsumedCapacity"]["CapacityUnits"] == 1.0


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


# ---- pushes planned together (a WeCom owner's groups: nothing is sent before all are planned) ---------------
def read_ahead(t, *groups: Group, day: date = DAY):
    """The groups' days as SendPushes reads them ahead: with their quota period's mass sends."""
    wanted = [(g.group_id, day) for g in groups]
    periods = {(g.group_id, day): f"M{day:%Y-%m}" for g in groups if g.channel.value == "wecom_customer_group"}
    read = DeliveryRepository().days(t.tenant_id, wanted, periods)
    return [(g, read[(g.group_id, day)], ()) for g in groups]


def plan_all(t, wanted, claim: str = "c-1"):
    from qunyun.services.deliveries import plan_together

    return plan_together(t, MORNING, DAY, wanted, deliveries=DeliveryRepository(), now=datetime.now(UTC),
                         claim=claim)


def claim_of(g: Group) -> str | None:
    data = day_of(g).records.get(MORNING.push_id)
    return data and data.get("cl")


def test_groups_planned_together_take_their_mass_sends_and_days_in_a_request_each(tenant):
    from support import DynamoCalls, dynamodb_clients

    t = shop(tenant)
    # GIVEN 30 customer groups read ahead: 3 with 29 of November's 30 mass sends taken, one with all 30, one
    # whose day has a reminder recorded already, and a robot group
    groups = [group(t.tenant_id, "wecom_customer_group") for _ in range(30)]
    for g in groups[:3]:
        use_up(g, "M2026-11", 29)
    use_up(groups[3], "M2026-11", 30)
    spend(t, groups[4], Push.reminder("live", "1h"), DAY, deliveries=DeliveryRepository())
    robot = group(t.tenant_id)
    wanted = read_ahead(t, *groups, robot)
    # WHEN they are planned together
    with DynamoCalls(dynamodb_clients()) as seen:
        planned = plan_all(t, wanted)
    # THEN the 29 whose push simply goes on a new day are planned and claimed: 25 + 3 mass sends, then 25 + 4
    # days; the full group and the begun day are left to be planned alone, nothing written for them
    going = [g for g in (*groups, robot) if g not in (groups[3], groups[4])]
    assert set(planned) == {g.group_id for g in going} and all(planned.values())
    assert all(planned[g.group_id].attempts == 1 and claim_of(g) == "c-1" for g in going)
    assert all(len(mass_sends(g, "M2026-11")) == 30 for g in groups[:3])
    assert all(len(mass_sends(g, "M2026-11")) == 1 for g in groups[5:])
    assert len(mass_sends(groups[3], "M2026-11")) == 30 and not day_of(groups[3]).begun
    assert day_of(groups[4]).records.keys() == {"reminder.live.1h"}
    assert seen.calls == {"BatchExecuteStatement:deliveries": 4}, dict(seen.calls)


def test_a_period_or_day_changed_since_the_read_is_left_to_be_planned_alone_and_overruns_nothing(tenant):
    from qunyun.services.deliveries import plan_push

    t = shop(tenant)
    repo = DeliveryRepository()
    # GIVEN seven customer groups read ahead, e and f with 5 of November's mass sends taken, g with 29, the
    # others none; then, before they are planned, other senders: fill a's month and g's, create b's counter
    # with a mass send, plan c's morning brief, record a reminder on d's day and on e's, and two on f's (full)
    a, b, c, d, e, f, g30 = (group(t.tenant_id, "wecom_customer_group") for _ in range(7))
    use_up(e, "M2026-11", 5)
    use_up(f, "M2026-11", 5)
    use_up(g30, "M2026-11", 29)
    wanted = read_ahead(t, a, b, c, d, e, f, g30)
    use_up(a, "M2026-11", 30)
    use_up(g30, "M2026-11", 30)
    use_up(b, "M2026-11", 1)
    spend(t, c, MORNING, DAY, deliveries=repo)
    for g, lead in ((d, "1h"), (e, "1h"), (f, "1h"), (f, "10m")):
        spend(t, g, Push.reminder("live", lead), DAY, deliveries=repo)
    # WHEN they are planned together
    planned = plan_all(t, wanted)
    # THEN each is left to be planned alone (None), and nothing overran: a's month still has 30, the counters
    # created meanwhile refused a first mass send, and no day took the morning brief
    assert planned == {g.group_id: None for g in (a, b, c, d, e, f, g30)}
    assert [len(mass_sends(g, "M2026-11")) for g in (a, b, c, d, g30)] == [30, 1, 1, 1, 30]
    assert claim_of(c) is None and all(MORNING.push_id not in day_of(g).records for g in (d, e, f))
    # ... e and f, whose counters existed, took their mass sends before their days were refused
    assert [len(mass_sends(g, "M2026-11")) for g in (e, f)] == [5 + 1 + 1, 5 + 2 + 1]
    # AND planned alone (reading again), a and g are skipped for the quota, b, d and e are planned (e with the mass
    # send it holds), c's record from the other sender stands, and f, its day full, gives its mass send back
    for g in (a, b, c, d, e, f, g30):
        plan_push(t, g, MORNING, DAY, deliveries=repo, now=datetime.now(UTC), claim="c-2")
    assert day_of(a).records[MORNING.push_id]["r"] == day_of(g30).records[MORNING.push_id]["r"] == "quota"
    assert claim_of(c) is None
    assert [claim_of(g) for g in (b, d, e)] == ["c-2"] * 3
    assert day_of(f).records[MORNING.push_id]["r"] == "daily_cap"
    assert [len(mass_sends(g, "M2026-11")) for g in (a, b, c, d, e, f, g30)] == [30, 2, 1, 2, 5 + 1 + 1, 5 + 2, 30]


def test_a_failed_request_leaves_every_push_to_be_planned_alone(tenant, monkeypatch):
    from botocore.exceptions import EndpointConnectionError
    from qunyun.adapters.deliveries_tables import DayItem

    t = shop(tenant)
    g = group(t.tenant_id, "wecom_customer_group")
    wanted = read_ahead(t, g)
    client = DayItem._get_connection().connection.client

    def down(**_):
        raise EndpointConnectionError(endpoint_url="http://dynamodb")

    # GIVEN DynamoDB cannot be reached for BatchExecuteStatement
    monkeypatch.setattr(client, "batch_execute_statement", down)
    # WHEN the group is planned together, THEN it is left to be planned alone, and nothing was written
    assert plan_all(t, wanted) == {g.group_id: None}
    assert mass_sends(g, "M2026-11") == set() and not day_of(g).begun


def test_two_senders_planning_the_same_groups_together_at_once_claim_each_once(tenant):
    t = shop(tenant)
    # GIVEN 40 customer groups with 29 of November's mass sends taken, and a duplicate of their owner's message
    groups = [group(t.tenant_id, "wecom_customer_group") for _ in range(40)]
    for g in groups:
        use_up(g, "M2026-11", 29)
    # WHEN two senders read them and plan them together at the same instant
    results = together(2, lambda i: plan_all(t, read_ahead(t, *groups), claim=f"sender-{i}"))
    # THEN each group is planned by exactly one of them (the other is told to plan it alone, and finds it
    # planned), its claim is that sender's, and its month holds exactly 30 mass sends
    for g in groups:
        won = [r[g.group_id] for r in results if r.get(g.group_id) is not None]
        assert len(won) == 1 and claim_of(g) in ("sender-0", "sender-1")
        assert len(mass_sends(g, "M2026-11")) == 30


def test_a_day_and_a_month_planned_together_are_the_items_the_single_writes_leave(tenant):
    from qunyun.adapters.deliveries import day_key
    from qunyun.adapters.deliveries_tables import DayItem
    from qunyun.services.deliveries import plan_push, plan_together

    t = shop(tenant)
    now = datetime(2026, 11, 25, 0, 0, 5, tzinfo=UTC)
    # GIVEN two customer groups with nothing spent, one planned together and one alone, with the same claim
    together_, alone = group(t.tenant_id, "wecom_customer_group"), group(t.tenant_id, "wecom_customer_group")
    planned = plan_together(t, MORNING, DAY, read_ahead(t, together_), deliveries=DeliveryRepository(), now=now,
                            claim="c-1")
    record, claimed = plan_push(t, alone, MORNING, DAY, deliveries=DeliveryRepository(), now=now, claim="c-1")
    # THEN both records say the same, and both stored items are the same but for their keys: the day (its
    # slot, the push's id, the record with its claim) and the month's mass send
    assert claimed and planned[together_.group_id] == record.model_copy(update={"group_id": together_.group_id})

    def stored(g: Group) -> tuple[dict, dict]:
        day = DayItem.get(*day_key(g.tenant_id, DAY, g.group_id), consistent_read=True).serialize()
        month = CounterItem.get(group_pk(g.tenant_id, g.group_id), quota_sk("M2026-11"), consistent_read=True)
        return {k: v for k, v in day.items() if k not in ("pk", "sk")}, {"pushes": month.serialize()["pushes"]}

    assert stored(together_) == stored(alone)


def test_a_check_in_reply_spends_no_slot(tenant):
    # GIVEN a group whose two pushes of the day are spent
    t, g, repo = shop(tenant), group(tenant.tenant_id), DeliveryRepository()
    assert spend(t, g, MORNING, DAY, deliveries=repo).take and spend(t, g, EVENING, DAY, deliveries=repo).take
    # WHEN two windows' check-in replies are planned, one of them twice
    reply = Push.checkin_reply("1764806400")
    assert spend(t, g, reply, DAY, deliveries=repo).take
    assert spend(t, g, reply, DAY, deliveries=repo).already
    assert spend(t, g, Push.checkin_reply("1764806460"), DAY, deliveries=repo).take
    # THEN they are recorded on the day and the day's count is still the two pushes
    assert day_of(g).spent == 2
    # AND on a new day a reply first does not take the brief's slot either
    other = group(tenant.tenant_id)
    assert spend(t, other, reply, DAY, deliveries=repo).take
    assert spend(t, other, MORNING, DAY, deliveries=repo).take and spend(t, other, EVENING, DAY, deliveries=repo).take
    assert day_of(other).spent == 2
