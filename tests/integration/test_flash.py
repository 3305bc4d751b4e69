"""Flash groups on DynamoDB Local: ExpireFlashGroups ends each group with exactly one farewell however often it
runs or wherever it stops, through every kind of channel; the group then takes no brief, dissolves once the
farewell's record is final, keeps its figures, and refuses points events after the tenant's grace."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import points_api
import pytest
from fakes.bridge import FakeBridge
from fakes.feishu import FakeFeishuBot
from fakes.telegram import FakeTelegramBot
from fakes.wecom_customer_group import FakeWecomCustomerGroups
from fakes.wecom_robot import FakeWecomRobot
from qunyun.adapters.content import ContentRepository
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.delivery_claims import DeliveryClaims
from qunyun.adapters.flash import FlashRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tables import GroupItem
from qunyun.adapters.tenants import TenantRepository
from qunyun.channels.feishu_bot import FeishuBot
from qunyun.channels.outbox import MemoryOutbox, Outbox
from qunyun.channels.signed_webhook import SignedWebhook
from qunyun.channels.telegram_bot import TelegramBot
from qunyun.channels.wecom_customer_group import WecomCustomerGroups
from qunyun.channels.wecom_robot import WecomRobot
from qunyun.domain.briefs import parse_brief
from qunyun.domain.flash import InvalidFlashFile, parse_flash_file
from qunyun.domain.push_messages import parse_push
from qunyun.domain.quota import Push
from qunyun.services.flash import ExpireDeps, create_flash_groups, expire, flash_report
from qunyun.services.groups import import_groups
from qunyun.services.push_job import claim_lease
from qunyun.services.push_send import send_message
from qunyun.services.send_deps import SendDeps
from stream_support import deliver_streams
from support import FakeContext, signed_event

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
START = datetime.now(UTC).replace(microsecond=0)
ENDS = START + timedelta(hours=2)
TZ = "Asia/Shanghai"


class PolicyTenants(TenantRepository):
    """The stored tenant with some policy settings changed (the CLI has no policy command yet)."""

    def __init__(self, **policy):
        self.policy = policy

    def get(self, tenant_id):
        tenant = super().get(tenant_id)
        if tenant is None:
            return None
        return tenant.model_copy(update={"policy": tenant.policy.model_copy(update=self.policy)})


class Queue:
    """The push queue: keeps what the job sends; `deliver` hands the test tenant's messages to SendPushes, in order
    (the job serves every tenant, so it also ends groups other tests left behind)."""

    def __init__(self, send_deps: SendDeps, tenant):
        self.bodies: list[dict] = []
        self.send_deps, self.tenant_id = send_deps, tenant.tenant_id

    def send(self, pushes) -> int:
        bodies = [push.body() for push in pushes]  # as they go on the queue
        self.bodies += bodies
        return len(bodies)

    def deliver(self, clock_at: datetime) -> None:
        self.send_deps.clock = lambda: clock_at
        for body in self.bodies:
            if body["tenant_id"] == self.tenant_id:
                send_message(parse_push(body), deps=self.send_deps)
        self.bodies = []


@pytest.fixture
def fakes():
    with (FakeWecomRobot() as robot, FakeBridge("bridge-secret") as bridge, FakeWecomCustomerGroups() as wecom,
          FakeFeishuBot() as feishu, FakeTelegramBot() as telegram):
        robot.add_robot("k-f")
        wecom.add_corp("corp-1", "s3cret")
        wecom.add_owner("zhang", ["wr1"])
        feishu.add_bot("tok-f")
        telegram.add_bot("123:tg-token")
        telegram.add_chat("-1001")
        yield {"robot": robot, "bridge": bridge, "wecom": wecom, "feishu": feishu, "telegram": telegram,
               "outbox": MemoryOutbox()}


def send_deps(fakes, tenants=None) -> SendDeps:
    customer = WecomCustomerGroups(fakes["wecom"].base_url, timeout=5.0)
    senders = {"wecom_robot": WecomRobot(fakes["robot"].base_url, timeout=5.0), "outbox": Outbox(fakes["outbox"]),
               "signed_webhook": SignedWebhook(), "feishu_bot": FeishuBot(fakes["feishu"].base_url),
               "telegram_bot": TelegramBot(fakes["telegram"].base_url)}
    return SendDeps(tenants=tenants or TenantRepository(), groups=GroupRepository(), content=ContentRepository(),
                    deliveries=DeliveryRepository(), ledger=PointsLedger(), secrets=secret_store(),
                    claims=DeliveryClaims(claim_lease(60)), channel=senders.__getitem__,
                    customer_groups=lambda: customer, clock=lambda: ENDS)


def expire_deps(queue, tenants=None, **extra) -> ExpireDeps:
    return ExpireDeps(**{"flash": FlashRepository(), "groups": GroupRepository(),
                         "tenants": tenants or TenantRepository(), "deliveries": DeliveryRepository(),
                         "ledger": PointsLedger(), "queue": queue, **extra})


def flash_row(channel: str, fakes, ends_at: datetime = ENDS) -> str:
    where = {"wecom_robot": f"{fakes['robot'].base_url}/cgi-bin/webhook/send?key=k-f,,,",
             "signed_webhook": f"{fakes['bridge'].url},bridge-secret,,",
             "wecom_customer_group": ",,zhang,wr1",
             "feishu_bot": f"{fakes['feishu'].base_url}/open-apis/bot/v2/hook/tok-f,,,",
             "telegram_bot": ",123:tg-token,,-1001",
             "outbox": ",,,"}[channel]
    return f"f1,闪购群,flash,{channel},{where},{TZ},08:00,20:30,,,,{ends_at.isoformat()}"


def setup_flash(tenant, fakes, channel: str, ends_at: datetime = ENDS) -> None:
    rows = [flash_row(channel, fakes, ends_at), "long,长期福利群,welfare,outbox,,,,,,,,,,,"]
    import_groups(tenant.tenant_id, "\n".join([HEADER, *rows]), tenants=TenantRepository(), groups=GroupRepository(),
                  secrets=secret_store())
    secret_store().put_many({f"{tenant.tenant_id}/wecom/corp_id": "corp-1",
                             f"{tenant.tenant_id}/wecom/corp_secret": "s3cret"})
    repo = TenantRepository()
    stored = {g.group_id: g for g in GroupRepository().list(tenant.tenant_id)}
    data = {"groups": [{"group_id": "f1", "name": "闪购群", "channel": channel, "ends_at": ends_at.isoformat(),
                        **_channel_fields(channel, fakes), "timezone": TZ,
                        "after_sales": {"contact": "微信 tea-help", "hours": "9:00-18:00"},
                        "invite": {"group_id": "long", "link": "https://example.com/join", "top": 2}}]}
    checked = parse_flash_file(data, repo.get(tenant.tenant_id), stored)
    create_flash_groups(repo.get(tenant.tenant_id), checked, groups=GroupRepository(), secrets=secret_store(),
                        flash=FlashRepository(), now=START)


def _channel_fields(channel: str, fakes) -> dict:
    return {"wecom_robot": {"webhook_url": f"{fakes['robot'].base_url}/cgi-bin/webhook/send?key=k-f"},
            "signed_webhook": {"webhook_url": fakes["bridge"].url, "secret": "bridge-secret"},
            "wecom_customer_group": {"owner": "zhang", "chat_id": "wr1"},
            "feishu_bot": {"webhook_url": f"{fakes['feishu'].base_url}/open-apis/bot/v2/hook/tok-f"},
            "telegram_bot": {"secret": "123:tg-token", "chat_id": "-1001"},
            "outbox": {}}[channel]


def farewells(fakes, channel: str) -> list[str]:
    """What the channel's independent fake received, as text."""
    if channel == "wecom_robot":
        return [r.content for r in fakes["robot"].received]
    if channel == "signed_webhook":
        return [r["text"] for r in fakes["bridge"].received]
    if channel == "outbox":
        return [e["text"] for e in fakes["outbox"].entries]
    if channel in ("feishu_bot", "telegram_bot"):
        return [r.text for r in fakes[channel.partition("_")[0]].received]
    return [t.text for t in fakes["wecom"].tasks.values()]


