"""InboundApi's answers with the connection and the queue in memory: each platform's callback verified and
queued, every refusal answered without queueing, and no input at all producing a 5xx."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace

import inbound_api
import pytest
from fakes.callbacks import Call, DingtalkCallbacks, FeishuCallbacks, SlackCallbacks, TelegramCallbacks, aes_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qunyun.services import inbound
from qunyun.services.inbound import NO_CONNECTION, InboundDeps
from support import http_event

DINGTALK = DingtalkCallbacks("app-key", "app-secret", "token", aes_key())
FEISHU = FeishuCallbacks("encrypt-key", "verification")
SLACK = SlackCallbacks("signing")
TELEGRAM = TelegramCallbacks("secret-token")
SECRETS = {
    "dingtalk": {"app_key": "app-key", "app_secret": "app-secret", "token": "token", "aes_key": DINGTALK.aes_key},
    "feishu": {"app_id": "cli", "app_secret": "s", "verification_token": "verification", "encrypt_key": "encrypt-key"},
    "slack": {"bot_token": "xoxb", "signing_secret": "signing"},
    "telegram": {"bot_token": "1:A", "secret_token": "secret-token"},
}


class Memory:
    def __init__(self):
        self.queued, self.refusals, self.writes = [], [], []

    def get(self, tenant_id, platform):
        return SECRETS.get(platform) if tenant_id == "tea" else None

    def send(self, events):
        self.queued.extend(events)
        return len(events)

    def refused(self, tenant_id, platform, reason):
        """As the connection store's conditional write: made every time, recorded where the connection exists."""
        self.writes.append((tenant_id, platform, reason))
        if self.get(tenant_id, platform) is not None:
            self.refusals.append((platform, reason))


@pytest.fixture
def memory():
    return Memory()


def call(memory: Memory, platform: str, c: Call, tenant: str = "tea", event: dict | None = None) -> dict:
    event = event or http_event(c.method, c.path(platform, tenant), c.body, c.headers)
    event["pathParameters"] = {"platform": platform, "tenant": tenant}
    deps = InboundDeps(credentials=memory, queue=memory, refusals=memory, clock=time.time)
    return inbound_api.process(event, None, deps)


def test_a_dingtalk_robot_message_is_verified_and_queued(memory):
    # GIVEN a robot callback: a group message that @-mentions the robot, signed with the app secret
    robot = DINGTALK.robot({"conversationType": "2", "conversationId": "cid1", "msgId": "msg1", "msgtype": "text",
                            "text": {"content": " 签到 "}, "senderStaffId": "staff1", "senderNick": "Ann",
                            "createAt": int(time.time() * 1000)})
    # THEN it is answered 200 and queued as a message of its sender
    assert call(memory, "dingtalk", robot)["statusCode"] == 200
    [event] = memory.queued
    assert (event.kind, event.chat_id, event.sender.member_id("dingtalk"), event.text) == (
        "message", "cid1", "dingtalk:staff1", "签到")
    # AND a robot callback with another secret's sign is refused and queues nothing
    forged = DingtalkCallbacks("app-key", "other-secret", "token", DINGTALK.aes_key).robot({"msgId": "m2"})
    assert call(memory, "dingtalk", forged)["statusCode"] == 401 and len(memory.queued) == 1
    assert memory.refusals == [("dingtalk", "signature_invalid")]


def test_a_feishu_join_is_queued_and_a_wrong_token_refused(memory):
    added = FEISHU.event("im.chat.member.user.added_v1", {"chat_id": "oc_1", "operator_id": {"open_id": "ou_0"},
                                                         "users": [{"name": "Bo", "user_id": {"open_id": "ou_9"}}]})
    assert call(memory, "feishu", added)["statusCode"] == 200
    assert [(e.kind, e.members[0].member_id("feishu"), e.how) for e in memory.queued] == [
        ("member_joined", "feishu:ou_9", "invited")]
    wrong = FeishuCallbacks("encrypt-key", "another").event("im.chat.disbanded_v1", {"chat_id": "oc_1"})
    answer = call(memory, "feishu", wrong)
    assert (answer["statusCode"], json.loads(answer["body"])["error"]["code"]) == (401, "token_invalid")


def test_unknown_tenant_unconnected_platform_and_bad_signature_answer_alike(memory):
    good = SLACK.call({"type": "event_callback", "event_id": "E1", "event": {}})
    forged = SlackCallbacks("guess").call({"type": "event_callback", "event_id": "E1", "event": {}})
    bad = call(memory, "slack", forged)
    unknown = call(memory, "slack", good, tenant="nobody")
    unconnected = call(memory, "wecom", good)  # tea has no WeCom connection here
    nonsense = call(memory, "myspace", good)
    assert [a["statusCode"] for a in (bad, unknown, unconnected, nonsense)] == [401, 404, 404, 404]
    assert bad["body"] == unknown["body"] == unconnected["body"] == nonsense["body"]
    assert memory.queued == [] and memory.refusals == [("slack", "signature_invalid")]


