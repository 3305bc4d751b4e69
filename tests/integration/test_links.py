"""Join links on DynamoDB Local, against fake WeCom and Telegram servers: links made on the platform, joins heard
as signed callbacks through InboundApi into ProcessGroupEvents, attribution on the roster, a WeCom join QR code
rolling over to the group WeCom opens, a member's invite points held, cancelled by a leave and released by the
settle job; and what is refused (revoked and expired links, another tenant's link, an ended flash group,
platforms that do not say which link was used, a bulk file with bad rows)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import inbound_api
import process_group_events
import pytest
from fakes.callbacks import TelegramCallbacks, WecomCallbacks, aes_key
from fakes.telegram import FakeTelegramBot
from fakes.wecom_customer_group import FakeWecomCustomerGroups
from points_support import OnlyTenants
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.link_platforms import LinkPlatforms
from qunyun.adapters.links import LinkStore
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.roster import RosterStore
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.adapters.wecom_members import WecomMembers
from qunyun.domain.errors import InvalidRequest, NotFound, Unprocessable
from qunyun.domain.group_events import GROUP_EVENT
from qunyun.domain.links import credited
from qunyun.services.groups import import_groups
from qunyun.services.inbound import InboundDeps
from qunyun.services.links import InvalidLinkFile, LinkDeps, bulk_links, create_link, list_links, revoke_link
from qunyun.services.tenants import set_wecom_corp
from stream_support import settle  # the stream delivered first: the due pages list what was written
from support import http_event

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
BOT, CHAT = "123:TOKEN", "-100200"
TELEGRAM = TelegramCallbacks("secret-token")
WECOM = WecomCallbacks("wecom-token", aes_key(), "ww1")
KOC = "telegram:1001"  # a top member with a personal link


class Connections:
    """InboundApi's connections, in memory: callbacks are verified as in production, then queued here."""

    def __init__(self):
        self.queued = []

    def get(self, tenant_id, platform):
        return {"telegram": {"bot_token": BOT, "secret_token": "secret-token"},
                "wecom": {"token": WECOM.token, "aes_key": WECOM.aes_key, "corp_id": WECOM.corp_id}}.get(platform)

    def send(self, events):
        self.queued.extend(events)
        return len(events)

    def refused(self, tenant_id, platform, reason):
        raise AssertionError(reason)


def sqs_event(events) -> dict:
    return {"Records": [{"messageId": f"m{n}", "receiptHandle": "r", "body": GROUP_EVENT.dump_json(e).decode(),
                         "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
                         "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q",
                         "awsRegion": "us-east-1"} for n, e in enumerate(events)]}


class World:
    """A tenant with a Telegram and a WeCom group, the fakes, and the callbacks' way to ProcessGroupEvents."""

    def __init__(self, tenant_id: str, telegram: FakeTelegramBot, wecom: FakeWecomCustomerGroups):
        self.tenant_id, self.telegram, self.wecom, self.updates = tenant_id, telegram, wecom, 0
        platforms = LinkPlatforms(secret_store(), wecom.base_url, telegram.base_url)
        tenants = TenantRepository()
        self.deps = LinkDeps(tenant_exists=lambda t: tenants.get(t) is not None, groups=GroupRepository(),
                             links=LinkStore(), platforms=platforms, roster=RosterStore().entries,
                             clock=lambda: datetime.now(UTC))
        joins = process_group_events.link_joins(tenants, PointsLedger())
        joins.deps = replace(joins.deps, wecom_chat=platforms.group_chat)
        self.events = replace(process_group_events.default_deps(), links=joins,
                              wecom_members=WecomMembers(secret_store(), wecom.base_url))

    def deliver(self, platform: str, calls: list) -> dict:
        memory = Connections()
        for call in calls:
            event = http_event(call.method, call.path(platform, self.tenant_id), call.body, call.headers)
            event["pathParameters"] = {"platform": platform, "tenant": self.tenant_id}
            deps = InboundDeps(credentials=memory, queue=memory, refusals=memory, clock=time.time)
            assert inbound_api.process(event, None, deps)["statusCode"] == 200
        return process_group_events.process(sqs_event(memory.queued), None, self.events)

    def chat_member(self, user: int, at: datetime, url: str | None, joined: bool = True):
        self.updates += 1
        person = {"id": user, "is_bot": False, "first_name": f"U{user}"}
        states = ("left", "member") if joined else ("member", "left")
        update = {"chat": {"id": int(CHAT), "type": "supergroup"}, "from": person, "date": int(at.timestamp()),
                  "old_chat_member": {"status": states[0], "user": person},
                  "new_chat_member": {"status": states[1], "user": person}}
        if url:
            update["invite_link"] = {"invite_link": url, "name": "koc", "creator": {"id": 1, "is_bot": True}}
        return TELEGRAM.update({"update_id": self.updates, "chat_member": update})

    def balance(self, member_id: str) -> dict:
        return PointsLedger().member(self.tenant_id, member_id).balance

    def roster(self, group_id: str) -> dict:
        return {e.member_id: e for e in RosterStore().entries(self.tenant_id, group_id)}