def call_points(tenant, body: dict):
    data = json.dumps(body).encode()
    resp = points_api.lambda_handler(signed_event(tenant.tenant_id, tenant.secret, "POST", "/v1/points/events",
                                                  data), FakeContext())
    return resp["statusCode"], json.loads(resp["body"])


def earn(tenant, member: str, event_id: str, **extra) -> None:
    status, body = call_points(tenant, {"event_id": event_id, "type": "checkin", "member_id": member,
                                        "occurred_at": START.isoformat(), "group_id": "f1", **extra})
    assert status == 200, body


@pytest.mark.parametrize("channel", ["wecom_robot", "feishu_bot", "telegram_bot", "signed_webhook", "outbox",
                                     "wecom_customer_group"])
def test_fired_twice_each_channel_receives_one_farewell_and_nothing_after(tenant, fakes, channel):
    # GIVEN a flash group on the channel, with terms, and a long-term group to invite its best members into
    setup_flash(tenant, fakes, channel)
    queue = Queue(send_deps(fakes), tenant)
    # WHEN ExpireFlashGroups runs twice as at its end, and SQS delivers every message it queued
    expire(ENDS, expire_deps(queue))
    expire(ENDS, expire_deps(queue))
    queue.deliver(ENDS)
    # THEN its channel received exactly one farewell, with its after-sales terms and the invitation
    [text] = farewells(fakes, channel)
    assert "微信 tea-help" in text and "9:00-18:00" in text and "长期福利群" in text
    group = GroupRepository().get(tenant.tenant_id, "f1")
    assert group.status == "ended"
    # AND it left the brief slot indexes, and a brief for it the next morning is refused, not sent
    item = GroupItem.get(tenant.tenant_id, "f1")
    assert (item.morning_slot, item.evening_slot) == (None, None)
    ContentRepository().put_brief(tenant.tenant_id, parse_brief({
        "date": str((ENDS + timedelta(days=1)).date()), "edition": "morning", "title": "早安",
        "sections": [{"kind": "tip", "text": "泡茶"}]}), START)
    brief = {"tenant_id": tenant.tenant_id, "date": str((ENDS + timedelta(days=1)).date()), "edition": "morning",
             "group_ids": ["f1"], **({"owner": "zhang"} if channel == "wecom_customer_group" else {})}
    send_message(parse_push(brief), deps=send_deps(fakes))
    assert len(farewells(fakes, channel)) == 1
    skipped = DeliveryRepository().get(tenant.tenant_id, "f1", (ENDS + timedelta(days=1)).date(), "brief.morning")
    assert (skipped.status, skipped.reason) == ("skipped", "group_ended")
    # AND the next run, the farewell's record being final, dissolves it and runs of the job change nothing more
    expire(ENDS + timedelta(minutes=5), expire_deps(queue))
    assert FlashRepository().get(tenant.tenant_id, "f1").due_pk is None
    expire(ENDS + timedelta(minutes=10), expire_deps(queue))
    queue.deliver(ENDS + timedelta(minutes=10))
    assert GroupRepository().get(tenant.tenant_id, "f1").status == "dissolved"
    assert len(farewells(fakes, channel)) == 1
    report = flash_report(tenant.tenant_id, "f1", tenants=TenantRepository(), flash=FlashRepository())
    expected = "awaiting_owner" if channel == "wecom_customer_group" else "sent"
    assert (report["state"], report["figures"]["farewell"]) == ("dissolved", expected)
    assert report["owner_must_dismiss"] == ("zhang" if channel == "wecom_customer_group" else None)


