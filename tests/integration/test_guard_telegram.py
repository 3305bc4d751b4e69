"""Telegram's deleteMessages in the guard: a batch's offending messages of a chat deleted in one call (100 ids at
most a call), against a fake that answers as the Bot API documents: 1-100 positive ids, those it cannot find
skipped."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx
import test_guard
from fakes.telegram import FakeTelegramBot
from inbound_support import BOT, CHAT
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.guard_groups import GuardPlatforms
from qunyun.adapters.guard_rules import GuardRulesStore
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.channels.moderation import Moderation, ModTarget
from qunyun.domain.guard_rules import GroupRules
from qunyun.services.groups import import_groups
from qunyun.services.guard_rules import set_rules
from test_guard import T0

world, telegram = test_guard.world, test_guard.telegram  # the guard's fixtures


def calls(fake: FakeTelegramBot, method: str) -> list:
    return [r.json() for r in fake.requests if r.path.endswith(f"/{method}")]


def test_a_batchs_offending_messages_of_a_chat_are_deleted_in_one_call(world, telegram):
    # WHEN three members post ads in one batch, among other messages
    world.batch((7, "加微信", T0), (8, "早上好", T0), (8, "刷单", T0 + timedelta(seconds=1)),
                (9, "cheap at https://rival.cn", T0 + timedelta(seconds=2)))
    # THEN one deleteMessages call deletes the three, and no message one by one
    assert calls(telegram, "deleteMessages") == [{"chat_id": CHAT, "message_ids": [1, 3, 4]}]
    assert calls(telegram, "deleteMessage") == [] and telegram.deleted == [(CHAT, "1"), (CHAT, "3"), (CHAT, "4")]
    assert [a.status for a in world.actions("delete")] == ["done"] * 3


def test_more_than_100_messages_take_a_call_a_hundred_and_a_refusal_is_each_ones():
    with FakeTelegramBot() as fake:
        fake.add_bot(BOT)
        fake.add_chat(CHAT)
        target = ModTarget("telegram", CHAT, BOT)
        outcomes = Moderation(fake.base_url).delete_many(target, [str(i) for i in range(1, 151)])
        assert all(o.ok for o in outcomes) and len(outcomes) == 150
        assert [len(c["message_ids"]) for c in calls(fake, "deleteMessages")] == [100, 50]
        assert len(fake.deleted) == 150
        fake.refuse("deleteMessages", "message can't be deleted")
        refused = Moderation(fake.base_url).delete_many(target, ["151", "152"])
        assert [o.ok for o in refused] == [False, False] and "can't be deleted" in refused[0].reason


def test_the_fake_answers_deletemessages_as_the_bot_api_does():
    with FakeTelegramBot() as fake:
        fake.add_bot(BOT)
        fake.add_chat(CHAT)

        def ask(body: dict) -> dict:
            return httpx.post(f"{fake.base_url}/bot{BOT}/deleteMessages", json=body).json()

        assert ask({"chat_id": CHAT})["description"] == "Bad Request: message identifiers are not specified"
        assert ask({"chat_id": CHAT, "message_ids": []})["description"] == \
            "Bad Request: message identifiers are not specified"
        assert ask({"chat_id": CHAT, "message_ids": 5})["description"] == \
            "Bad Request: expected an Array of message identifiers"
        assert ask({"chat_id": CHAT, "message_ids": list(range(1, 102))})["description"] == \
            "Bad Request: too many message identifiers specified"
        assert ask({"chat_id": CHAT, "message_ids": [3, 0]})["description"] == \
            "Bad Request: invalid message identifier specified"
        assert ask({"chat_id": "-999", "message_ids": [3]})["description"] == "Bad Request: chat not found"
        assert fake.deleted == []
        # a message already deleted (or unknown) is skipped, the call still succeeds
        assert ask({"chat_id": CHAT, "message_ids": [3, 4]}) == {"ok": True, "result": True}
        assert ask({"chat_id": CHAT, "message_ids": [4, 5]}) == {"ok": True, "result": True}
        assert fake.deleted == [(CHAT, "3"), (CHAT, "4"), (CHAT, "5")]


def _six_groups(tenant, telegram) -> list[str]:
    """Six Telegram groups of the tenant (one bot), with the guard's rules."""
    chats = [str(int(CHAT) - k) for k in range(1, 7)]
    rows = [f"g{k},群{k},traffic,telegram_bot,,{BOT},,{chat},,,,,,," for k, chat in enumerate(chats)]
    import_groups(tenant.tenant_id, "\n".join([test_guard.HEADER, *rows]), tenants=TenantRepository(),
                  groups=GroupRepository(), secrets=secret_store())
    set_rules(tenant.tenant_id, GroupRules.model_validate(test_guard.RULES), datetime.now(UTC),
              store=GuardRulesStore())
    for chat in chats:
        telegram.add_chat(chat)
    return chats


def _ads(chats: list[str]) -> list[dict]:
    return [{"message": {"date": int(T0.timestamp()), "text": "加微信", "from": {"id": 7, "first_name": "U7"},
                         "chat": {"id": int(chat), "type": "supergroup"}}} for chat in chats]


def test_a_batchs_groups_are_guarded_side_by_side_each_as_alone(tenant, telegram):
    # GIVEN six groups, and a member posting an ad in each within one batch
    chats = _six_groups(tenant, telegram)
    world = test_guard.World(tenant.tenant_id, telegram)
    assert world.updates_batch(*_ads(chats)) == {"batchItemFailures": []}
    # THEN every group has its message deleted and its own warning (the offences count per group: no removal)
    assert sorted(telegram.deleted) == sorted((chat, str(n)) for n, chat in enumerate(chats, start=1))
    assert sorted(w.chat_id for w in telegram.received) == sorted(chats) and telegram.bans == []
    assert [a.status for a in world.actions("delete")] == ["done"] * 6
    assert [a.status for a in world.actions("warn")] == ["done"] * 6


def test_a_group_that_fails_comes_back_alone_while_the_others_finish(tenant, telegram):
    chats = _six_groups(tenant, telegram)

    class Failing(GuardPlatforms):
        def post(self, group, text):
            if group.chat_id == chats[2]:
                raise RuntimeError("the platform client broke")
            return super().post(group, text)
    world = test_guard.World(tenant.tenant_id, telegram, Failing(Moderation(telegram.base_url)))
    # WHEN one group's warning raises in the middle of a batch of six groups' ads
    failures = world.updates_batch(*_ads(chats))["batchItemFailures"]
    # THEN only that group's message comes back for a retry; the other five are deleted and warned
    assert failures == [{"itemIdentifier": "m2"}]
    assert sorted(w.chat_id for w in telegram.received) == sorted(chats[:2] + chats[3:])
    assert sorted(a.status for a in world.actions("warn")) == ["done"] * 5 + ["intended"]


def test_after_the_first_group_the_others_run_at_once(tenant, telegram):
    chats = _six_groups(tenant, telegram)
    meet = threading.Barrier(2, timeout=5)

    class Meeting(GuardPlatforms):
        def delete_many(self, group, message_ids):
            if group.chat_id in chats[1:3]:  # two groups after the first: each waits until the other is here
                meet.wait()
            return super().delete_many(group, message_ids)
    world = test_guard.World(tenant.tenant_id, telegram, Meeting(Moderation(telegram.base_url)))
    # THEN the two meet (one after the other, the barrier would break after 5 s and their messages come back)
    assert world.updates_batch(*_ads(chats)) == {"batchItemFailures": []}
    assert not meet.broken and len(telegram.deleted) == 6