@pytest.fixture
def world(tenant):
    with FakeTelegramBot() as telegram, FakeWecomCustomerGroups() as wecom:
        telegram.add_bot(BOT)
        telegram.add_chat(CHAT)
        wecom.add_corp("ww1", "corp-secret")
        wecom.add_owner("owner1", ["wrA"])
        wecom.set_groupchat("wrA", "0", [])
        set_wecom_corp(tenant.tenant_id, "ww1", "corp-secret", tenants=TenantRepository(), secrets=secret_store())
        rows = [HEADER, f"tg,会员群,traffic,telegram_bot,,{BOT},,{CHAT},,,,vip,S9,R9,",
                "store-a,A店1群,store,wecom_customer_group,,,owner1,wrA,,,,vip;north,S1,R1,",
                "fs,飞书群,other,feishu_bot,https://open.feishu.cn/open-apis/bot/v2/hook/x,,,oc_1,,,,,,,",
                "flash-1,快闪群,flash,telegram_bot,,BOT2,,-100300,,,,,,,2026-01-01T20:00:00+08:00"]
        import_groups(tenant.tenant_id, "\n".join(rows), tenants=TenantRepository(), groups=GroupRepository(),
                      secrets=secret_store())
        yield World(tenant.tenant_id, telegram, wecom)


def test_a_members_link_brings_two_friends_and_earns_for_the_one_who_stayed(world):
    # GIVEN a top member's personal Telegram link
    link = create_link(world.tenant_id, "tg", f"member:{KOC}", name="小美的邀请", deps=world.deps)
    assert world.telegram.invite_links[link.url]["name"] == "小美的邀请"
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    # WHEN two friends join through it (the first one's update delivered twice), and the second leaves the next day
    joins = [world.chat_member(2001, t0, link.url), world.chat_member(2002, t0 + timedelta(minutes=1), link.url)]
    assert world.deliver("telegram", [*joins, joins[0]]) == {"batchItemFailures": []}
    roster = world.roster("tg")
    assert {m: (e.link_id, e.link_for) for m, e in roster.items()} == {
        "telegram:2001": (link.link_id, f"member:{KOC}"), "telegram:2002": (link.link_id, f"member:{KOC}")}
    assert (world.balance(KOC)["pending"], world.balance(KOC)["available"]) == (100, 0)
    world.deliver("telegram", [world.chat_member(2002, t0 + timedelta(days=1), None, joined=False)])
    assert (world.balance(KOC)["pending"], world.balance(KOC)["cancelled"]) == (50, 50)
    # AND the one who left comes back through the link: one reward per invitee, and theirs was cancelled
    world.deliver("telegram", [world.chat_member(2002, t0 + timedelta(days=2), link.url)])
    assert world.balance(KOC)["pending"] == 50
    # THEN the settle job after the 3-day hold releases the stayer's points, once
    # (scoped to this test's tenant: the test table holds every test's tenants, and a run counts all it visits)
    ledger, only = PointsLedger(), OnlyTenants(world.tenant_id)
    early = settle(t0 + timedelta(days=2, hours=23), ledger=ledger, tenants=only)
    assert early["invites_released"] == 0
    done = settle(t0 + timedelta(days=3, hours=1), ledger=ledger, tenants=only)
    again = settle(t0 + timedelta(days=3, hours=2), ledger=ledger, tenants=only)
    assert (done["invites_released"], again["invites_released"]) == (1, 0)
    assert {k: world.balance(KOC)[k] for k in ("available", "pending", "cancelled")} == {
        "available": 50, "pending": 0, "cancelled": 50}
    [row] = list_links(world.tenant_id, deps=world.deps)
    assert (row["joins"], row["still_members"], row["for"]) == (2, 2, f"member:{KOC}")