# Factories, not callbacks: a signed callback made when the module is collected would be minutes old (past
# Slack's and Feishu's windows) by the time a whole suite reaches these tests.
FORGED = {
    "dingtalk": lambda: DingtalkCallbacks("app-key", "app-secret", "other-token", aes_key()).event(
        {"EventType": "check_url"}),
    "feishu": lambda: replace(FEISHU.event("im.chat.disbanded_v1", {"chat_id": "oc_1"}),
                              headers={"x-lark-request-timestamp": str(int(time.time())),
                                       "x-lark-signature": "0" * 64}),
    "slack": lambda: SlackCallbacks("guess").call({"type": "event_callback", "event_id": "E1", "event": {}}),
    "telegram": lambda: TelegramCallbacks("guess").update({"update_id": 1}),
}


@pytest.mark.parametrize("platform", sorted(FORGED))
def test_an_unknown_tenant_does_the_work_of_a_bad_signature(memory, monkeypatch, platform):
    """What makes the two take the same time: the same verification, with keys of the same shapes, and the same
    refusal write (one that records nothing for no connection). Skipping either for an unknown tenant fails here."""
    verified = []

    def spy(platform_, tenant_id, secrets, callback, now):
        verified.append((platform_, callback, secrets))
        return handle(platform_, tenant_id, secrets, callback, now)

    handle = inbound.handle
    monkeypatch.setattr(inbound, "handle", spy)
    # WHEN the same forged callback comes for the connected tenant, and for one that does not exist
    forged = FORGED[platform]()
    bad = call(memory, platform, forged)
    unknown = call(memory, platform, forged, tenant="nobody")
    # THEN both were verified by the platform's scheme, the unknown one with stand-in keys (a secret the scheme
    # reads missing from them would have been a 5xx, not the 404 below)
    [(known_platform, known_callback, secrets), (stand_in_platform, stand_in_callback, stand_in)] = verified
    assert known_platform == stand_in_platform == platform and known_callback == stand_in_callback
    assert set(stand_in) & set(secrets) and not set(stand_in.values()) & set(secrets.values())
    # AND both made the refusal's write, which only the connected tenant's recorded (the reason may differ: a
    # Feishu body that does not decrypt with the stand-in key is refused before its signature is compared)
    reason = "token_invalid" if platform == "telegram" else "signature_invalid"  # Telegram signs with a token
    assert [w[:2] for w in memory.writes] == [("tea", platform), NO_CONNECTION]
    assert memory.refusals == [(platform, reason)]
    assert (bad["statusCode"], unknown["statusCode"]) == (401, 404)
    if reason == "signature_invalid":  # AND the answers differ by status alone, to the byte (API.md §6)
        assert unknown["body"] == bad["body"] and unknown["headers"] == bad["headers"]


def test_an_unknown_tenant_over_64_kb_makes_the_same_write(memory):
    big = Call("POST", {}, {}, b"x" * (64 * 1024 + 1))
    answers = [call(memory, "slack", big), call(memory, "slack", big, tenant="nobody")]
    assert [a["statusCode"] for a in answers] == [413, 413] and answers[0]["body"] == answers[1]["body"]
    assert memory.writes == [("tea", "slack", "too_large"), (*NO_CONNECTION, "too_large")]
    assert memory.refusals == [("slack", "too_large")]


def test_a_body_that_is_not_base64_is_unparsable(memory):
    c = TELEGRAM.update({"update_id": 1})
    event = http_event("POST", c.path("telegram", "tea"), c.body, c.headers)
    event["body"], event["isBase64Encoded"] = "%%%", True
    answer = call(memory, "telegram", c, event=event)
    assert (answer["statusCode"], json.loads(answer["body"])["error"]["code"]) == (400, "unparsable")


def test_a_base64_body_is_decoded_before_verifying(memory):
    c = TELEGRAM.update({"update_id": 3, "message": {"message_id": 9, "date": 1, "text": "hi", "from": {"id": 5},
                                                     "chat": {"id": -1, "type": "group"}}})
    event = http_event("POST", c.path("telegram", "tea"), c.body, c.headers)
    event["body"], event["isBase64Encoded"] = base64.b64encode(c.body).decode(), True
    assert call(memory, "telegram", c, event=event)["statusCode"] == 200
    assert [e.message_id for e in memory.queued] == ["9"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(platform=st.sampled_from(["wecom", "feishu", "dingtalk", "telegram", "slack"]),
       method=st.sampled_from(["GET", "POST"]), body=st.binary(max_size=300),
       query=st.dictionaries(st.sampled_from(["msg_signature", "signature", "timestamp", "nonce", "echostr"]),
                             st.text(max_size=40)),
       headers=st.dictionaries(st.sampled_from(["x-slack-request-timestamp", "x-slack-signature", "sign",
                                                "timestamp", "x-lark-signature", "x-telegram-bot-api-secret-token"]),
                               st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)))
def test_no_input_produces_a_5xx(memory, platform, method, body, query, headers):
    answer = call(memory, platform, Call(method, query, headers, body))
    assert answer["statusCode"] in (200, 400, 401, 404, 413)
    if answer["statusCode"] != 200:
        assert set(json.loads(answer["body"])["error"]) == {"code", "message"}