CRASH_POINTS = ["prepare_end", "set_status", "send", "mark_ended"]


@pytest.mark.parametrize("where", CRASH_POINTS)
def test_a_run_stopped_at_any_step_still_sends_one_farewell(tenant, fakes, where):
    # GIVEN a flash robot group, and a run that stops right after one of its steps
    setup_flash(tenant, fakes, "wecom_robot")
    queue = Queue(send_deps(fakes), tenant)

    def stop_after(obj, name):
        real = getattr(obj, name)

        def wrapped(*args, **kwargs):
            real(*args, **kwargs)
            if any(tenant.tenant_id in str(getattr(a, "pk", a)) for a in args):  # not other tests' groups
                raise SystemExit(f"stopped after {name}")

        setattr(obj, name, wrapped)
        return obj

    flash, groups, sent_to = FlashRepository(), GroupRepository(), Queue(queue.send_deps, tenant)
    target = {"prepare_end": flash, "mark_ended": flash, "set_status": groups, "send": sent_to}[where]
    stop_after(target, where)
    with pytest.raises(SystemExit):
        expire(ENDS, expire_deps(sent_to, flash=flash, groups=groups))
    queue.bodies += sent_to.bodies  # what the stopped run queued is delivered too
    # WHEN the scheduler runs the job again (and again), and SQS delivers everything that was queued
    expire(ENDS, expire_deps(queue))
    expire(ENDS + timedelta(minutes=5), expire_deps(queue))
    queue.deliver(ENDS)
    expire(ENDS + timedelta(minutes=10), expire_deps(queue))
    queue.deliver(ENDS + timedelta(minutes=10))
    # THEN the robot received exactly one farewell and the group ends dissolved
    assert len(fakes["robot"].received) == 1
    assert GroupRepository().get(tenant.tenant_id, "f1").status == "dissolved"


