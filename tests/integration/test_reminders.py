"""Event reminders on DynamoDB Local, fired through time: SendReminders (`process`) every 5 minutes finds the
rungs due through the content table's due index and queues them, SendPushes delivers them, and independent
fakes of the WeCom robot and customer-group APIs count what arrives.

The due index spans every tenant of the test run, so each test handles only its own tenant's messages, and
its events live on dates other tests do not use."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fakes.wecom_customer_group import FakeWecomCustomerGroups
from fakes.wecom_robot import FakeWecomRobot
from qunyun.adapters.content import ContentRepository
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.delivery_claims import DeliveryClaims
from qunyun.adapters.events import EventRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tables import ContentDueIndex, EventItem, TenantItem
from qunyun.adapters.tenants import TenantRepository
from qunyun.channels.wecom_customer_group import WecomCustomerGroups
from qunyun.channels.wecom_robot import WecomRobot
from qunyun.domain.event_reminders import parse_events
from qunyun.domain.push_messages import parse_push
from qunyun.services.events import add_events, cancel_event, event_plan, move_event
from qunyun.services.groups import import_groups
from qunyun.services.push_job import claim_lease
from qunyun.services.push_send import send_message
from qunyun.services.send_deps import SendDeps
from send_reminders import default_deps, process

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
SH = timedelta(hours=8)  # Asia/Shanghai, the test tenants' timezone


def local(text: str) -> datetime:
    """A Shanghai wall-clock time, as an aware UTC instant."""
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def robot_row(group_id: str, kind: str = "welfare", tags: str = "", timezone: str = "") -> str:
    return (f"{group_id},群 {group_id},{kind},wecom_robot,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-"
            f"{group_id},,,,{timezone},,,{tags},,,")


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class ListQueue:
    """The push queue as SendReminders sees it (`send`); `crash_after_send` stops the run once, after the
    messages are queued and before the event's due keys move."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.crash_after_send = False

    def send(self, pushes) -> int:
        bodies = [push.body() for push in pushes]  # as they go on the queue
        self.bodies += bodies
        if self.crash_after_send:
            self.crash_after_send = False
            raise SystemExit("the execution environment stopped")
        return len(bodies)

    def take(self, tenant_id: str) -> list[dict]:
        mine = [b for b in self.bodies if b["tenant_id"] == tenant_id]
        self.bodies = []
        return mine


class World:
    """One tenant's groups, fakes and clock; `run_until` fires SendReminders every 5 minutes and hands what it
    queued to SendPushes at the same time."""

    def __init__(self, tenant_id: str, robot: FakeWecomRobot, now: datetime, wecom: FakeWecomCustomerGroups | None):
        self.tenant_id, self.robot, self.clock = tenant_id, robot, Clock(now)
        self.queue = ListQueue()
        self.arrivals: list[tuple[datetime, str]] = []  # (when, group or owner) per channel call that got through
        senders = {"wecom_robot": WecomRobot(robot.base_url, timeout=5.0)}
        customer = WecomCustomerGroups(wecom.base_url, timeout=5.0) if wecom else None
        self.deps = SendDeps(tenants=TenantRepository(), groups=GroupRepository(), content=ContentRepository(),
                             deliveries=DeliveryRepository(), ledger=PointsLedger(), secrets=secret_store(),
                             claims=DeliveryClaims(claim_lease(60)), channel=senders.__getitem__,
                             customer_groups=lambda: customer, clock=self.clock,
                             after_send=lambda who, result: self.arrivals.append((self.clock.now, who))
                             if result.ok else None)

    def fire(self, at: datetime) -> dict:
        self.clock.now = at
        summary = process({"scheduled_time": at.strftime("%Y-%m-%dT%H:%M:%SZ")},
                          deps=replace(default_deps(), queue=self.queue))
        self.deliver()
        return summary

    def deliver(self) -> None:
        for body in self.queue.take(self.tenant_id):
            send_message(parse_push(body), deps=self.deps)

    def run_until(self, end: datetime) -> None:
        at = self.clock.now - timedelta(minutes=self.clock.now.minute % 5, seconds=self.clock.now.second)
        while at < end:
            at += timedelta(minutes=5)
            self.fire(at)

    def tenant(self):
        return TenantRepository().get(self.tenant_id)

    def add(self, text: str) -> None:
        import yaml

        add_events(self.tenant(), parse_events(yaml.safe_load(text)), events=EventRepository(),
                   groups=GroupRepository(), deliveries=DeliveryRepository(), now=self.clock.now)

    def records(self, group_id: str) -> dict[str, tuple[str, str, str | None]]:
        """push id → (local date, status, reason) of the group's reminder records."""
        return {d.push_id: (d.date.isoformat(), d.status.value, d.reason)
                for d in DeliveryRepository().of_group(self.tenant_id, group_id) if d.kind == "reminder"}


