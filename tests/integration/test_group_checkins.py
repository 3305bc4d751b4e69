"""Check-ins written in a group, on DynamoDB Local: a message saying a check-in keyword is a `checkin` points event
of its sender through the ledger, granted once however often its callback comes, and counted in `members list`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import process_group_events
from qunyun.adapters.activity import ActivityStore
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.roster import RosterStore
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.group_events import Member, Message
from qunyun.domain.tenants import DEFAULT_TIMEZONE
from qunyun.services.groups import import_groups
from qunyun.services.roster_view import members
from qunyun.services.tenants import change_policy
from test_group_events import HEADER, sqs_event


def said(tenant, n: int, user: str, text: str, at: datetime, name: str | None = None) -> Message:
    return Message(tenant_id=tenant.tenant_id, platform="telegram", event_id=f"u{n}", chat_id="-100200",
                   occurred_at=at, sender=Member(user_id=user, name=name), message_id=str(n), text=text)


def test_a_check_in_in_the_group_grants_once(tenant, context):
    import_groups(tenant.tenant_id, "\n".join([HEADER, "tg,电报群,traffic,telegram_bot,,BOT:TOKEN,,-100200,,,,,,,"]),
                  tenants=TenantRepository(), groups=GroupRepository(), secrets=secret_store())
    now = datetime.now(UTC) - timedelta(minutes=1)
    # GIVEN a check-in, a second one the same day, a word that only contains the keyword, and a plain message
    events = [said(tenant, 1, "501", " 签到！", now, name="Ann"), said(tenant, 2, "501", "打卡", now),
              said(tenant, 3, "502", "我明天再签到", now), said(tenant, 4, "503", "hello", now)]
    # WHEN the batch is processed, then the first check-in's callback comes again alone
    assert process_group_events.process(sqs_event(events), context) == {"batchItemFailures": []}
    assert process_group_events.process(sqs_event(events[:1]), context) == {"batchItemFailures": []}
    # THEN the member earned the check-in's points once, with the group's name for them, a streak of 1
    ledger = PointsLedger()
    ann = ledger.member(tenant.tenant_id, "telegram:501")
    assert (ann.earned, ann.streak_days, ann.nickname) == (5, 1, "Ann")
    assert ledger.event(tenant.tenant_id, "telegram.-100200.1") is not None
    assert ledger.event(tenant.tenant_id, "telegram.-100200.2").response["reason"] == "already_checked_in"
    assert ledger.member(tenant.tenant_id, "telegram:502").earned == 0
    # AND `members list` counts one check-in for her and none for the others
    today = now.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date()
    rows = {r["member_id"]: r for r in members(tenant.tenant_id, "tg", today, roster=RosterStore(),
                                               activity=ActivityStore())}
    assert {m: r["checkins"] for m, r in rows.items()} == {"telegram:501": 1, "telegram:502": 0, "telegram:503": 0}
    assert rows["telegram:501"]["messages_30d"] == 2


def test_the_tenants_keywords_decide(tenant, context):
    import_groups(tenant.tenant_id, "\n".join([HEADER, "tg,电报群,traffic,telegram_bot,,BOT:TOKEN,,-100200,,,,,,,"]),
                  tenants=TenantRepository(), groups=GroupRepository(), secrets=secret_store())
    change_policy(tenant.tenant_id, ["checkin_keywords=Check in, 到"], tenants=TenantRepository())
    now = datetime.now(UTC) - timedelta(minutes=1)
    # GIVEN the tenant's own keywords: the defaults no longer count
    events = [said(tenant, 1, "601", "签到", now), said(tenant, 2, "602", "CHECK IN", now)]
    process_group_events.process(sqs_event(events), context)
    ledger = PointsLedger()
    assert ledger.member(tenant.tenant_id, "telegram:601").earned == 0
    assert ledger.member(tenant.tenant_id, "telegram:602").earned == 5


def test_each_window_queues_its_reply_delayed_until_it_closes(tenant, context):
    import_groups(tenant.tenant_id, "\n".join([HEADER, "tg,电报群,traffic,telegram_bot,,BOT:TOKEN,,-100200,,,,,,,"]),
                  tenants=TenantRepository(), groups=GroupRepository(), secrets=secret_store())
    queued = []
    base = process_group_events.default_deps()
    deps = replace(base, checkins=replace(base.checkins, reply=lambda m, delay: queued.append((m, delay))))
    now = datetime.now(UTC)
    window = int(now.timestamp()) // 60 * 60
    # GIVEN check-ins in two batches of the current window, one replayed, and a plain message
    first = [said(tenant, 1, "701", "签到", now), said(tenant, 2, "702", "hello", now)]
    second = [said(tenant, 3, "703", "打卡", now)]
    for batch in (first, second, first):
        assert process_group_events.process(sqs_event(batch), context, deps) == {"batchItemFailures": []}
    # THEN each batch queued the window's reply (the same push, so the group gets one), received once it closed
    assert {(m.kind, m.group_ids, m.window, m.seconds) for m, _ in queued} == {("checkin_reply", ("tg",), window, 60)}
    assert len(queued) == 3
    assert all(window + 60 - now.timestamp() <= delay <= window + 63 - now.timestamp() + 1 for _, delay in queued)
    # AND with replies off, a check-in queues nothing
    change_policy(tenant.tenant_id, ["checkin_reply=false"], tenants=TenantRepository())
    queued.clear()
    process_group_events.process(sqs_event([said(tenant, 4, "704", "签到", now)]), context, deps)
    assert queued == [] and PointsLedger().member(tenant.tenant_id, "telegram:704").earned == 5


def test_a_batch_reads_the_tenant_once_for_all_its_chats(tenant, context):
    import_groups(tenant.tenant_id, "\n".join([HEADER, "tg,电报群,traffic,telegram_bot,,BOT:TOKEN,,-100200,,,,,,,",
                                               "tg2,电报群2,traffic,telegram_bot,,BOT:TOKEN,,-100300,,,,,,,"]),
                  tenants=TenantRepository(), groups=GroupRepository(), secrets=secret_store())
    reads = []
    base = process_group_events.default_deps()
    deps = replace(base, checkins=replace(base.checkins, tenant=lambda t: reads.append(t) or base.checkins.tenant(t)))
    now = datetime.now(UTC) - timedelta(minutes=1)
    # GIVEN a batch of check-ins in two chats of the tenant
    events = [said(tenant, 1, "801", "签到", now),
              said(tenant, 2, "802", "签到", now).model_copy(update={"chat_id": "-100300"})]
    assert process_group_events.process(sqs_event(events), context, deps) == {"batchItemFailures": []}
    # THEN both are granted, the tenant read once; the next batch reads it again (a keyword change applies there)
    ledger = PointsLedger()
    assert [ledger.member(tenant.tenant_id, m).earned for m in ("telegram:801", "telegram:802")] == [5, 5]
    assert reads == [tenant.tenant_id]
    process_group_events.process(sqs_event(events[:1]), context, deps)
    assert reads == [tenant.tenant_id] * 2
