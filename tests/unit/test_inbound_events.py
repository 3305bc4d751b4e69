"""Each platform's callback payloads as normalised group events (API.md §6: joins and leaves everywhere,
message text where the platform shows it). Payloads follow the platforms' documented shapes.

GIVEN a platform's payload WHEN it is normalised THEN it is the group event an operator would call it, with
the platform's id for de-duplication; payloads that are not about a group's members give no event."""

from __future__ import annotations

import json

from qunyun.domain.group_events import GROUP_EVENT, MemberJoined, MemberLeft, Message
from qunyun.inbound import dingtalk, dingtalk_events, feishu_events, slack_events, telegram_events, wecom_events

WECOM_JOIN = {"ToUserName": "ww1", "FromUserName": "sys", "CreateTime": "1700000000", "MsgType": "event",
              "Event": "change_external_chat", "ChatId": "wrOg1", "ChangeType": "update",
              "UpdateDetail": "add_member", "JoinScene": "3", "MemChangeCnt": "2", "MemChangeList": ["wmA", "wmB"],
              "LastMemVer": "v1", "CurMemVer": "v2"}


def test_wecom_join_leave_and_dismiss():
    (joined,) = wecom_events.group_events("t1", WECOM_JOIN)
    assert isinstance(joined, MemberJoined) and joined.how == "qr" and joined.member_version == ("v1", "v2")
    assert [m.member_id("wecom") for m in joined.members] == ["wecom:wmA", "wecom:wmB"]
    (left,) = wecom_events.group_events("t1", {**WECOM_JOIN, "UpdateDetail": "del_member", "QuitScene": "1",
                                               "MemChangeList": ["wmA"]})
    assert isinstance(left, MemberLeft) and left.how == "removed"
    assert wecom_events.group_events("t1", {**WECOM_JOIN, "ChangeType": "dismiss"})[0].kind == "group_dismissed"
    assert wecom_events.group_events("t1", {**WECOM_JOIN, "Event": "change_external_contact"}) == []


def test_wecom_retry_of_one_callback_has_one_event_id():
    first, again = (wecom_events.group_events("t1", dict(WECOM_JOIN))[0] for _ in range(2))
    other = wecom_events.group_events("t1", {**WECOM_JOIN, "CreateTime": "1700000001"})[0]
    assert first.event_id == again.event_id != other.event_id


def test_feishu_group_text_message_and_member_events():
    message = {"schema": "2.0", "header": {"event_id": "ev1", "event_type": "im.message.receive_v1",
                                           "create_time": "1700000000000", "token": "vt"},
               "event": {"sender": {"sender_id": {"open_id": "ou_1"}, "sender_type": "user"},
                         "message": {"message_id": "om_1", "chat_id": "oc_1", "chat_type": "group",
                                     "message_type": "text", "content": json.dumps({"text": "签到"})}}}
    (event,) = feishu_events.group_events("t1", message)
    assert isinstance(event, Message) and event.text == "签到" and event.sender.member_id("feishu") == "feishu:ou_1"
    private = json.loads(json.dumps(message))
    private["event"]["message"]["chat_type"] = "p2p"
    assert feishu_events.group_events("t1", private) == []
    added = {"header": {"event_id": "ev2", "event_type": "im.chat.member.user.added_v1", "create_time": "1"},
             "event": {"chat_id": "oc_1", "operator_id": {"open_id": "ou_9"},
                       "users": [{"name": "小王", "user_id": {"open_id": "ou_2"}}]}}
    (joined,) = feishu_events.group_events("t1", added)
    assert joined.how == "invited" and joined.members[0].name == "小王"
    deleted = {**added, "header": {**added["header"], "event_type": "im.chat.member.user.deleted_v1"}}
    assert feishu_events.group_events("t1", deleted)[0].kind == "member_left"