def set_policy(tenant_id: str, **policy) -> None:
    item = TenantItem.get(tenant_id)
    item.policy = {**(item.policy.as_dict() if item.policy else {}), **policy}
    item.save()


def event_yaml(event_id: str, starts_at: str, groups: str = "{ids: [a]}") -> str:
    return f"""\
events:
  - id: {event_id}
    title: 周六直播：冬季护肤
    starts_at: {starts_at}
    link: https://example.com/live
    groups: {groups}
"""


@pytest.fixture
def robot():
    with FakeWecomRobot() as fake:
        for g in ("a", "b", "c", "london"):
            fake.add_robot(f"k-{g}")
        yield fake


def world(tenant, robot, now: datetime, rows: list[str], wecom=None) -> World:
    import_groups(tenant.tenant_id, "\n".join([HEADER, *rows]), tenants=TenantRepository(), groups=GroupRepository(),
                  secrets=secret_store())
    return World(tenant.tenant_id, robot, now, wecom)


def test_an_event_moved_after_the_evening_rung_gets_the_new_rungs_never_the_old_times(tenant, robot):
    # GIVEN an event tomorrow (12-11) at 10:00, added today at 12:00 for a robot group
    w = world(tenant, robot, local("2026-12-10T12:00"), [robot_row("a")])
    w.add(event_yaml("live-1211", "2026-12-11T10:00:00+08:00"))
    # WHEN SendReminders runs every 5 minutes until 21:00, when the event moves to 15:00 tomorrow
    w.run_until(local("2026-12-10T21:00"))
    assert w.arrivals == [(local("2026-12-10T20:00"), "a")]  # the evening rung, at 20:00
    move_event(w.tenant(), "live-1211", local("2026-12-11T15:00"), events=EventRepository(),
               groups=GroupRepository(), deliveries=DeliveryRepository(), now=w.clock.now)
    w.run_until(local("2026-12-11T16:00"))
    # THEN the group received the 12-hour rung at 08:00 (03:00 is in quiet hours) and the 1-hour rung at 14:00,
    # nothing at the old 09:00, and the evening rung once
    assert w.arrivals == [(local("2026-12-10T20:00"), "a"), (local("2026-12-11T08:00"), "a"),
                          (local("2026-12-11T14:00"), "a")]
    assert len(robot.received) == 3
    assert "明天见" in robot.received[0].content
    assert "还有 12 小时" in robot.received[1].content and "12月11日 15:00" in robot.received[1].content
    assert "还有 1 小时" in robot.received[2].content
    # AND the records say so, one per rung and local date
    assert w.records("a") == {"reminder.live-1211.eve": ("2026-12-10", "sent", None),
                              "reminder.live-1211.12h": ("2026-12-11", "sent", None),
                              "reminder.live-1211.1h": ("2026-12-11", "sent", None)}
    # AND the plan shows the ladder from the move: the evening rung passed (and delivered), the others due
    plan = event_plan(w.tenant(), "live-1211", events=EventRepository(), deliveries=DeliveryRepository())
    rungs = {r["rung"]: r for r in plan["groups"][0]["rungs"]}
    assert (rungs["eve"]["skip"], rungs["eve"]["delivery"]) == ("passed", "sent")
    assert (rungs["12h"]["local_time"], rungs["12h"]["moved_out_of_quiet_hours"]) == ("2026-12-11 08:00", True)
    assert (rungs["1h"]["local_time"], rungs["1h"]["delivery"]) == ("2026-12-11 14:00", "sent")
    # AND no rung is left: the event has no due keys any more
    item = EventItem.get(f"{w.tenant_id}#EVENTS", "live-1211")
    assert item.due_pk is None and item.due_sk is None