def test_a_customer_group_whose_quota_leaves_one_push_that_day_keeps_it_for_the_farewell(tenant, fakes):
    # GIVEN a tenant whose customer groups take one WeCom push a day, and a flash customer group ending at 21:00
    tenants = PolicyTenants(quota_period="day")
    ends = datetime.fromisoformat("2026-12-03T21:00:00+08:00")
    setup_flash(tenant, fakes, "wecom_customer_group", ends)
    day = ends.date()
    ContentRepository().put_brief(tenant.tenant_id, parse_brief({
        "date": str(day), "edition": "morning", "title": "早安", "sections": [{"kind": "tip", "text": "泡茶"}]}),
        START)
    deps = send_deps(fakes, tenants)
    # WHEN its morning brief is sent at 08:00 and the group ends at 21:00
    deps.clock = lambda: ends - timedelta(hours=13)
    send_message(parse_push({"tenant_id": tenant.tenant_id, "date": str(day), "edition": "morning",
                             "group_ids": ["f1"], "owner": "zhang"}), deps=deps)
    queue = Queue(deps, tenant)
    expire(ends, expire_deps(queue, tenants))
    queue.deliver(ends)
    # THEN the brief was skipped for the quota (its slot kept for the farewell) and the farewell went to the owner
    brief = DeliveryRepository().get(tenant.tenant_id, "f1", day, "brief.morning")
    farewell = DeliveryRepository().get(tenant.tenant_id, "f1", day, Push.farewell().push_id)
    assert (brief.status, brief.reason) == ("skipped", "quota")
    assert farewell.status == "awaiting_owner"
    assert len(fakes["wecom"].tasks) == 1


def test_points_events_are_accepted_within_the_grace_and_refused_after_it(tenant, fakes):
    # GIVEN a flash group that ended 6 days ago and one that ended 8 days ago (the tenant's grace is 7 days)
    rows = [f"recent,近期群,flash,outbox,,,,,,,,,,,{(START - timedelta(days=6)).isoformat()}",
            f"old,早期群,flash,outbox,,,,,,,,,,,{(START - timedelta(days=8)).isoformat()}"]
    import_groups(tenant.tenant_id, "\n".join([HEADER, *rows]), tenants=TenantRepository(), groups=GroupRepository(),
                  secrets=secret_store())
    event = {"type": "purchase", "member_id": "u1", "occurred_at": START.isoformat(), "amount_fen": 5000}
    # WHEN an after-sales purchase arrives for each
    ok, accepted = call_points(tenant, {**event, "event_id": "p1", "order_id": "o1", "group_id": "recent"})
    status, refused = call_points(tenant, {**event, "event_id": "p2", "order_id": "o2", "group_id": "old"})
    # THEN the recent group's is applied and the old group's is refused with group_ended, writing nothing
    assert ok == 200 and accepted["status"] == "applied"
    assert (status, refused["error"]["code"], refused["error"]["field"]) == (422, "group_ended", "group_id")
    assert PointsLedger().order(tenant.tenant_id, "o2") is None
    assert PointsLedger().order(tenant.tenant_id, "o1") is not None