def test_telegram_chat_member_through_a_named_link_and_a_kick():
    update = {"update_id": 10, "chat_member": {
        "chat": {"id": -100123, "type": "supergroup"}, "from": {"id": 55, "first_name": "Ann"}, "date": 1700000000,
        "old_chat_member": {"status": "left", "user": {"id": 55, "first_name": "Ann"}},
        "new_chat_member": {"status": "member", "user": {"id": 55, "first_name": "Ann"}},
        "invite_link": {"invite_link": "https://t.me/+abc", "name": "store-7", "creator": {"id": 1}}}}
    (joined,) = telegram_events.group_events("t1", update)
    assert (joined.how, joined.invite_link, joined.chat_id, joined.event_id) == ("link", "store-7", "-100123", "10")
    kicked = json.loads(json.dumps(update))
    kicked["chat_member"].update(old_chat_member={"status": "member", "user": {"id": 55}},
                                 new_chat_member={"status": "kicked", "user": {"id": 55}})
    assert telegram_events.group_events("t1", kicked)[0].how == "removed"


def test_telegram_messages_service_messages_and_private_chats():
    base = {"message_id": 7, "date": 1700000000, "chat": {"id": -5, "type": "group"},
            "from": {"id": 9, "first_name": "Bo", "last_name": "Li"}}
    (said,) = telegram_events.group_events("t1", {"update_id": 1, "message": {**base, "text": "打卡"}})
    assert said.text == "打卡" and said.sender.name == "Bo Li" and said.message_id == "7"
    (invited,) = telegram_events.group_events("t1", {"update_id": 2, "message": {
        **base, "new_chat_members": [{"id": 10, "first_name": "Cy"}, {"id": 11, "is_bot": True}]}})
    assert invited.how == "invited" and [m.user_id for m in invited.members] == ["10"]
    assert telegram_events.group_events("t1", {"update_id": 3, "message": {
        **base, "chat": {"id": 9, "type": "private"}, "text": "hi"}}) == []
    assert telegram_events.group_events("t1", {"update_id": 4, "message": {
        **base, "from": {"id": 8, "is_bot": True}, "text": "bot"}}) == []


def test_slack_messages_joins_and_bot_messages():
    envelope = {"type": "event_callback", "event_id": "Ev1", "event_time": 1700000000,
                "event": {"type": "message", "channel": "C1", "user": "U1", "text": "签到", "ts": "1700000000.1"}}
    (said,) = slack_events.group_events("t1", envelope)
    assert (said.text, said.message_id, said.chat_id) == ("签到", "1700000000.1", "C1")
    bot = {**envelope, "event": {**envelope["event"], "bot_id": "B1"}}
    edited = {**envelope, "event": {**envelope["event"], "subtype": "message_changed"}}
    assert slack_events.group_events("t1", bot) == slack_events.group_events("t1", edited) == []
    joined = {**envelope, "event": {"type": "member_joined_channel", "channel": "C1", "user": "U2", "inviter": "U1"}}
    assert slack_events.group_events("t1", joined)[0].how == "invited"


def test_dingtalk_chat_events_and_robot_messages():
    (left,) = dingtalk_events.group_events("t1", {"EventType": "chat_quit", "ChatId": "cid1", "UserId": ["u1"],
                                                  "TimeStamp": "1700000000000"})
    assert left.how == "left"
    robot = {"msgtype": "text", "text": {"content": " 签到 "}, "msgId": "msg1", "createAt": 1700000000000,
             "conversationType": "2", "conversationId": "cid1", "senderStaffId": "staff1", "senderNick": "老王"}
    (said,) = dingtalk_events.robot_message("t1", robot)
    assert said.text == "签到" and said.sender.member_id("dingtalk") == "dingtalk:staff1"
    assert dingtalk_events.robot_message("t1", {**robot, "conversationType": "1"}) == []


def test_dingtalk_robot_sign():
    sign = dingtalk.robot_sign("secret", "1700000000000")
    dingtalk.verify_robot("secret", {"timestamp": "1700000000000", "sign": sign}, now_ms=1700000000000 + 3599_000)
    for headers, now in (({"timestamp": "1700000000000", "sign": sign}, 1700000000000 + 3601_000),
                         ({"timestamp": "1700000000000", "sign": sign + "x"}, 1700000000000),
                         ({}, 1700000000000)):
        try:
            dingtalk.verify_robot("secret", headers, now_ms=now)
        except dingtalk.CallbackRefused:
            continue
        raise AssertionError(f"accepted {headers} at {now}")


def test_events_survive_the_queue_as_json():
    (joined,) = wecom_events.group_events("t1", WECOM_JOIN)
    assert GROUP_EVENT.validate_json(GROUP_EVENT.dump_json(joined)) == joined