def test_an_event_added_30_minutes_before_its_start_sends_nothing_late(tenant, robot):
    # GIVEN an event at 10:00 added at 09:30: every rung (20:00 the evening before, 08:00, 09:00) has passed
    w = world(tenant, robot, local("2026-12-12T09:30"), [robot_row("a")])
    w.add(event_yaml("flash-talk", "2026-12-12T10:00:00+08:00"))
    # WHEN SendReminders runs through the start and beyond
    w.run_until(local("2026-12-12T11:00"))
    # THEN nothing arrived, and each rung is recorded skipped as passed on its local date
    assert robot.received == [] and w.arrivals == []
    assert w.records("a") == {"reminder.flash-talk.eve": ("2026-12-11", "skipped", "passed"),
                              "reminder.flash-talk.12h": ("2026-12-11", "skipped", "passed"),
                              "reminder.flash-talk.1h": ("2026-12-12", "skipped", "passed")}


def test_a_cancelled_event_sends_nothing_more_and_with_notify_one_notice_per_group(tenant, robot):
    # GIVEN two events for two groups (targeted by kind and by tag), both past their evening rung, and room in
    # the daily cap for one more push
    set_policy(tenant.tenant_id, daily_push_cap=3)
    w = world(tenant, robot, local("2026-12-14T12:00"),
              [robot_row("a", kind="learning"), robot_row("b", tags="vip"), robot_row("c")])
    w.add(event_yaml("quiet-cancel", "2026-12-15T10:00:00+08:00", "{kinds: [learning], tags: [vip]}"))
    w.add(event_yaml("loud-cancel", "2026-12-15T11:00:00+08:00", "{kinds: [learning], tags: [vip]}"))
    w.run_until(local("2026-12-14T20:30"))
    assert sorted(who for _, who in w.arrivals) == ["a", "a", "b", "b"]  # each event's evening rung
    # AND a 12-hour rung already queued for one group, before the cancel (a message on its way)
    w.queue.bodies = [{"tenant_id": w.tenant_id, "date": "2026-12-15", "group_ids": ["a"], "kind": "reminder",
                       "event_id": "quiet-cancel", "lead": "12h", "due": local("2026-12-15T08:00").isoformat()}]
    # WHEN one is cancelled quietly and the other with --notify
    cancel_event(w.tenant(), "quiet-cancel", False, events=EventRepository(), now=w.clock.now)
    cancel_event(w.tenant(), "loud-cancel", True, events=EventRepository(), now=w.clock.now)
    w.deliver()
    w.run_until(local("2026-12-15T12:00"))
    # THEN each group received exactly one cancellation notice (of the notified event) and no more reminders
    later = [(at, who) for at, who in w.arrivals if at > local("2026-12-14T20:30")]
    assert later == [(local("2026-12-14T20:35"), "a"), (local("2026-12-14T20:35"), "b")]
    assert [r.content for r in robot.received[4:]] == [robot.received[4].content] * 2
    assert "活动取消" in robot.received[4].content
    assert w.records("b")["reminder.loud-cancel.cancelled"] == ("2026-12-14", "sent", None)
    # AND the rung queued before the cancel was recorded skipped, saying why
    assert w.records("a")["reminder.quiet-cancel.12h"] == ("2026-12-15", "skipped", "event_cancelled")


def test_a_rung_that_does_not_fit_the_daily_cap_is_recorded_skipped(tenant, robot):
    # GIVEN a tenant allowing one push a day, and an event whose 12-hour and 1-hour rungs fall on one day
    set_policy(tenant.tenant_id, daily_push_cap=1)
    w = world(tenant, robot, local("2026-12-16T12:00"), [robot_row("a")])
    w.add(event_yaml("capped", "2026-12-17T15:00:00+08:00"))
    # WHEN SendReminders runs through the event
    w.run_until(local("2026-12-17T15:00"))
    # THEN the evening rung and the 12-hour rung arrived; the 1-hour rung is recorded skipped for the cap
    assert w.arrivals == [(local("2026-12-16T20:00"), "a"), (local("2026-12-17T08:00"), "a")]
    assert w.records("a")["reminder.capped.1h"] == ("2026-12-17", "skipped", "daily_cap")


