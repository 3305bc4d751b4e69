"""ProcessGroupEvents on DynamoDB Local: rosters that only move forward, activity pages that a redelivered batch
writes once, unmapped chats kept bounded, and WeCom rosters reconciled with groupchat/get after a lost callback."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import process_group_events
import pytest
from inbound_support import sqs_event
from qunyun.adapters.activity import ActivityStore
from qunyun.adapters.community_tables import ActivityPageItem, RosterItem
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.roster import RosterStore
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.adapters.unmapped import UnmappedStore
from qunyun.domain.group_events import Member, MemberJoined, MemberLeft, Message
from qunyun.services.groups import import_groups
from qunyun.services.roster_view import members
from qunyun.services.tenants import set_wecom_corp

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
T0 = datetime(2026, 12, 3, 15, 58, tzinfo=UTC)  # 23:58 in Shanghai: 2 minutes later is the next local day


@pytest.fixture
def groups(tenant):
    rows = [HEADER, "tg,电报群,traffic,telegram_bot,,BOT:TOKEN,,-100200,,,,,,,",
            "wc,客户群,traffic,wecom_customer_group,,,owner1,wrChat1,,,,,,,",
            "tg2,同一聊天的另一个群,traffic,wecom_robot,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k,,,-100200,,,,,,,"]
    import_groups(tenant.tenant_id, "\n".join(rows), tenants=TenantRepository(), groups=GroupRepository(),
                  secrets=secret_store())
    return tenant


def message(tenant, n: int, user: str, at: datetime, chat: str = "-100200", name: str | None = None) -> Message:
    return Message(tenant_id=tenant.tenant_id, platform="telegram", event_id=f"u{n}", chat_id=chat, occurred_at=at,
                   sender=Member(user_id=user, name=name), message_id=str(n), text="hi")


def pages_of(tenant, group: str) -> list[ActivityPageItem]:
    return list(ActivityPageItem.query(f"{tenant.tenant_id}#ACTIVITY#{group}"))


def test_a_redelivered_batch_writes_its_pages_once(groups, context):
    # GIVEN a batch of 300 messages from 3 members of one group, across local midnight, and a join
    events = [message(groups, n, f"u{n % 3}", T0 + timedelta(seconds=n)) for n in range(300)]
    events.append(MemberJoined(tenant_id=groups.tenant_id, platform="telegram", event_id="j1", chat_id="-100200",
                               occurred_at=T0, members=[Member(user_id="u0", name="Ann")], how="link",
                               invite_link="vip"))
    # WHEN it is processed, then delivered again whole, and a part of it once more in a batch of its own
    for batch in (events, events, events[:100]):
        assert process_group_events.process(sqs_event(batch), context) == {"batchItemFailures": []}
    # THEN each local day has one page per distinct batch, and the counts are each message once
    days = sorted({p.sk[:10] for p in pages_of(groups, "tg")})
    assert days == ["2026-12-03", "2026-12-04"]
    assert len(pages_of(groups, "tg")) == 3  # 2 days of the whole batch, 1 day of its first 100 messages
    rows = {r["member_id"]: r for r in members(groups.tenant_id, "tg", date(2026, 12, 4), roster=RosterStore(),
                                               activity=ActivityStore())}
    assert {m: r["messages_30d"] for m, r in rows.items()} == {"telegram:u0": 100, "telegram:u1": 100,
                                                              "telegram:u2": 100}
    assert rows["telegram:u0"]["joined_how"] == "link" and rows["telegram:u0"]["name"] == "Ann"
    assert rows["telegram:u2"]["last_message_at"] == (T0 + timedelta(seconds=299)).isoformat()
    # AND the wecom_robot group with the same chat id is not a Telegram chat's group: nothing recorded there
    assert pages_of(groups, "tg2") == []


def test_the_roster_moves_only_forward(groups, context):
    # GIVEN a leave and the join before it, delivered in the wrong order and each twice
    join = MemberJoined(tenant_id=groups.tenant_id, platform="telegram", event_id="j", chat_id="-100200",
                        occurred_at=T0, members=[Member(user_id="42", name="Bo")], how="invited")
    leave = MemberLeft(tenant_id=groups.tenant_id, platform="telegram", event_id="l", chat_id="-100200",
                       occurred_at=T0 + timedelta(minutes=5), members=[Member(user_id="42")], how="removed")
    for batch in ([leave], [join], [leave, join]):
        process_group_events.process(sqs_event(batch), context)
    # THEN the member is out, removed at the leave's time; the late join moved nothing back
    item = RosterItem.get(f"{groups.tenant_id}#ROSTER#tg", "telegram:42")
    assert (item.status, item.left_how, item.left_at) == ("left", "removed", T0 + timedelta(minutes=5))
    assert item.joined_at is None
    # AND a later join brings them back
    again = join.model_copy(update={"event_id": "j2", "occurred_at": T0 + timedelta(hours=1)})
    process_group_events.process(sqs_event([again]), context)
    assert RosterItem.get(f"{groups.tenant_id}#ROSTER#tg", "telegram:42").status == "member"


def test_an_unmapped_chat_keeps_its_events_once_each(groups, context):
    # GIVEN messages from a chat no group names, one delivered twice
    events = [message(groups, n, "u1", T0, chat="-999") for n in range(3)]
    process_group_events.process(sqs_event(events + events[:1]), context)
    process_group_events.process(sqs_event(events[:1]), context)
    # THEN the chat is listed with 3 events, each kept once, and no roster or activity anywhere
    store = UnmappedStore()
    now = datetime.now(UTC)
    [chat] = store.chats(groups.tenant_id, now)
    assert (chat.platform, chat.chat_id, chat.event_count) == ("telegram", "-999", 3)
    assert sorted(e.event_id for e in store.events(groups.tenant_id, "telegram", "-999", now)) == ["u0", "u1", "u2"]
    assert pages_of(groups, "tg") == []


def test_a_missed_wecom_member_version_reconciles_with_groupchat_get(groups, context, monkeypatch):
    from fakes.wecom_customer_group import FakeWecomCustomerGroups
    from qunyun.adapters.wecom_members import WecomMembers

    with FakeWecomCustomerGroups() as wecom:
        wecom.add_corp("ww1", "corp-secret-1")
        set_wecom_corp(groups.tenant_id, "ww1", "corp-secret-1", tenants=TenantRepository(), secrets=secret_store())
        deps = replace(process_group_events.default_deps(), wecom_members=WecomMembers(secret_store(), wecom.base_url))

        def joined(user: str, at: datetime, versions: tuple[str, str]) -> MemberJoined:
            return MemberJoined(tenant_id=groups.tenant_id, platform="wecom", event_id=f"e-{user}", chat_id="wrChat1",
                                occurred_at=at, members=[Member(user_id=user)], how="qr", member_version=versions)

        # GIVEN a join at version v1 → v2, then one at v3 → v4: the callback of v2 → v3 was lost
        process_group_events.process(sqs_event([joined("wmA", T0, ("v1", "v2"))]), context, deps)
        assert wecom.calls("groupchat/get") == 0
        wecom.set_groupchat("wrChat1", "v4", [
            {"userid": "wmB", "join_time": int(T0.timestamp()) + 60, "join_scene": 2, "name": "Bea"},
            {"userid": "wmC", "join_time": int(T0.timestamp()) + 120, "join_scene": 3, "name": "Cy"}])
        process_group_events.process(sqs_event([joined("wmC", T0 + timedelta(minutes=3), ("v3", "v4"))]), context,
                                     deps)
    # THEN groupchat/get was read once and the roster says what WeCom lists: A gone, B joined by link, C by QR
    assert wecom.calls("groupchat/get") == 1
    rows = {r["member_id"]: r for r in members(groups.tenant_id, "wc", date(2026, 12, 4), roster=RosterStore(),
                                               activity=ActivityStore())}
    assert rows["wecom:wmA"]["left_how"] == "unknown"
    assert (rows["wecom:wmB"]["joined_how"], rows["wecom:wmB"]["name"]) == ("link", "Bea")
    assert rows["wecom:wmB"]["joined_at"] == (T0 + timedelta(seconds=60)).isoformat()
    assert rows["wecom:wmC"]["joined_how"] == "qr" and rows["wecom:wmC"]["left_at"] is None


def test_importing_the_group_later_maps_the_chat(groups, context):
    from qunyun.adapters.chats import ChatDirectory

    deps = replace(process_group_events.default_deps(), directory=ChatDirectory(seconds=0))
    # GIVEN a message from a chat no group names yet
    process_group_events.process(sqs_event([message(groups, 1, "u1", T0, chat="-300")]), context, deps)
    assert [c.chat_id for c in UnmappedStore().chats(groups.tenant_id, datetime.now(UTC))] == ["-300"]
    # WHEN a group with that chat id is imported, and the chat speaks again
    import_groups(groups.tenant_id, "\n".join([HEADER, "late,后来的群,traffic,telegram_bot,,BOT:3,,-300,,,,,,,"]),
                  tenants=TenantRepository(), groups=GroupRepository(), secrets=secret_store())
    process_group_events.process(sqs_event([message(groups, 2, "u1", T0 + timedelta(seconds=5), chat="-300")]),
                                 context, deps)
    # THEN the new message is the group's activity, and the unmapped chat still counts only the first
    assert [p.messages.split("\t")[0] for p in pages_of(groups, "late")] == ["2"]
    assert [c.event_count for c in UnmappedStore().chats(groups.tenant_id, datetime.now(UTC))] == [1]
