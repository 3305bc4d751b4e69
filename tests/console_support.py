"""A tenant's world for the console's tests: groups of three kinds and channels, rosters, the day's pushes
(sent, skipped with reasons, failed, awaiting the owner), a WeCom task awaiting its owner, a broken channel,
points and rewards, a guard task with its evidence, a sweep run and a flash group. Written through the same
services and repositories the functions use; the tests then read the same figures through them independently."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.guard_log import GuardLog
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.roster import RosterStore
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.sweep_runs import SweepRuns
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.guard import Action
from qunyun.domain.mall import Reward
from qunyun.domain.quota import Push, local_day
from qunyun.domain.roster import RosterChange
from qunyun.services.groups import import_groups
from qunyun.services.mall import add_rewards
from stream_support import deliver_streams

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501


def csv_rows(ends_at: datetime) -> str:
    return "\n".join([
        HEADER,
        "g-tea,茶友一群,traffic,outbox,,,,,,08:00,20:30,vip,s1,rep1,",
        "g-wecom,企微客户群,welfare,wecom_customer_group,,,owner1,wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA,,08:00,20:30,,s2,rep2,",
        f"g-flash,双十二快闪群,flash,outbox,,,,,,08:00,-,,s1,rep1,{ends_at.isoformat()}",
    ]) + "\n"


def _record(tenant_id, group_id, day, push, channel, status, now, reason=None, error=None):
    record = Delivery.of(tenant_id, group_id, day, push, channel, status, now, reason=reason)
    return record.model_copy(update={"error": error}) if error else record


def seed_world(tenant_id: str, timezone: str, now: datetime) -> dict:
    """Writes the world; returns what the tests look for by name."""
    tenants, groups, deliveries = TenantRepository(), GroupRepository(), DeliveryRepository()
    import_groups(tenant_id, csv_rows(now + timedelta(days=3)), tenants=tenants, groups=groups,
                  secrets=secret_store())
    roster = RosterStore()
    for n in range(5):
        roster.apply(tenant_id, "g-tea", RosterChange(f"telegram:{100 + n}", "member", now - timedelta(days=9 - n),
                                                      "joined", name=f"茶友{n}"))
    roster.apply(tenant_id, "g-tea", RosterChange("telegram:100", "left", now - timedelta(days=1), "left"))
    for n in range(3):
        roster.apply(tenant_id, "g-wecom", RosterChange(f"wecom:wm{n}", "member", now - timedelta(days=5), "invite"))
    day = local_day(now, timezone)
    morning, evening = Push.brief("morning"), Push.brief("evening")
    for record in (
        _record(tenant_id, "g-tea", day, morning, "outbox", Status.sent, now),
        _record(tenant_id, "g-tea", day, evening, "outbox", Status.skipped, now, reason="daily_cap"),
        _record(tenant_id, "g-flash", day, morning, "outbox", Status.failed, now, reason="channel_broken",
                error="401 revoked"),
        _record(tenant_id, "g-wecom", day, morning, "wecom_customer_group", Status.awaiting_owner, now),
        _record(tenant_id, "g-wecom", day, evening, "wecom_customer_group", Status.skipped, now, reason="quota"),
    ):
        assert deliveries.add(record)
    deliveries.await_owner("msgAAA1", [_record(tenant_id, "g-wecom", day, morning, "wecom_customer_group",
                                               Status.awaiting_owner, now)], now)
    groups.mark_broken(tenant_id, "g-flash", "the bot token was revoked (401)")
    tenant = tenants.get(tenant_id)
    add_rewards(tenant, [Reward(id="cup", name="定制茶杯", cost=50, stock=12),
                         Reward(id="tea", name="新茶试饮装", cost=120, stock=3)], ledger=PointsLedger(), now=now)
    log = GuardLog()
    task = Action(tenant_id, "remove-g-tea-telegram-104-m9", "remove", "g-tea", "telegram", "-100200",
                  "telegram:104", "m9", "words", now - timedelta(hours=2), reason="", evidence="加微信 vx:abc 刷单")
    log.intend(task, now)
    log.finish(tenant_id, task.action_id, "task", "the platform refused: not enough rights", now)
    week = f"{day.isocalendar().year}-W{day.isocalendar().week:02d}"
    SweepRuns().add(tenant_id, week, "g-tea", {
        "group_id": "g-tea", "week": week, "mode": "report", "skipped": None,
        "members": [{"member_id": "telegram:101", "name": "茶友1", "last_message_at": None, "messages_7d": 0,
                     "messages_30d": 0, "why": "silent 7 days", "outcome": "report"}]})
    return {"day": day, "task_id": task.action_id}


def add_points(call, tenant, at: datetime) -> None:
    """Check-ins and correct quiz answers of three members, so the day's leaderboard has an order."""
    events = []
    for member, answers in (("u-gold", 3), ("u-silver", 2), ("u-bronze", 0)):
        events.append({"event_id": f"c-{member}", "type": "checkin", "member_id": member,
                       "occurred_at": at.isoformat()})
        events += [{"event_id": f"q-{member}-{n}", "type": "quiz_answer", "member_id": member, "quiz_id": "qz",
                    "question_id": f"q{n}", "correct": True, "occurred_at": at.isoformat()} for n in range(answers)]
    call(tenant, "POST", "/v1/points/events", {"events": events})
    deliver_streams()  # the day's pages, as PageEarnings writes them a batching window later


def token_of(login_url: str) -> str:
    return parse_qs(urlsplit(login_url).query)["token"][0]


def now_utc() -> datetime:
    return datetime.fromtimestamp(int(time.time()), UTC)


def pretty(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