def test_the_report_counts_the_groups_members_checkins_points_and_purchases(tenant, fakes):
    # GIVEN a flash group where two members checked in and one bought something, and a check-in elsewhere
    setup_flash(tenant, fakes, "outbox")
    earn(tenant, "u1", "c1")
    earn(tenant, "u2", "c2", nickname="小美")
    status, _ = call_points(tenant, {"event_id": "p1", "type": "purchase", "member_id": "u2", "order_id": "o1",
                                     "amount_fen": 12800, "occurred_at": START.isoformat(), "group_id": "f1"})
    assert status == 200
    status, _ = call_points(tenant, {"event_id": "c3", "type": "checkin", "member_id": "u3",
                                     "occurred_at": START.isoformat(), "group_id": "long"})
    assert status == 200
    deliver_streams()  # the day's pages, as PageEarnings writes them a batching window later
    queue = Queue(send_deps(fakes), tenant)
    # WHEN the group ends and its farewell is delivered
    expire(ENDS, expire_deps(queue))
    queue.deliver(ENDS)
    expire(ENDS + timedelta(minutes=5), expire_deps(queue))
    # THEN the report counts what happened in this group only, and the farewell names its top members
    report = flash_report(tenant.tenant_id, "f1", tenants=TenantRepository(), flash=FlashRepository())
    figures = report["figures"]
    assert (figures["members"], figures["checkins"], figures["purchases"], figures["purchase_amount_fen"]) == (
        2, 2, 1, 12800)
    assert figures["points_earned"] == 5 + 5 + 128
    assert figures["redemptions"] == 0
    assert figures["pushes"] == {"sent": 1, "awaiting_owner": 0, "skipped": 0, "failed": 0}
    assert [m["member_id"] for m in report["top"]] == ["u2", "u1"]
    [entry] = fakes["outbox"].entries
    # (by the nickname a member gave, else by a masked id, as briefs show them)
    assert "小美" in entry["text"] and "u1***" in entry["text"] and "u3" not in entry["text"]


def test_reimporting_an_ended_group_neither_revives_it_nor_loses_its_terms(tenant, fakes):
    # GIVEN a flash group that has ended
    setup_flash(tenant, fakes, "outbox")
    expire(ENDS, expire_deps(Queue(send_deps(fakes), tenant)))
    # WHEN the operator imports the same CSV row again, with a later end
    later = ENDS + timedelta(days=3)
    import_groups(tenant.tenant_id, "\n".join([HEADER, flash_row("outbox", fakes, later)]), tenants=TenantRepository(),
                  groups=GroupRepository(), secrets=secret_store())
    # THEN the group is still ended, out of the slot indexes, and its FlashItem keeps its end and terms
    assert GroupRepository().get(tenant.tenant_id, "f1").status == "ended"
    assert GroupItem.get(tenant.tenant_id, "f1").morning_slot is None
    item = FlashRepository().get(tenant.tenant_id, "f1")
    assert (item.state, item.ends_at, item.terms["after_sales"]["contact"]) == ("ended", ENDS, "微信 tea-help")


def test_a_csv_flash_group_gets_the_tenants_terms_and_ends_too(tenant, fakes):
    # GIVEN a flash group imported by CSV only, for a tenant whose policy names its after-sales contact
    tenants = PolicyTenants(after_sales_contact="客服 400-000", after_sales_hours="全天")
    import_groups(tenant.tenant_id, "\n".join([HEADER, flash_row("outbox", fakes)]), tenants=TenantRepository(),
                  groups=GroupRepository(), secrets=secret_store())
    deps = send_deps(fakes, tenants)
    queue = Queue(deps, tenant)
    # WHEN it ends
    expire(ENDS, expire_deps(queue, tenants))
    queue.deliver(ENDS)
    # THEN its farewell gives the tenant's contact and hours, with no invitation
    [entry] = fakes["outbox"].entries
    assert "客服 400-000" in entry["text"] and "全天" in entry["text"]