def test_revoked_expired_and_foreign_links_credit_nobody(world, make_tenant):
    # GIVEN a revoked link, a link that expires in two minutes and another tenant's link
    revoked = create_link(world.tenant_id, "tg", f"member:{KOC}", deps=world.deps)
    assert revoke_link(world.tenant_id, revoked.link_id, deps=world.deps).status == "revoked"
    assert world.telegram.invite_links[revoked.url]["is_revoked"]
    soon = datetime.now(UTC) + timedelta(minutes=2)
    expiring = create_link(world.tenant_id, "tg", "campaign:双12", expires_at=soon, limit=10, deps=world.deps)
    assert world.telegram.invite_links[expiring.url]["member_limit"] == 10
    other = make_tenant()
    import_groups(other.tenant_id, "\n".join([HEADER, f"tg,别家,traffic,telegram_bot,,{BOT},,{CHAT},,,,,,,"]),
                  tenants=TenantRepository(), groups=GroupRepository(), secrets=secret_store())
    foreign = create_link(other.tenant_id, "tg", "member:telegram:1", deps=world.deps)
    # WHEN members join naming them: after the revoke (Telegram's dates are whole seconds), after the expiry, and
    # the other tenant's
    now = datetime.now(UTC) + timedelta(seconds=2)
    world.deliver("telegram", [world.chat_member(3001, now, revoked.url),
                               world.chat_member(3002, soon + timedelta(seconds=1), expiring.url),
                               world.chat_member(3003, now, foreign.url)])
    # THEN the roster records the joins, credited to no link, and nobody earns
    roster = world.roster("tg")
    assert {m: (e.status, e.link_id) for m, e in roster.items()} == {
        "telegram:3001": ("member", None), "telegram:3002": ("member", None), "telegram:3003": ("member", None)}
    assert world.balance(KOC)["pending"] == 0 and world.balance("telegram:1")["pending"] == 0
    # AND revoking again changes nothing; the lists say what each link is
    assert revoke_link(world.tenant_id, revoked.link_id, deps=world.deps).status == "revoked"
    rows = {r["link_id"]: r for r in list_links(world.tenant_id, group_id="tg", deps=world.deps)}
    assert (rows[revoked.link_id]["status"], rows[expiring.link_id]["joins"]) == ("revoked", 0)


