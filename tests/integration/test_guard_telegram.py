"""Telegram's deleteMessages in the guard: a batch's offending messages of a chat deleted in one call (100 ids at
most a call), against a fake that answers as the Bot API documents: 1-100 positive ids, those it cannot find
skipped."""

from __future__ import annotations

from datetime import timedelta

import httpx
import test_guard
from fakes.telegram import FakeTelegramBot
from inbound_support import BOT, CHAT
from qunyun.channels.moderation import Moderation, ModTarget
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