def test_a_flash_file_with_errors_names_each_and_writes_nothing(tenant, fakes):
    # GIVEN a file with a bad channel, a missing end, an unknown long-term group, a bad link, a
    # duplicate id and a missing after-sales contact (the tenant has none to fall back on)
    data = {"groups": [
        {"group_id": "a", "name": "A", "channel": "pigeon", "ends_at": ENDS.isoformat(),
         "after_sales": {"contact": "x"}},
        {"group_id": "b", "name": "B", "channel": "outbox", "after_sales": {"contact": "x"}},
        {"group_id": "c", "name": "C", "channel": "outbox", "ends_at": ENDS.isoformat(),
         "after_sales": {"contact": "x"}, "invite": {"group_id": "nope", "link": "ftp://x"}},
        {"group_id": "c", "name": "C2", "channel": "outbox", "ends_at": "2026-12-01T10:00:00",
         "after_sales": {"contact": "x"}},
        {"group_id": "d", "name": "D", "channel": "outbox", "ends_at": ENDS.isoformat(),
         "after_sales": {"contact": "x"}, "invite": {"group_id": "nope", "link": "https://example.com/j"}},
        {"group_id": "d", "name": "D2", "channel": "outbox", "ends_at": ENDS.isoformat()},
    ]}
    lines = {("groups", 0, "channel"): 3, ("groups", 1): 5, ("groups", 2, "invite", "link"): 9}
    # WHEN it is checked
    with pytest.raises(InvalidFlashFile) as raised:
        parse_flash_file(data, TenantRepository().get(tenant.tenant_id), {}, "f.yaml", lines.get)
    # THEN every problem is named with its place, and nothing was stored
    errors = {e["field"]: e for e in raised.value.details["errors"]}
    assert set(errors) == {"groups[0].channel", "groups[1].ends_at", "groups[2].invite.link",
                           "groups[3].ends_at", "groups[4].invite.group_id", "groups[5].group_id",
                           "groups[5].after_sales.contact"}
    assert errors["groups[0].channel"]["line"] == 3 and errors["groups[2].invite.link"]["line"] == 9
    assert list(GroupRepository().list(tenant.tenant_id)) == []
    assert FlashRepository().get(tenant.tenant_id, "a") is None


def test_a_flash_item_whose_group_is_gone_leaves_the_index(tenant, fakes):
    # GIVEN a FlashItem due now whose group was never stored
    FlashRepository().upsert(tenant.tenant_id, "ghost", ENDS, None, START)
    queue = Queue(send_deps(fakes), tenant)
    # WHEN the job runs as at its end
    expire(ENDS, expire_deps(queue))
    # THEN nothing was queued for it and no later run reads it again
    assert [b for b in queue.bodies if b["tenant_id"] == tenant.tenant_id] == []
    assert FlashRepository().get(tenant.tenant_id, "ghost").due_pk is None


BAD_FILE = """\
groups:
  - group_id: ok-1
    name: 好群
    channel: outbox
    ends_at: 2026-12-12T22:00:00+08:00
    after_sales: {contact: 微信 tea-help}
  - group_id: bad-1
    name: 坏群
    channel: wecom_robot
    ends_at: 2026-12-12T22:00:00+08:00
    after_sales: {contact: 微信 tea-help}
"""


def test_flash_create_names_each_error_with_its_line_and_writes_nothing(tenant, tmp_path):
    from qunyun_ops.cli import app
    from typer.testing import CliRunner

    # GIVEN a file whose first group is valid and whose second (line 7) is a robot without its webhook_url
    path = tmp_path / "flash.yaml"
    path.write_text(BAD_FILE, encoding="utf-8")
    # WHEN it is created with the CLI
    result = CliRunner().invoke(app, ["flash", "create", str(path), "--tenant", tenant.tenant_id])
    # THEN it fails naming the second entry with its line, and even the valid first group was not stored
    assert result.exit_code != 0
    shown = result.stdout + (result.stderr if result.stderr_bytes is not None else "")
    assert "1 problem(s); nothing was stored" in shown
    assert "line 7, groups[1]: channel wecom_robot needs webhook_url" in shown
    assert list(GroupRepository().list(tenant.tenant_id)) == []
    assert FlashRepository().get(tenant.tenant_id, "ok-1") is None