def test_a_stores_wecom_link_rolls_over_to_the_group_wecom_opens(world, make_tenant):
    # GIVEN a store's join QR code into a group that takes two members
    world.wecom.room_capacity = 2
    link = create_link(world.tenant_id, "store-a", "store:S1", deps=world.deps)
    [way] = world.wecom.join_ways.values()
    assert (way["state"], way["chat_id_list"], way["auto_create_room"], way["scene"]) == (
        link.link_id, ["wrA"], 1, 2)
    assert link.url.startswith("https://wework.qpic.cn/")
    # WHEN three customers scan it: the third finds the group full and WeCom opens a second one
    at = int(time.time()) - 60
    placed = [world.wecom.scan(way["config_id"], f"wm{n}", f"客{n}", at + n) for n in range(3)]
    assert [created for _, created in placed] == [False, False, True]
    room = placed[2][0]
    calls = [WECOM.event(WECOM.change_external_chat("wrA", "add_member", ["wm0"], at, scene="3")),
             WECOM.event(WECOM.change_external_chat("wrA", "add_member", ["wm1"], at + 1, scene="3")),
             WECOM.event(WECOM.change_external_chat(room, "add_member", ["wm2"], at + 2, scene="3"))]
    assert world.deliver("wecom", calls) == {"batchItemFailures": []}
    # THEN each join is credited to the store's link, read back through groupchat/get's state
    assert {m: e.link_for for m, e in world.roster("store-a").items()} == {"wecom:wm0": "store:S1",
                                                                          "wecom:wm1": "store:S1"}
    # AND the new group is registered like the first, with its own chat id, and its member is credited too
    [rolled] = [g for g in GroupRepository().list(world.tenant_id) if g.chat_id == room]
    assert (rolled.kind.value, rolled.tags, rolled.store, rolled.sales_rep, rolled.owner, rolled.name) == (
        "store", ["vip", "north"], "S1", "R1", "owner1", "A店1群2")
    assert {m: e.link_id for m, e in world.roster(rolled.group_id).items()} == {"wecom:wm2": link.link_id}
    [row] = list_links(world.tenant_id, group_id="store-a", deps=world.deps)
    assert (row["groups"], row["joins"], row["still_members"]) == (2, 3, 3)
    assert credited(world.roster(rolled.group_id)["wecom:wm2"].link_for, "S0", "R0") == ("S1", "R0")
    # AND a joiner whose state names another tenant's link is credited to nobody
    other = make_tenant()
    foreign = "lkzzzzzzzz"
    LinkStore().save(replace(link, tenant_id=other.tenant_id, link_id=foreign, ref=foreign))
    version, members = world.wecom.groupchats["wrA"]
    world.wecom.groupchats["wrA"] = (version, [*members, {"userid": "wmX", "join_time": at + 5, "join_scene": 3,
                                                          "state": foreign}])
    world.wecom.room_capacity = 10
    world.deliver("wecom", [WECOM.event(WECOM.change_external_chat("wrA", "add_member", ["wmX"], at + 5,
                                                                   scene="3"))])
    assert world.roster("store-a")["wecom:wmX"].link_id is None
    # AND a leave in a chat no group names costs no groupchat/get and registers nothing
    calls = world.wecom.calls("groupchat/get")
    world.deliver("wecom", [WECOM.event(WECOM.change_external_chat("wrOther", "del_member", ["wm9"], at + 6))])
    assert world.wecom.calls("groupchat/get") == calls
    assert not [g for g in GroupRepository().list(world.tenant_id) if g.chat_id == "wrOther"]
    # AND revoking deletes the join way
    revoke_link(world.tenant_id, link.link_id, deps=world.deps)
    assert world.wecom.join_ways == {} and world.wecom.calls("groupchat/del_join_way") == 1


