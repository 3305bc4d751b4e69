"""Every channel client against a local fake of its platform (tests/fakes): delivery, size limits, signatures,
rate limits, outages, revoked credentials, and the WeCom customer-group task flow."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket

import pytest
from fakes.base import Answer, FakeClock
from fakes.bridge import FakeBridge
from fakes.dingtalk import FakeDingtalkRobot
from fakes.feishu import FakeFeishuBot
from fakes.slack import FakeSlackWebhook
from fakes.telegram import FakeTelegramBot
from fakes.wecom_customer_group import FakeWecomCustomerGroups
from fakes.wecom_robot import FakeWecomRobot
from qunyun.channels import Outcome, channel
from qunyun.channels.dingtalk_robot import DingtalkRobot
from qunyun.channels.feishu_bot import FeishuBot
from qunyun.channels.outbox import FileOutbox, MemoryOutbox, Outbox
from qunyun.channels.result import Message, Target
from qunyun.channels.signed_webhook import SignedWebhook
from qunyun.channels.slack_webhook import SlackWebhook
from qunyun.channels.telegram_bot import TelegramBot
from qunyun.channels.wecom_customer_group import TokenCache, WecomCustomerGroups
from qunyun.channels.wecom_robot import WecomRobot

SHORT = Message("**早安** 今日签到领积分：[签到](https://example.com/checkin)", title="早安 · 11月25日")


def brief(paragraphs: int, link: bool = True) -> str:
    """A long Chinese brief: numbered paragraphs with links, bold text and a little English."""
    para = ("第{i}条：**今日要闻**，社群日活提升到 25%，详情见 [文章](https://example.com/a/{i})。"
            if link else "第{i}条：今日要闻，社群日活提升到 25%，会员签到领积分，晚上八点半有知识问答。")
    return "\n\n".join(para.format(i=i) * 4 for i in range(paragraphs))


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture
def clock():
    return FakeClock()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- WeCom group robot ---------------------------------------------------------------------------------------------


@pytest.fixture
def wecom(clock):
    with FakeWecomRobot(clock) as fake:
        yield fake


def test_wecom_robot_delivers_markdown(wecom):
    # GIVEN a robot in an internal group
    target = Target(webhook_url=wecom.add_robot("k-1"))
    # WHEN a short brief is sent
    result = WecomRobot(wecom.base_url).send(target, SHORT)
    # THEN it arrives once, as markdown, exactly as rendered
    assert result.outcome is Outcome.delivered and result.delivered_parts == 1
    assert [(r.key, r.msgtype, r.content) for r in wecom.received] == [("k-1", "markdown", SHORT.text)]


def test_wecom_robot_splits_five_times_the_limit_into_messages_within_4096_bytes(wecom):
    # GIVEN a brief five times WeCom's 4096-byte markdown limit
    text = brief(60)
    assert len(text.encode()) > 5 * 4096
    # WHEN it is sent
    result = WecomRobot(wecom.base_url).send(Target(webhook_url=wecom.add_robot("k-1")), Message(text))
    # THEN it arrives as several messages, each within the limit, nothing lost or reordered, no link cut
    assert result.ok and result.parts >= 6
    contents = [r.content for r in wecom.received]
    assert contents == list(result.texts)
    assert all(len(c.encode()) <= 4096 for c in contents)
    assert squeeze("".join(contents)) == squeeze(text)
    assert all(c.count("[文章](") == c.count(")。") for c in contents)  # every link whole


def test_wecom_robot_trims_past_ten_messages_with_a_read_more_link(wecom):
    # GIVEN a brief that would take far more than ten messages
    text = brief(200)
    message = Message(text, read_more_url="https://example.com/briefs/1125")
    # WHEN it is sent
    result = WecomRobot(wecom.base_url).send(Target(webhook_url=wecom.add_robot("k-1")), message)
    # THEN ten messages arrive and the last one ends with the link to the full brief
    assert result.ok and len(wecom.received) == 10
    assert wecom.received[-1].content.endswith("…\n\n[阅读全文](https://example.com/briefs/1125)")
    assert all(len(r.content.encode()) <= 4096 for r in wecom.received)


def test_wecom_robot_rate_limit_is_transient_with_a_minute_to_wait(wecom, clock):
    # GIVEN a robot that already sent 20 messages this minute
    target = Target(webhook_url=wecom.add_robot("k-1"))
    robot = WecomRobot(wecom.base_url)
    assert all(robot.send(target, Message(f"第{i}条")).ok for i in range(20))
    # WHEN the 21st is sent
    result = robot.send(target, Message("第21条"))
    # THEN WeCom's 45009 is a transient failure to retry after the minute, and after it the message goes
    assert (result.outcome, result.code, result.retry_after) == (Outcome.transient, "45009", 60.0)
    clock.advance(60)
    assert robot.send(target, Message("第21条")).ok
    assert len(wecom.received) == 21


def test_wecom_robot_forced_45009_for_a_minute_then_recovers(wecom, clock):
    # GIVEN WeCom answers 45009 for the next 60 seconds
    target = Target(webhook_url=wecom.add_robot("k-1"))
    wecom.throttle(60)
    robot = WecomRobot(wecom.base_url)
    # WHEN a message is sent now, and again a minute later
    first = robot.send(target, SHORT)
    clock.advance(61)
    second = robot.send(target, SHORT)
    # THEN the first is transient and the second is delivered
    assert (first.outcome, first.retry_after) == (Outcome.transient, 60.0)
    assert second.ok and len(wecom.received) == 1


def test_wecom_robot_resumes_a_split_message_after_the_part_that_failed(wecom, clock):
    # GIVEN a robot with room for only two more messages this minute, and a brief of several parts
    target = Target(webhook_url=wecom.add_robot("k-1"))
    robot = WecomRobot(wecom.base_url)
    for i in range(18):
        robot.send(target, Message(f"filler {i}"))
    message = Message(brief(30))
    # WHEN it is sent, fails on the third part, and is retried from there after the minute
    first = robot.send(target, message)
    clock.advance(60)
    second = robot.send(target, message, first_part=first.delivered_parts)
    # THEN every part reached the group exactly once, in order
    assert (first.outcome, first.delivered_parts) == (Outcome.transient, 2)
    assert second.ok and second.delivered_parts == second.parts
    assert [r.content for r in wecom.received[18:]] == list(second.texts)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_wecom_robot_5xx_is_transient_with_retry_after_when_given(wecom, status):
    # GIVEN WeCom answers 5xx with a Retry-After header
    target = Target(webhook_url=wecom.add_robot("k-1"))
    wecom.fail_http(status, 30, {"Retry-After": "17"})
    # WHEN a message is sent
    result = WecomRobot(wecom.base_url).send(target, SHORT)
    # THEN it is a transient failure that says when to retry
    assert (result.outcome, result.code, result.retry_after) == (Outcome.transient, f"http_{status}", 17.0)
    assert wecom.received == []


def test_wecom_robot_timeout_is_transient(wecom):
    # GIVEN WeCom takes longer to answer than the client waits
    target = Target(webhook_url=wecom.add_robot("k-1"))
    wecom.stall(2.0)
    # WHEN a message is sent with a short timeout
    result = WecomRobot(wecom.base_url, timeout=0.3).send(target, SHORT)
    # THEN it is a transient failure, not an exception
    assert (result.outcome, result.code) == (Outcome.transient, "timeout")


def test_unreachable_platform_is_transient_and_the_key_stays_out_of_the_detail():
    # GIVEN nothing listens at the configured base URL
    robot = WecomRobot(f"http://127.0.0.1:{closed_port()}", timeout=1)
    # WHEN a message is sent
    result = robot.send(Target(webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=s3cret-key"), SHORT)
    # THEN it is transient and says nothing of the key
    assert (result.outcome, result.code) == (Outcome.transient, "connection_error")
    assert "s3cret-key" not in repr(result)


def test_wecom_robot_revoked_key_is_permanent(wecom):
    # GIVEN the robot was removed from the group
    target = Target(webhook_url=wecom.add_robot("k-1"))
    wecom.revoke("k-1")
    # WHEN a message is sent
    result = WecomRobot(wecom.base_url).send(target, SHORT)
    # THEN the channel is broken: a permanent failure with WeCom's code
    assert (result.outcome, result.code) == (Outcome.permanent, "93000")


def test_wecom_robot_goes_to_the_configured_host_whatever_host_the_csv_url_names(wecom):
    # GIVEN a group whose webhook URL names the real WeCom host (as operators paste it)
    wecom.add_robot("k-9")
    target = Target(webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-9")
    # WHEN the channel is built from settings pointing at the fake
    result = WecomRobot(wecom.base_url).send(target, SHORT)
    # THEN the key is used at the configured host
    assert result.ok and wecom.received[0].key == "k-9"


def test_fake_wecom_refuses_markdown_over_4096_bytes(wecom):
    # GIVEN a client that does not split (WeCom's own limit is what is under test)
    import httpx

    key = "k-1"
    wecom.add_robot(key)
    # WHEN 4097 bytes of markdown are posted directly
    body = {"msgtype": "markdown", "markdown": {"content": "好" * 1365 + "ab"}}
    answer = httpx.post(f"{wecom.base_url}/cgi-bin/webhook/send?key={key}", json=body).json()
    # THEN the fake answers as WeCom does
    assert answer["errcode"] == 40058 and wecom.received == []


# --- Feishu ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def feishu(clock):
    with FakeFeishuBot(clock) as fake:
        yield fake


def test_feishu_signed_post_is_delivered(feishu, clock):
    # GIVEN a bot with signing enabled
    target = Target(webhook_url=feishu.add_bot("tok-1", secret="SECabc"), secret="SECabc")
    # WHEN a titled message with a link is sent
    result = FeishuBot(feishu.base_url, clock=clock).send(target, SHORT)
    # THEN the fake verified the signature and shows the text, the link as a link element
    assert result.ok
    [got] = feishu.received
    assert got.msg_type == "post" and got.content["post"]["zh_cn"]["title"] == SHORT.title
    assert {"tag": "a", "text": "签到", "href": "https://example.com/checkin"} in got.content["post"]["zh_cn"][
        "content"][0]
    assert got.text == "**早安** 今日签到领积分：签到"


def test_feishu_wrong_secret_is_permanent_19021(feishu, clock):
    # GIVEN the group's secret is not the bot's
    target = Target(webhook_url=feishu.add_bot("tok-1", secret="right"), secret="wrong")
    # WHEN a message is sent
    result = FeishuBot(feishu.base_url, clock=clock).send(target, Message("hello"))
    # THEN the bad signature is a permanent failure
    assert (result.outcome, result.code) == (Outcome.permanent, "19021") and feishu.received == []


def test_feishu_signature_older_than_an_hour_is_refused(feishu, clock):
    # GIVEN our clock is two hours behind Feishu's
    target = Target(webhook_url=feishu.add_bot("tok-1", secret="s"), secret="s")
    late = FakeClock(clock() - 7200)
    # WHEN a message is sent
    result = FeishuBot(feishu.base_url, clock=late).send(target, Message("hello"))
    # THEN Feishu refuses the timestamp with 19021
    assert (result.outcome, result.code) == (Outcome.permanent, "19021")


def test_feishu_signature_matches_the_documented_recipe():
    # GIVEN channels.md's recipe computed by hand: the key is timestamp + "\n" + secret, the message empty
    expected = base64.b64encode(hmac.new(b"1700000000\nsecret", b"", hashlib.sha256).digest()).decode()
    # THEN the client signs the same way
    from qunyun.channels.feishu_bot import sign

    assert sign("1700000000", "secret") == expected


def test_feishu_throttle_is_transient(feishu, clock):
    # GIVEN a bot that sent 5 messages this second
    target = Target(webhook_url=feishu.add_bot("tok-1"))
    bot = FeishuBot(feishu.base_url, clock=clock)
    assert all(bot.send(target, Message(f"m{i}")).ok for i in range(5))
    # WHEN a sixth is sent in the same second, and another a second later
    sixth = bot.send(target, Message("m5"))
    clock.advance(1)
    later = bot.send(target, Message("m5"))
    # THEN the sixth is throttled (11232) with a retry-after, the later one goes
    assert (sixth.outcome, sixth.code) == (Outcome.transient, "11232") and sixth.retry_after > 0
    assert later.ok and len(feishu.received) == 6


def test_feishu_body_stays_within_20_kb(feishu, clock):
    # GIVEN a brief whose text alone is over one and a half times Feishu's 20 KB body limit
    text = brief(80)
    assert len(text.encode()) > 1.5 * 20 * 1024
    target = Target(webhook_url=feishu.add_bot("tok-1", secret="s"), secret="s")
    # WHEN it is sent as a post
    result = FeishuBot(feishu.base_url, clock=clock).send(target, Message(text, title="早报"))
    # THEN every request body is within 20 KB and all of the text arrived
    assert result.ok and result.parts >= 3
    assert all(len(r.body) <= 20 * 1024 for r in feishu.requests)
    assert squeeze("".join(r.text for r in feishu.received)) == squeeze(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1",
                                                                              text))


def test_feishu_revoked_token_and_missing_keyword_are_permanent(feishu, clock):
    # GIVEN one bot removed and one that requires a keyword
    gone = Target(webhook_url=feishu.add_bot("tok-1"))
    feishu.revoke("tok-1")
    picky = Target(webhook_url=feishu.add_bot("tok-2", keywords=("群运",)))
    bot = FeishuBot(feishu.base_url, clock=clock)
    # WHEN messages are sent to both
    # THEN each fails permanently with Feishu's code
    removed, unkeyed = bot.send(gone, Message("hi")), bot.send(picky, Message("hi"))
    assert (removed.outcome, removed.code) == (Outcome.permanent, "19001")
    assert (unkeyed.outcome, unkeyed.code) == (Outcome.permanent, "19024")
    assert bot.send(picky, Message("群运早报")).ok


# --- DingTalk --------------------------------------------------------------------------------------------------------


@pytest.fixture
def dingtalk(clock):
    with FakeDingtalkRobot(clock) as fake:
        yield fake


def test_dingtalk_signed_markdown_is_delivered_even_when_the_sign_holds_a_plus(dingtalk, clock):
    # GIVEN a moment whose signature contains '+', which only survives if it is URL-encoded
    from fakes.dingtalk import expected_sign

    while "+" not in expected_sign(str(int(clock() * 1000)), "SECxyz"):
        clock.advance(0.001)
    target = Target(webhook_url=dingtalk.add_robot("at-1", secret="SECxyz"), secret="SECxyz")
    # WHEN a message is sent
    result = DingtalkRobot(dingtalk.base_url, clock=clock).send(target, SHORT)
    # THEN DingTalk verified it and shows the markdown with its title
    assert result.ok
    assert [(r.msgtype, r.title, r.text) for r in dingtalk.received] == [("markdown", SHORT.title, SHORT.text)]
    assert "%2B" in dingtalk.requests[0].raw_path


def test_dingtalk_wrong_secret_is_permanent(dingtalk, clock):
    target = Target(webhook_url=dingtalk.add_robot("at-1", secret="right"), secret="wrong")
    result = DingtalkRobot(dingtalk.base_url, clock=clock).send(target, SHORT)
    assert (result.outcome, result.code) == (Outcome.permanent, "310000") and dingtalk.received == []


def test_dingtalk_over_20_a_minute_is_throttled_for_ten_minutes(dingtalk, clock):
    # GIVEN a robot that sent 20 messages this minute
    target = Target(webhook_url=dingtalk.add_robot("at-1", secret="s"), secret="s")
    robot = DingtalkRobot(dingtalk.base_url, clock=clock)
    assert all(robot.send(target, Message(f"第{i}条")).ok for i in range(20))
    # WHEN it sends a 21st, again after a minute, and again after ten minutes
    over = robot.send(target, Message("第21条"))
    clock.advance(61)
    still = robot.send(target, Message("第21条"))
    clock.advance(600)
    after = robot.send(target, Message("第21条"))
    # THEN it is transient with the 10-minute throttle as retry-after, and only then delivered
    assert (over.outcome, over.code, over.retry_after) == (Outcome.transient, "130101", 600.0)
    assert still.outcome is Outcome.transient and after.ok


def test_dingtalk_revoked_robot_is_permanent(dingtalk, clock):
    target = Target(webhook_url=dingtalk.add_robot("at-1"))
    dingtalk.revoke("at-1")
    result = DingtalkRobot(dingtalk.base_url, clock=clock).send(target, SHORT)
    assert (result.outcome, result.code) == (Outcome.permanent, "300001")


def test_dingtalk_long_markdown_is_split_within_4096_bytes(dingtalk, clock):
    target = Target(webhook_url=dingtalk.add_robot("at-1", secret="s"), secret="s")
    text = brief(20)
    result = DingtalkRobot(dingtalk.base_url, clock=clock).send(target, Message(text, title="早报"))
    assert result.ok and result.parts > 1
    assert all(len(r.text.encode()) <= 4096 and r.title == "早报" for r in dingtalk.received)
    assert squeeze("".join(r.text for r in dingtalk.received)) == squeeze(text)


# --- Slack -----------------------------------------------------------------------------------------------------------


@pytest.fixture
def slack(clock):
    with FakeSlackWebhook(clock) as fake:
        yield fake


def test_slack_long_text_is_one_message_of_sections_trimmed_with_a_link(slack):
    # GIVEN mrkdwn text of 50,000 characters
    text = "\n\n".join(f"*Item {i}* — see <https://example.com/{i}|the article> for details. " * 3
                       for i in range(220))
    assert len(text) > 40_000
    message = Message(text, read_more_url="https://example.com/full")
    # WHEN it is sent
    result = SlackWebhook(slack.base_url).send(Target(webhook_url=slack.add_webhook()), message)
    # THEN Slack gets one message: text within 40,000, sections within 3,000, ending with the link
    assert result.ok and len(slack.received) == 1
    got = slack.received[0]
    assert len(got.text) <= 40_000 and got.text.endswith("<https://example.com/full|阅读全文>")
    assert all(len(s) <= 3000 for s in got.sections) and squeeze("".join(got.sections)) == squeeze(got.text)


def test_slack_second_message_within_a_second_is_429_with_retry_after(slack, clock):
    target = Target(webhook_url=slack.add_webhook())
    hook = SlackWebhook(slack.base_url)
    assert hook.send(target, Message("one")).ok
    result = hook.send(target, Message("two"))
    assert (result.outcome, result.code, result.retry_after) == (Outcome.transient, "http_429", 1.0)
    clock.advance(1)
    assert hook.send(target, Message("two")).ok


def test_slack_revoked_and_unknown_webhooks_are_permanent(slack):
    hook = SlackWebhook(slack.base_url)
    revoked = Target(webhook_url=slack.add_webhook("T1/B1/X1"))
    slack.revoke("T1/B1/X1")
    result = hook.send(revoked, SHORT)
    assert (result.outcome, result.code) == (Outcome.permanent, "invalid_token")
    unknown = Target(webhook_url="https://hooks.slack.com/services/T9/B9/nope")
    assert hook.send(unknown, SHORT).code == "no_service"


def test_slack_500_is_transient(slack):
    target = Target(webhook_url=slack.add_webhook())
    slack.fail_http(500, 10)
    assert SlackWebhook(slack.base_url).send(target, SHORT).outcome is Outcome.transient


# --- Telegram --------------------------------------------------------------------------------------------------------


@pytest.fixture
def telegram(clock):
    with FakeTelegramBot(clock) as fake:
        fake.add_bot("123:ABC")
        fake.add_chat("-1001")
        yield fake


TG = Target(secret="123:ABC", chat_id="-1001")


def test_telegram_long_html_is_split_with_balanced_tags_and_returns_message_ids(telegram):
    # GIVEN HTML five times Telegram's 4096 characters, with tags and entities throughout
    text = "\n\n".join(f"<b>第{i}条</b> 今日要闻 &amp; 小贴士：<a href=\"https://example.com/{i}\">阅读</a>。" * 12
                       for i in range(60))
    assert len(text) > 5 * 4096
    # WHEN it is sent
    result = TelegramBot(telegram.base_url).send(TG, Message(text))
    # THEN five messages arrive (a group's minute allows 20), each parsed by Telegram (no tag cut in two) and
    # within 4096 characters, each with its id; the last is trimmed with an ellipsis
    assert result.ok and result.parts == 5 and len(telegram.received) == 5
    assert telegram.received[-1].text.endswith("…")
    assert result.message_ids == tuple(str(r.message_id) for r in telegram.received)
    assert all(len(r.text) <= 4096 for r in telegram.received)


def test_telegram_group_limit_is_429_with_retry_after(telegram):
    # GIVEN a group that received 20 messages this minute
    bot = TelegramBot(telegram.base_url)
    assert all(bot.send(TG, Message(f"m{i}")).ok for i in range(20))
    # WHEN a 21st is sent
    result = bot.send(TG, Message("m20"))
    # THEN it is transient with Telegram's parameters.retry_after
    assert (result.outcome, result.code, result.retry_after) == (Outcome.transient, "429", 60.0)


def test_telegram_forced_retry_after_is_passed_on(telegram):
    telegram.throttle(retry_after=7)
    result = TelegramBot(telegram.base_url).send(TG, SHORT)
    assert (result.outcome, result.retry_after) == (Outcome.transient, 7.0)


def test_telegram_revoked_token_and_kicked_bot_are_permanent(telegram):
    bot = TelegramBot(telegram.base_url)
    telegram.kick("-1001")
    kicked = bot.send(TG, SHORT)
    telegram.revoke("123:ABC")
    revoked = bot.send(TG, SHORT)
    assert (kicked.outcome, kicked.code) == (Outcome.permanent, "403")
    assert (revoked.outcome, revoked.code) == (Outcome.permanent, "401")


def test_fake_telegram_refuses_what_telegram_refuses(telegram):
    import httpx

    url = f"{telegram.base_url}/bot123:ABC/sendMessage"
    too_long = httpx.post(url, json={"chat_id": "-1001", "text": "好" * 4097})
    broken = httpx.post(url, json={"chat_id": "-1001", "text": "<b>bold", "parse_mode": "HTML"})
    assert (too_long.status_code, too_long.json()["description"]) == (400, "Bad Request: message is too long")
    assert broken.status_code == 400 and "can't parse entities" in broken.json()["description"]


# --- signed webhook and outbox ---------------------------------------------------------------------------------------


def test_signed_webhook_is_signed_like_api_md_and_carries_the_key(clock):
    with FakeBridge("bridge-secret", clock) as bridge:
        # GIVEN a bridge that checks qunyun's signature itself
        target = Target(webhook_url=bridge.url, secret="bridge-secret", tenant_id="t1", group_id="g1")
        hook = SignedWebhook(clock=clock)
        message = Message("早安", title="早报", key="brief:2026-11-25:morning:g1")
        # WHEN a message is sent twice with the same key
        first, again = hook.send(target, message), hook.send(target, message)
        # THEN it verified, and the bridge could drop the repeat by its key
        assert first.ok and first.message_ids == ("b-1",) and again.ok
        [got] = bridge.received
        assert (got["tenant"], got["group_id"], got["text"], got["key"]) == ("t1", "g1", "早安", message.key)
        assert got["format"] == "text"  # briefs for signed webhooks render in the plain-text dialect


def test_signed_webhook_wrong_secret_is_permanent_and_outage_transient(clock):
    with FakeBridge("bridge-secret", clock) as bridge:
        hook = SignedWebhook(clock=clock)
        wrong = hook.send(Target(webhook_url=bridge.url, secret="nope", tenant_id="t1"), SHORT)
        bridge.fail_http(503, 10)
        down = hook.send(Target(webhook_url=bridge.url, secret="bridge-secret", tenant_id="t1"), SHORT)
        assert (wrong.outcome, wrong.code) == (Outcome.permanent, "http_401")
        assert down.outcome is Outcome.transient


def test_outbox_stores_the_message_once_per_key(tmp_path):
    # GIVEN an outbox in memory and one in files
    memory = Outbox(MemoryOutbox())
    files = Outbox(FileOutbox(tmp_path))
    target = Target(tenant_id="t1", group_id="g1")
    message = Message("早安，今日签到", key="brief:1")
    # WHEN the same message is sent twice to each
    results = [memory.send(target, message), memory.send(target, message), files.send(target, message)]
    # THEN each is delivered with the same local id, stored once in memory and readable in the file
    assert all(r.ok for r in results) and len({r.message_ids for r in results}) == 1
    assert [e["text"] for e in memory.store.entries] == ["早安，今日签到"]
    line = json.loads((tmp_path / "t1" / "g1.jsonl").read_text().splitlines()[0])
    assert (line["id"], line["text"]) == (results[0].message_ids[0], "早安，今日签到")


def test_channel_factory_builds_each_channel_from_settings():
    for name in ("wecom_robot", "feishu_bot", "dingtalk_robot", "slack_webhook", "telegram_bot",
                 "signed_webhook", "outbox"):
        assert channel(name).name == name


# --- WeCom customer groups ------------------------------------------------------------------------------------------


@pytest.fixture
def cg(clock):
    with FakeWecomCustomerGroups(clock) as fake:
        fake.add_corp("ww1", "corp-secret")
        fake.add_owner("owner-a", [f"wr{i}" for i in range(5)])
        fake.add_owner("owner-b", ["wr-b"])
        yield fake


@pytest.fixture
def api(cg, clock):
    from qunyun.channels.wecom_customer_group import Corp

    client = WecomCustomerGroups(cg.base_url, clock=clock, tokens=TokenCache())
    client.corp = Corp("ww1", "corp-secret")
    return client


def test_customer_group_task_returns_msgid_and_fail_list(api, cg):
    # GIVEN an owner with five groups
    # WHEN a task names three of them, a group of another owner and an unknown one
    result = api.add_msg_template(api.corp, "owner-a", ["wr0", "wr1", "wr2", "wr-b", "wr-x"], "早安，今日签到")
    # THEN WeCom creates the task for the owner's groups and lists the others as failed
    assert result.ok and result.data.msgid in cg.tasks
    assert result.data.fail_list == ("wr-b", "wr-x")
    assert cg.tasks[result.data.msgid].chat_ids == ["wr0", "wr1", "wr2"]


def test_customer_group_token_is_cached_and_refreshed_once_on_42001(api, cg, clock):
    # GIVEN a token fetched by a first call
    msgid = api.add_msg_template(api.corp, "owner-a", ["wr0"], "a").data.msgid
    api.remind_groupmsg_send(api.corp, msgid)
    assert cg.gettoken_calls == 1
    # WHEN WeCom expires it (42001), and later forgets it (40014)
    cg.expire_tokens()
    expired = api.cancel_groupmsg_send(api.corp, msgid)
    cg.tokens.clear()
    unknown = api.get_groupmsg_send_result(api.corp, msgid, "owner-a")
    # THEN each call fetched one new token and succeeded
    assert expired.ok and unknown.ok and cg.gettoken_calls == 3


def test_customer_group_token_is_refetched_before_it_expires(api, cg, clock):
    api.add_msg_template(api.corp, "owner-a", ["wr0"], "a")
    clock.advance(7200 - 299)
    api.add_msg_template(api.corp, "owner-a", ["wr0"], "b")
    assert cg.gettoken_calls == 2


def test_customer_group_owner_confirms_some_groups_the_rest_stay_unsent(api, cg):
    # GIVEN a task for five groups
    msgid = api.add_msg_template(api.corp, "owner-a", [f"wr{i}" for i in range(5)], "今晚 8 点直播").data.msgid
    # WHEN the owner sends it to two of them
    cg.confirm(msgid, "owner-a", ["wr1", "wr3"])
    # THEN the results, read two at a time through the cursor, say sent for those and unsent for the others
    result = api.all_send_results(api.corp, msgid, "owner-a", limit=2)
    assert result.ok
    assert {g.chat_id: g.status for g in result.data} == {"wr0": "unsent", "wr1": "sent", "wr2": "unsent",
                                                        "wr3": "sent", "wr4": "unsent"}
    assert all(g.send_time for g in result.data if g.status == "sent")
    page = api.get_groupmsg_send_result(api.corp, msgid, "owner-a", limit=2)
    assert len(page.data.groups) == 2 and page.data.next_cursor


def test_customer_group_over_monthly_quota_fails_with_the_reason(api, cg, clock):
    # GIVEN a group that already received as many mass sends this month as the month has days
    import calendar
    from datetime import UTC, datetime, timedelta

    local = datetime.fromtimestamp(clock(), UTC) + timedelta(hours=8)
    cg.sends[("wr0", local.strftime("%Y-%m"))] = calendar.monthrange(local.year, local.month)[1]
    msgid = api.add_msg_template(api.corp, "owner-a", ["wr0", "wr1"], "x").data.msgid
    # WHEN the owner confirms both
    cg.confirm(msgid, "owner-a", ["wr0", "wr1"])
    # THEN the full group failed for its quota and the other was sent
    groups = {g.chat_id: (g.status, g.reason) for g in api.all_send_results(api.corp, msgid, "owner-a").data}
    assert groups == {"wr0": ("failed", "quota_exhausted"), "wr1": ("sent", None)}


def test_customer_group_remind_at_most_three_times_a_day(api, cg, clock):
    msgid = api.add_msg_template(api.corp, "owner-a", ["wr0"], "x").data.msgid
    # GIVEN three reminders today
    assert all(api.remind_groupmsg_send(api.corp, msgid).ok for _ in range(3))
    # WHEN a fourth is asked for, and again a day after the first
    fourth = api.remind_groupmsg_send(api.corp, msgid)
    clock.advance(86400)
    next_day = api.remind_groupmsg_send(api.corp, msgid)
    # THEN the fourth is refused as transient (possible again tomorrow), the next day's goes
    assert (fourth.outcome, fourth.code, fourth.retry_after) == (Outcome.transient, "45009", 86400.0)
    assert next_day.ok


def test_customer_group_cancel_stops_the_task(api, cg):
    msgid = api.add_msg_template(api.corp, "owner-a", ["wr0", "wr1"], "x").data.msgid
    cg.confirm(msgid, "owner-a", ["wr0"])
    assert api.cancel_groupmsg_send(api.corp, msgid).ok
    assert cg.confirm(msgid, "owner-a", ["wr1"]) == {}
    groups = {g.chat_id: g.status for g in api.all_send_results(api.corp, msgid, "owner-a").data}
    assert groups == {"wr0": "sent", "wr1": "unsent"}
    assert api.remind_groupmsg_send(api.corp, msgid).outcome is Outcome.permanent


def test_customer_group_long_text_is_trimmed_to_4000_bytes_with_a_link(api, cg):
    result = api.add_msg_template(api.corp, "owner-a", ["wr0"], brief(20, link=False),
                                  read_more_url="https://example.com/b/1")
    assert result.ok and len(result.data.text.encode()) <= 4000
    assert cg.tasks[result.data.msgid].text == result.data.text
    assert result.data.text.endswith("阅读全文: https://example.com/b/1")


def test_customer_group_reset_secret_is_permanent_and_forced_45009_transient(api, cg):
    cg.force_errcode(45009, 60)
    busy = api.add_msg_template(api.corp, "owner-a", ["wr0"], "x")
    assert (busy.outcome, busy.retry_after) == (Outcome.transient, 60.0)
    cg.clock.advance(61)
    cg.reset_secret("ww1")
    broken = api.add_msg_template(api.corp, "owner-a", ["wr0"], "x")
    assert (broken.outcome, broken.code) == (Outcome.permanent, "40001")


def test_customer_group_task_covers_at_most_2000_groups(api):
    with pytest.raises(ValueError):
        api.add_msg_template(api.corp, "owner-a", [f"wr{i}" for i in range(2001)], "x")


def test_customer_group_unknown_sender_is_permanent(api):
    result = api.add_msg_template(api.corp, "nobody", ["wr0"], "x")
    assert (result.outcome, result.code) == (Outcome.permanent, "60111")


def test_fakes_answer_forced_responses_verbatim(cg):
    import httpx

    cg.force(Answer(502, "bad gateway"), 5)
    assert httpx.get(f"{cg.base_url}/cgi-bin/gettoken?corpid=ww1&corpsecret=corp-secret").status_code == 502