def test_customer_groups_get_one_task_per_owner_and_rung_within_the_wecom_quota(tenant, robot):
    # GIVEN two customer groups of owner zhang, a tenant whose WeCom quota is one mass send a day
    set_policy(tenant.tenant_id, quota_period="day")
    with FakeWecomCustomerGroups() as wecom:
        wecom.add_corp("corp-1", "s3cret")
        wecom.add_owner("zhang", ["wr1", "wr2"])
        secret_store().put_many({f"{tenant.tenant_id}/wecom/corp_id": "corp-1",
                                 f"{tenant.tenant_id}/wecom/corp_secret": "s3cret"})
        rows = [f"cg{i},客户群 {i},traffic,wecom_customer_group,,,zhang,wr{i},,,,,,," for i in (1, 2)]
        w = world(tenant, robot, local("2026-12-18T12:00"), rows, wecom)
        w.add(event_yaml("owners", "2026-12-19T15:00:00+08:00", "{ids: [cg1, cg2]}"))
        # WHEN SendReminders runs through the event
        w.run_until(local("2026-12-19T15:00"))
        # THEN the owner got one task per rung that fitted: the evening one, and the 12-hour one the next day
        assert [sorted(t.chat_ids) for t in wecom.tasks.values()] == [["wr1", "wr2"], ["wr1", "wr2"]]
        assert w.arrivals == [(local("2026-12-18T20:00"), "zhang"), (local("2026-12-19T08:00"), "zhang")]
        # AND each group awaits the owner for those, and the 1-hour rung did not fit the day's quota
        for g in ("cg1", "cg2"):
            records = w.records(g)
            assert records["reminder.owners.eve"][1:] == ("awaiting_owner", None)
            assert records["reminder.owners.12h"][1:] == ("awaiting_owner", None)
            assert records["reminder.owners.1h"] == ("2026-12-19", "skipped", "quota")


