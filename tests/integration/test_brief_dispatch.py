"""BriefDispatch on DynamoDB Local: the groups due at a scheduled time come from the slot indexes, missed slots
are caught up within the grace period or recorded `missed`, groups without a brief are recorded `no_brief`,
customer groups travel one message per owner (at most 2,000 groups), and a second run for the same time sends
the same messages again, which SendPushes turns into nothing (tests/integration/test_brief_send.py).

The slot indexes span every tenant of the test run, so each test reads only its own tenant's messages, and uses
slot times other tests do not (their groups keep the defaults, 08:00 and 20:30)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from qunyun.adapters import tables
from qunyun.adapters.content import ContentRepository
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.deliveries_tables import DayItem
from qunyun.adapters.dispatch_checkpoint import DispatchCheckpoint
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.channels.wecom_customer_group import MAX_CHATS
from qunyun.domain.briefs import parse_brief
from qunyun.domain.quota import Push
from qunyun.services.brief_dispatch import dispatch
from qunyun.services.groups import import_groups

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
DAY = date(2026, 11, 26)
# 06:15 in Asia/Shanghai (+08:00) on DAY
AT_0615 = datetime(2026, 11, 25, 22, 15, tzinfo=UTC)


class ListQueue:
    """The push queue as the dispatcher sees it (`send`), keeping the bodies in memory."""

    def __init__(self):
        self.bodies: list[dict] = []

    def send(self, pushes) -> int:
        bodies = [push.body() for push in pushes]  # as they go on the queue
        self.bodies += bodies
        return len(bodies)

    def of(self, tenant_id: str) -> list[dict]:
        return [b for b in self.bodies if b["tenant_id"] == tenant_id]


class GraceTenants(TenantRepository):
    """Tenants as stored, with another grace period."""

    def __init__(self, minutes: int):
        self.minutes = minutes

    def get(self, tenant_id):
        tenant = super().get(tenant_id)
        if tenant is None:
            return None
        return tenant.model_copy(update={"policy": tenant.policy.model_copy(update={"brief_grace_minutes":
                                                                                    self.minutes})})


def row(group_id: str, channel: str = "outbox", *, morning: str = "06:15", evening: str = "-", timezone: str = "",
        owner: str = "", chat_id: str = "") -> str:
    return f"{group_id},群 {group_id},welfare,{channel},,,{owner},{chat_id},{timezone},{morning},{evening},,,,"


def add(tenant_id: str, rows: list[str]) -> None:
    import_groups(tenant_id, "\n".join([HEADER, *rows]), tenants=TenantRepository(), groups=GroupRepository(),
                  secrets=secret_store())


def write_brief(tenant_id: str, day: date = DAY, edition: str = "morning") -> None:
    brief = parse_brief({"date": str(day), "edition": edition, "title": "早安",
                         "sections": [{"kind": "tip", "text": "泡绿茶水温 80°C 最佳"}]})
    ContentRepository().put_brief(tenant_id, brief, datetime.now(UTC))


@pytest.fixture
def no_scan(monkeypatch):
    """Any Scan of a table fails the test: the dispatcher reads through keys and indexes only."""

    def refuse(*args, **kwargs):
        raise AssertionError("BriefDispatch scanned a table")

    for model in (tables.GroupItem, tables.TenantItem, DayItem):
        monkeypatch.setattr(model, "scan", refuse)


def run(at: datetime, queue: ListQueue, checkpoint: DispatchCheckpoint, tenants: TenantRepository | None = None):
    return dispatch(at, groups=GroupRepository(), tenants=tenants or TenantRepository(), content=ContentRepository(),
                    deliveries=DeliveryRepository(), queue=queue, checkpoint=checkpoint)


def fresh_checkpoint() -> DispatchCheckpoint:
    return DispatchCheckpoint(f"~brief-dispatch-{uuid.uuid4().hex[:8]}")


def test_due_groups_get_one_message_each_found_through_the_index(tenant, no_scan):
    # GIVEN groups of a Shanghai tenant: two due at 06:15 (one written 06:17, in the 06:15 slot), one at 06:20,
    # one with its morning disabled, one in Asia/Kolkata at 06:15 its time (00:45 UTC), and the morning brief
    add(tenant.tenant_id, [row("a"), row("b", morning="06:17"), row("later", morning="06:20"),
                           row("off", morning="-", evening="21:10"), row("india", timezone="Asia/Kolkata")])
    write_brief(tenant.tenant_id)
    queue = ListQueue()
    # WHEN the dispatcher runs as scheduled at 06:15 Shanghai time
    summary = run(AT_0615, queue, fresh_checkpoint())
    # THEN exactly the two groups due get a message each, for their local date and edition
    mine = queue.of(tenant.tenant_id)
    assert sorted(b["group_ids"][0] for b in mine) == ["a", "b"]
    assert all(len(b["group_ids"]) == 1 and b["edition"] == "morning" and b["date"] == str(DAY) for b in mine)
    assert summary["slots"] == 1 and summary["messages"] >= 2
    # AND the Kolkata group is due at its own 06:15, 00:45 UTC
    queue = ListQueue()
    run(datetime(2026, 11, 26, 0, 45, tzinfo=UTC), queue, fresh_checkpoint())
    assert [b["group_ids"] for b in queue.of(tenant.tenant_id)] == [["india"]]


def test_running_twice_for_the_same_time_sends_the_same_messages(tenant, no_scan):
    # GIVEN a due group and its brief
    add(tenant.tenant_id, [row("a", morning="06:25")])
    write_brief(tenant.tenant_id)
    checkpoint, at = fresh_checkpoint(), AT_0615 + timedelta(minutes=10)
    # WHEN the scheduler delivers the same run twice (a retry)
    first, second = ListQueue(), ListQueue()
    run(at, first, checkpoint)
    run(at, second, checkpoint)
    # THEN both runs queue the same one message: SendPushes plans the push once, so the second sends nothing
    assert first.of(tenant.tenant_id) == second.of(tenant.tenant_id)
    assert len(first.of(tenant.tenant_id)) == 1
    assert checkpoint.get() == at


def test_a_missed_slot_is_caught_up_within_the_grace_period_and_recorded_missed_after_it(tenant, no_scan):
    # GIVEN groups at 06:35 and 07:50 Shanghai time and a dispatcher that last finished at 06:30
    add(tenant.tenant_id, [row("early", morning="06:35"), row("late", morning="07:50")])
    write_brief(tenant.tenant_id)
    checkpoint = fresh_checkpoint()
    checkpoint.advance(datetime(2026, 11, 25, 22, 30, tzinfo=UTC))
    queue = ListQueue()
    # WHEN it runs again at 08:40, after an outage
    summary = run(datetime(2026, 11, 26, 0, 40, tzinfo=UTC), queue, checkpoint)
    # THEN it looked at every slot in between; 07:50 is 50 minutes late, within the default hour, and is sent
    assert summary["slots"] == 26
    assert [b["group_ids"] for b in queue.of(tenant.tenant_id)] == [["late"]]
    # AND 06:35, two hours and five minutes late, is recorded skipped as missed and gets no message
    deliveries = DeliveryRepository()
    missed = deliveries.get(tenant.tenant_id, "early", DAY, Push.brief("morning").push_id)
    assert (missed.status, missed.reason) == ("skipped", "missed")
    assert deliveries.get(tenant.tenant_id, "late", DAY, Push.brief("morning").push_id) is None


def test_the_grace_period_is_the_tenants(tenant, no_scan):
    # GIVEN a tenant whose grace period is 150 minutes, and a slot two hours and five minutes late
    add(tenant.tenant_id, [row("early", morning="06:45")])
    write_brief(tenant.tenant_id)
    checkpoint = fresh_checkpoint()
    checkpoint.advance(datetime(2026, 11, 25, 22, 40, tzinfo=UTC))
    queue = ListQueue()
    # WHEN the dispatcher catches up
    run(datetime(2026, 11, 26, 0, 50, tzinfo=UTC), queue, checkpoint, GraceTenants(150))
    # THEN the group still gets its brief
    assert [b["group_ids"] for b in queue.of(tenant.tenant_id)] == [["early"]]


def test_groups_without_a_brief_are_recorded_no_brief(tenant, no_scan):
    # GIVEN a group with its evening at 21:10 and no evening brief written for the day
    add(tenant.tenant_id, [row("a", morning="-", evening="21:10")])
    queue = ListQueue()
    # WHEN the dispatcher runs at 21:10 Shanghai time
    summary = run(datetime(2026, 11, 26, 13, 10, tzinfo=UTC), queue, fresh_checkpoint())
    # THEN nothing is queued and the push is recorded skipped, saying why
    assert queue.of(tenant.tenant_id) == [] and summary["no_brief"] >= 1
    record = DeliveryRepository().get(tenant.tenant_id, "a", DAY, Push.brief("evening").push_id)
    assert (record.status, record.reason, record.channel) == ("skipped", "no_brief", "outbox")


def test_customer_groups_travel_one_message_per_owner_of_at_most_2000_groups(tenant, no_scan):
    # GIVEN 2,001 customer groups of one owner, two of another, and a robot group, all due at 06:55
    rows = [row(f"z{i:04d}", "wecom_customer_group", morning="06:55", owner="zhang", chat_id=f"wr{i:04d}")
            for i in range(MAX_CHATS + 1)]
    rows += [row(f"l{i}", "wecom_customer_group", morning="06:55", owner="li", chat_id=f"wl{i}") for i in range(2)]
    add(tenant.tenant_id, rows + [row("robot", morning="06:55")])
    write_brief(tenant.tenant_id)
    queue = ListQueue()
    # WHEN the dispatcher runs at 06:55
    run(datetime(2026, 11, 25, 22, 55, tzinfo=UTC), queue, fresh_checkpoint())
    # THEN each owner's groups come in messages of at most 2,000 (one mass-send task each), the robot alone
    by_owner: dict = {}
    for body in queue.of(tenant.tenant_id):
        by_owner.setdefault(body.get("owner"), []).append(len(body["group_ids"]))
    assert sorted(by_owner["zhang"]) == [1, MAX_CHATS] and by_owner["li"] == [2] and by_owner[None] == [1]
    zhang = {g for b in queue.of(tenant.tenant_id) if b.get("owner") == "zhang" for g in b["group_ids"]}
    assert len(zhang) == MAX_CHATS + 1


def test_the_handler_takes_now_from_the_scheduled_time(tenant, context):
    from brief_dispatch import default_deps, process

    # GIVEN a group due at 07:20 Shanghai time on the 27th and its brief
    add(tenant.tenant_id, [row("a", morning="07:20")])
    write_brief(tenant.tenant_id, date(2026, 11, 27))
    queue = ListQueue()
    # WHEN the scheduler's event for 23:20 UTC the day before arrives (its Input, filled in)
    summary = process({"scheduled_time": "2026-11-26T23:20:00Z"}, context,
                      deps=replace(default_deps(), queue=queue, checkpoint=fresh_checkpoint()))
    # THEN the group's message is for its local date, whatever the wall clock says
    assert queue.of(tenant.tenant_id) == [{"tenant_id": tenant.tenant_id, "edition": "morning", "date": "2026-11-27",
                                           "slot": "2026-11-26T23:20:00+00:00", "group_ids": ["a"]}]
    assert summary["slots"] == 1