def test_a_lost_wecom_callback_still_credits_the_link_through_groupchat_get(world):
    # GIVEN a member's WeCom join link, and three customers scanning it, the second one's callback lost
    link = create_link(world.tenant_id, "store-a", "member:u_koc", deps=world.deps)
    [way] = world.wecom.join_ways.values()
    at = int(time.time()) - 60
    for n in range(3):
        world.wecom.scan(way["config_id"], f"wm{n}", f"客{n}", at + n)
    heard = [WECOM.event(WECOM.change_external_chat("wrA", "add_member", [f"wm{n}"], at + n, scene="3",
                                                    versions=(str(n), str(n + 1)))) for n in (0, 2)]
    # WHEN the two callbacks that came are processed (the second's LastMemVer is not the roster's)
    for call in heard:
        assert world.deliver("wecom", [call]) == {"batchItemFailures": []}
    # THEN the roster brought in line with groupchat/get credits all three to the link, and each earns an invite
    assert {m: e.link_id for m, e in world.roster("store-a").items()} == {
        f"wecom:wm{n}": link.link_id for n in range(3)}
    assert world.balance("u_koc")["pending"] == 150
    # AND a newcomer whose leave callback is lost is found gone at the next mismatch: their invite is cancelled
    world.wecom.leave("wrA", "wm1")
    world.wecom.scan(way["config_id"], "wm3", "客3", at + 10)
    world.deliver("wecom", [WECOM.event(WECOM.change_external_chat("wrA", "add_member", ["wm3"], at + 10, scene="3",
                                                                   versions=("4", "5")))])
    assert world.roster("store-a")["wecom:wm1"].status == "left"
    assert (world.balance("u_koc")["pending"], world.balance("u_koc")["cancelled"]) == (150, 50)


def test_links_are_refused_where_they_could_not_tell_who_joined(world):
    cases = [("fs", "store:S1", {}, "links_unsupported"), ("flash-1", "campaign:618", {}, "group_ended"),
             ("nope", "store:S1", {}, "unknown_group"),
             ("tg", "member:telegram:1", {"limit": 100_000}, "invalid_request"),
             ("tg", "shop:S1", {}, "invalid_request"), ("tg", "rep:R1", {"name": "x" * 33}, "invalid_request"),
             ("tg", "rep:R1", {"expires_at": datetime.now(UTC) - timedelta(minutes=1)}, "invalid_request"),
             ("store-a", "rep:R1", {"limit": 5}, "invalid_request")]
    for group, target, extra, code in cases:
        with pytest.raises((Unprocessable, InvalidRequest, NotFound)) as refused:
            create_link(world.tenant_id, group, target, deps=world.deps, **extra)
        assert refused.value.code == code, (group, target, extra)
    with pytest.raises(Unprocessable) as feishu:
        create_link(world.tenant_id, "fs", "store:S1", deps=world.deps)
    assert "never which share link" in feishu.value.message
    assert LinkStore().list(world.tenant_id) == [] and world.telegram.invite_links == {}
    assert world.wecom.join_ways == {}


def test_a_bulk_file_with_bad_rows_creates_nothing_and_names_each(world, tmp_path):
    bad = "group_id,for,name\ntg,member:telegram:1001,小美\nnope,store:S1,\ntg,friend:9,\nfs,store:S1,\n"
    with pytest.raises(InvalidLinkFile) as refused:
        bulk_links(world.tenant_id, bad, deps=world.deps)
    assert [e["line"] for e in refused.value.details["errors"]] == [3, 4, 5]
    assert LinkStore().list(world.tenant_id) == [] and world.telegram.invite_links == {}
    # WHEN the file is fixed, through the CLI
    from qunyun_ops.cli import app
    from qunyun_ops.cli import links as cli
    from typer.testing import CliRunner

    good = tmp_path / "koc.csv"
    good.write_text("group_id,for,name\ntg,member:telegram:1001,小美\ntg,member:telegram:1002,\n", encoding="utf-8")
    original, cli._deps = cli._deps, lambda: world.deps
    try:
        made = CliRunner().invoke(app, ["links", "bulk", str(good), "--tenant", world.tenant_id, "--json"])
        listed = CliRunner().invoke(app, ["links", "list", "--tenant", world.tenant_id, "--json"])
    finally:
        cli._deps = original
    # THEN each row has its link on the platform and in the list
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    assert sorted(r["for"] for r in created) == ["member:telegram:1001", "member:telegram:1002"]
    assert {r["url"] for r in created} == set(world.telegram.invite_links)
    assert {r["link_id"] for r in json.loads(listed.stdout)} == {r["link_id"] for r in created}