def test_firing_twice_for_the_same_time_or_crashing_half_way_sends_each_rung_once(tenant, robot):
    # GIVEN an event for two groups
    w = world(tenant, robot, local("2026-12-20T12:00"), [robot_row("a"), robot_row("b")])
    w.add(event_yaml("twice", "2026-12-21T10:00:00+08:00", "{ids: [a, b]}"))
    # WHEN the evening run crashes after queueing its messages and before moving the event's due keys,
    # and is retried, and then fired once more for the same time
    at = local("2026-12-20T20:00")
    w.clock.now = at
    w.queue.crash_after_send = True
    with pytest.raises(SystemExit):
        process({"scheduled_time": at.strftime("%Y-%m-%dT%H:%M:%SZ")}, deps=replace(default_deps(), queue=w.queue))
    assert EventItem.get(f"{w.tenant_id}#EVENTS", "twice").due_sk.startswith(at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    w.fire(at)
    w.fire(at)
    # THEN each group received the evening rung once, although it was queued twice
    assert sorted(r.key for r in robot.received) == ["k-a", "k-b"]
    # AND the later rungs still come, once each
    w.run_until(local("2026-12-21T10:00"))
    assert sorted(r.key for r in robot.received) == ["k-a", "k-a", "k-a", "k-b", "k-b", "k-b"]


def test_each_group_is_planned_in_its_own_timezone_and_quiet_hours(tenant, robot):
    # GIVEN a Shanghai tenant, a group in London, and an event at 10:00 London time (18:00 in Shanghai)
    w = world(tenant, robot, local("2026-12-22T09:00"),
              [robot_row("a"), robot_row("london", timezone="Europe/London")])
    w.add(event_yaml("two-zones", "2026-12-23T10:00:00+00:00", "{ids: [a, london]}"))
    plan = event_plan(w.tenant(), "two-zones", events=EventRepository(), deliveries=DeliveryRepository())
    by_group = {g["group_id"]: {r["rung"]: r for r in g["rungs"]} for g in plan["groups"]}
    # THEN in London the 12-hour rung (22:00 the evening before) moves to 08:00, 2 hours before the start,
    # and the 1-hour rung is at 09:00; the evening rung is at 20:00 London time
    london = by_group["london"]
    assert (london["eve"]["local_time"], london["12h"]["local_time"], london["1h"]["local_time"]) == \
        ("2026-12-22 20:00", "2026-12-23 08:00", "2026-12-23 09:00")
    assert london["12h"]["moved_out_of_quiet_hours"] is True
    # AND in Shanghai the 12-hour rung (06:00) is in quiet hours and moves to 08:00; the evening rung 20:00
    shanghai = by_group["a"]
    assert (shanghai["eve"]["local_time"], shanghai["12h"]["local_time"], shanghai["1h"]["local_time"]) == \
        ("2026-12-22 20:00", "2026-12-23 08:00", "2026-12-23 17:00")
    # AND the rungs arrive at those instants
    w.run_until(local("2026-12-23T18:00"))
    got = sorted(w.arrivals)
    assert [(at, who) for at, who in got if who == "london"] == [
        (datetime(2026, 12, 22, 20, tzinfo=UTC), "london"), (datetime(2026, 12, 23, 8, tzinfo=UTC), "london"),
        (datetime(2026, 12, 23, 9, tzinfo=UTC), "london")]
    assert [at for at, who in got if who == "a"] == [local("2026-12-22T20:00"), local("2026-12-23T08:00"),
                                                     local("2026-12-23T17:00")]


def test_re_adding_an_event_plans_it_again_and_targets_groups_imported_since(tenant, robot):
    # GIVEN an event for the vip tag, added when only group a had it
    w = world(tenant, robot, local("2026-12-24T12:00"), [robot_row("a", tags="vip")])
    w.add(event_yaml("readd", "2026-12-25T15:00:00+08:00", "{tags: [vip]}"))
    plan = event_plan(w.tenant(), "readd", events=EventRepository(), deliveries=DeliveryRepository())
    assert [g["group_id"] for g in plan["groups"]] == ["a"]
    # WHEN group b joins the tag and the same file is added again
    import_groups(tenant.tenant_id, "\n".join([HEADER, robot_row("b", tags="vip")]), tenants=TenantRepository(),
                  groups=GroupRepository(), secrets=secret_store())
    w.add(event_yaml("readd", "2026-12-25T15:00:00+08:00", "{tags: [vip]}"))
    # THEN both groups are planned, and each gets the evening rung once
    plan = event_plan(w.tenant(), "readd", events=EventRepository(), deliveries=DeliveryRepository())
    assert sorted(g["group_id"] for g in plan["groups"]) == ["a", "b"]
    w.run_until(local("2026-12-24T20:30"))
    assert sorted(who for _, who in w.arrivals) == ["a", "b"]


def test_send_reminders_reads_the_due_index_and_never_scans(tenant, robot, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("SendReminders scanned a table")

    w = world(tenant, robot, local("2026-12-26T12:00"), [robot_row("a")])
    w.add(event_yaml("no-scan", "2026-12-27T10:00:00+08:00"))
    for model in (EventItem, TenantItem):
        monkeypatch.setattr(model, "scan", refuse)
    assert isinstance(EventItem.due, ContentDueIndex)
    summary = w.fire(local("2026-12-26T20:00"))
    assert summary["rungs"] >= 1 and len(robot.received) == 1


def test_a_rung_queued_for_the_old_time_sends_nothing_and_a_passed_rung_comes_back_when_moved_later(tenant, robot):
    # GIVEN an event at 10:00 added at 09:30 (every rung passed, recorded so), and the 1-hour rung of an earlier
    # plan still on the queue
    w = world(tenant, robot, local("2026-12-28T09:30"), [robot_row("a")])
    w.add(event_yaml("late", "2026-12-28T10:00:00+08:00"))
    assert w.records("a")["reminder.late.1h"] == ("2026-12-28", "skipped", "passed")
    stale = {"tenant_id": w.tenant_id, "date": "2026-12-28", "group_ids": ["a"], "kind": "reminder",
             "event_id": "late", "lead": "1h", "due": local("2026-12-28T09:00").isoformat()}
    # WHEN the event moves to 15:00 the same day, and the stale message is handled
    move_event(w.tenant(), "late", local("2026-12-28T15:00"), events=EventRepository(), groups=GroupRepository(),
               deliveries=DeliveryRepository(), now=w.clock.now)
    send_message(parse_push(stale), deps=w.deps)
    # THEN the stale message sent and recorded nothing; the 1-hour rung is due again at 14:00
    assert robot.received == [] and "reminder.late.1h" not in w.records("a")
    w.run_until(local("2026-12-28T15:00"))
    assert w.arrivals == [(local("2026-12-28T14:00"), "a")]
    assert w.records("a")["reminder.late.1h"] == ("2026-12-28", "sent", None)
    # AND the 12-hour rung (03:00, in quiet hours, moved to 08:00) had passed at the move: still skipped
    assert w.records("a")["reminder.late.12h"][1:] == ("skipped", "passed")
