"""A seeded metrics history for the tests: 40 days of joins, leaves, messages, check-ins, purchases, redemptions,
pushes and WeCom statistics in a tenant's groups, written through the services the functions use, with the
history kept on the side so a test can compute the figures on its own (tests/integration/test_metrics.py) or
compare what two readers show (tests/browser/test_console_browser.py)."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fakes.wecom_customer_group import FakeWecomCustomerGroups
from qunyun.adapters.activity import ActivityStore
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.roster import RosterStore
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.activity import Page, Sent
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.events import PointsEvent
from qunyun.domain.mall import RedemptionRequest, Reward
from qunyun.domain.quota import Push
from qunyun.domain.roster import RosterChange
from qunyun.services import quota
from qunyun.services.groups import import_groups
from qunyun.services.mall import add_rewards, redeem
from qunyun.services.points import apply_event
from qunyun.services.tenants import create_tenant
from stream_support import deliver_streams

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
SHANGHAI, BERLIN, LA = "Asia/Shanghai", "Europe/Berlin", "America/Los_Angeles"
DAYS = 40
LAST = datetime.now(UTC).date() - timedelta(days=3)  # the history ends three days ago: every day of it has ended
FIRST = LAST - timedelta(days=DAYS - 1)
HOWS = ("invited", "link", "qr")


@dataclass
class Group:
    group_id: str
    channel: str
    tz: str
    store: str | None = None
    rep: str | None = None
    kind: str = "traffic"
    joined: dict[str, tuple[datetime, str]] = field(default_factory=dict)  # member → (when, how)
    left: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    messages: list[tuple[str, str, datetime]] = field(default_factory=list)  # (id, member, when)
    pushes: dict[date, list[tuple[str, str | None]]] = field(default_factory=lambda: defaultdict(list))
    quota_days: list[date] = field(default_factory=list)

    def member_at(self, member: str, at: datetime) -> bool:
        joined = self.joined.get(member)
        left = self.left.get(member)
        return joined is not None and joined[0] < at and not (left is not None and left[0] < at)

    def bounds(self, day: date) -> tuple[datetime, datetime]:
        tz = ZoneInfo(self.tz)
        return datetime.combine(day, time(), tz), datetime.combine(day + timedelta(days=1), time(), tz)


@dataclass
class History:
    tenant_id: str
    secret: str
    tz: str
    groups: dict[str, Group]
    earned: list[tuple[date, str, str, int, str]] = field(default_factory=list)  # (day, group, member, points, type)
    redeemed: list[tuple[date, str]] = field(default_factory=list)  # (program day, member)
    wecom: dict[date, tuple[int, int]] = field(default_factory=dict)  # owner o1's (member_has_msg, msg_total)


def _at(rng: random.Random, day: date, tz: str) -> datetime:
    start = datetime.combine(day, time(), ZoneInfo(tz))
    return (start + timedelta(seconds=rng.randrange(60, 86340))).astimezone(UTC)


def _roster(h: History, g: Group, rng: random.Random, prefix: str) -> None:
    store = RosterStore()
    changes = []
    for n in range(24):
        member = f"{prefix}:{g.group_id}.{n}"
        joined = _at(rng, FIRST + timedelta(days=rng.randrange(-6, DAYS)), g.tz)
        g.joined[member] = (joined, rng.choice(HOWS))
        changes.append(RosterChange(member, "member", joined, g.joined[member][1]))
        if rng.random() < 0.35:
            left = joined + timedelta(hours=rng.randrange(1, 24 * 20))
            if left.date() <= LAST:
                g.left[member] = (left, rng.choice(("left", "removed")))
                changes.append(RosterChange(member, "left", left, g.left[member][1]))
    for change in sorted(changes, key=lambda c: c.at):
        assert store.apply(h.tenant_id, g.group_id, change)


def _day_of_activity(h: History, g: Group, day: date, rng: random.Random, ledger, tenant) -> None:
    start, end = g.bounds(day)
    present = [m for m in sorted(g.joined) if g.member_at(m, end - timedelta(hours=1))]
    if g.channel == "telegram_bot" and present:
        sent = []
        for i in range(rng.randrange(0, 12)):
            member, at = rng.choice(present), _at(rng, day, g.tz).replace(microsecond=0)
            at = min(max(at, start + timedelta(minutes=1)), end - timedelta(hours=2))
            g.messages.append((f"m{day:%m%d}{i}", member, at))
            sent.append(Sent(f"m{day:%m%d}{i}", member, int(at.timestamp())))
        if sent:
            ActivityStore().write_many([Page(h.tenant_id, g.group_id, day, sent, {})])
    program_tz = ZoneInfo(h.tz)
    for member in rng.sample(present, min(len(present), rng.randrange(0, 5))):
        at = min(max(_at(rng, day, h.tz), start + timedelta(minutes=1)), end - timedelta(hours=2))
        kind = "purchase" if rng.random() < 0.25 else "checkin"
        extra = {"order_id": f"o.{member}.{day}", "amount_fen": 12900} if kind == "purchase" else {}
        event = PointsEvent(event_id=f"e.{kind}.{member}.{day}", type=kind, member_id=member, group_id=g.group_id,
                            occurred_at=at, **extra)
        answer = apply_event(tenant, event, ledger=ledger, now=at)
        points = answer["granted"] + answer["pending"]
        if answer.get("reason") != "already_checked_in":
            h.earned.append((at.astimezone(program_tz).date(), g.group_id, member, points, kind))
        if kind == "checkin" and rng.random() < 0.3:
            later = at + timedelta(minutes=5)
            req = RedemptionRequest(request_id=f"r.{member}.{day}", member_id=member, reward_id="mug", quantity=1)
            if redeem(tenant, req, ledger=ledger, now=later).status == 201:
                h.redeemed.append((later.astimezone(program_tz).date(), member))


def _pushes(h: History, g: Group, day: date, rng: random.Random, tenant) -> None:
    repo, now = DeliveryRepository(), datetime.now(UTC)
    if g.channel == "wecom_customer_group":
        if rng.random() < 0.6:
            group = GroupRepository().get(h.tenant_id, g.group_id)
            record = Delivery.of(h.tenant_id, g.group_id, day, Push.brief("morning"), g.channel, Status.planned, now)
            assert quota.spend(tenant, group, Push.brief("morning"), day, deliveries=repo, record=record).take
            status = rng.choice((Status.sent, Status.awaiting_owner))
            repo.move(record, status, now)
            g.pushes[day].append((status.value, None))
            g.quota_days.append(day)
        return
    for push, status, reason in ((Push.brief("morning"), Status.sent, None),
                                 (Push.brief("evening"), rng.choice((Status.skipped, Status.sent, Status.failed)),
                                  "daily_cap"),
                                 (Push.reminder("live", "1h"), Status.skipped, "quota")):
        if rng.random() < 0.7:
            reason = reason if status is Status.skipped else None
            repo.add(Delivery.of(h.tenant_id, g.group_id, day, push, g.channel, status, now, reason=reason))
            g.pushes[day].append((status.value, reason))


def _wecom(h: History, fake: FakeWecomCustomerGroups, rng: random.Random) -> None:
    for n in range(DAYS):
        day = FIRST + timedelta(days=n)
        stat_time = int(datetime.combine(day, time(), ZoneInfo(SHANGHAI)).timestamp())
        h.wecom[day] = (rng.randrange(0, 15), rng.randrange(0, 60))
        fake.set_statistic("o1", stat_time, {"member_has_msg": h.wecom[day][0], "msg_total": h.wecom[day][1],
                                             "chat_has_msg": 2, "member_total": 40})


def seed(tz: str, rows: list[str], groups: dict[str, Group], seed_: int, fake=None) -> History:
    tid = "t-" + uuid.uuid4().hex[:12]
    created, secret = create_tenant(tid, "Tea", tz, tenants=TenantRepository(), secrets=secret_store())
    t = History(tid, secret, tz, groups)
    h = t
    import_groups(tid, "\n".join([HEADER, *rows]), tenants=TenantRepository(), groups=GroupRepository(),
                  secrets=secret_store())
    tenant, ledger, rng = TenantRepository().get(tid), PointsLedger(), random.Random(seed_)
    add_rewards(tenant, [Reward(id="mug", name="Mug", cost=1, stock=100000)], ledger=ledger,
                now=datetime.combine(FIRST - timedelta(days=10), time(), UTC))
    for g in groups.values():
        _roster(h, g, rng, "telegram" if g.channel == "telegram_bot" else "m")
    for n in range(DAYS):
        day = FIRST + timedelta(days=n)
        for g in groups.values():
            _day_of_activity(h, g, day, rng, ledger, tenant)
            _pushes(h, g, day, rng, tenant)
    if fake is not None:
        secret_store().put_many({f"{tid}/wecom/corp_id": "corp-1", f"{tid}/wecom/corp_secret": "s"})
        _wecom(h, fake, rng)
    deliver_streams()  # the days' earnings and redemptions paged, as PageEarnings pages them
    return h
