"""The inbound burst both inbound.py and guard.py drive: messages from G groups of 200 members, a few joins and
leaves, as the platforms send them (Telegram updates with their secret-token header, WeCom encrypted
`change_external_chat` callbacks) or, for ProcessGroupEvents alone, as the group events InboundApi queues.

Callback i of a burst (deterministic, so every process builds its own share):
* i % 100 == 50: a join or a leave (1%), in turn a Telegram `chat_member` join, a Telegram leave, a WeCom join
  and a WeCom leave (customer groups: WeCom shows no message text, so they only join and leave);
* otherwise a Telegram group message of member (i // G) % 200 of group i % G; one in a hundred (a different
  place in each hundred) is offending: sent to one of a tenth of the groups in turn by one of its 3 spammers
  (its last members), its text carries one of the guard's 200 rules (RULE_WORDS words, RULE_PATTERNS
  patterns) or a link, so a spammer's second offence removes them.
No text says a check-in keyword, so no message becomes a points event.
"""

from __future__ import annotations

import json
import secrets
import time

MEMBERS = 200
RULE_WORDS, RULE_PATTERNS = 150, 50  # the guard benchmark's 200 rules
OFFENDING = 7  # (i + i // 100) % 100 == OFFENDING: an offending message (1%)
SPAMMERS = 3
TEXTS = ("早上好，今天的茶真香", "这款新品什么时候到货？", "谢谢群主分享", "周末有活动吗", "收到，明天去店里看看",
         "Good morning everyone", "哈哈哈，太有意思了", "这个价格还能再优惠吗？", "已经下单了，期待", "请问怎么退换货")
WECOM_TOKEN, WECOM_CORP = "bench-wecom-token", "ww-bench"
HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501


def telegram_chat(g: int) -> str:
    return f"-100{g:07d}"


def wecom_chat(w: int) -> str:
    return f"wrBench{w:06d}"


def bot_token(g: int) -> str:
    return f"{7000000 + g}:bench-bot-{g}"


def groups_csv(groups: int, wecom_groups: int) -> str:
    """The tenant's groups: G Telegram groups (a bot each) and W WeCom customer groups."""
    rows = [HEADER] + [f"tg{g:05d},电报群 {g},traffic,telegram_bot,,{bot_token(g)},,{telegram_chat(g)},,,,,,,"
                       for g in range(groups)]
    rows += [f"wc{w:05d},客户群 {w},traffic,wecom_customer_group,,,owner{w},{wecom_chat(w)},,,,,,,"
             for w in range(wecom_groups)]
    return "\n".join(rows) + "\n"


def guard_rules() -> dict:
    """200 rules as `qunyun guard set` takes them (API.md §7): words and patterns, links other than our domain."""
    return {"guard": {"words": [f"广告词{k}号" for k in range(RULE_WORDS)],
                      "patterns": [rf"加微信\s*bench{k}[a-z]+" for k in range(RULE_PATTERNS)],
                      "allow_domains": ["qunyun.example.com"]}}


def offending_text(i: int) -> str:
    k = i // 100
    if k % 3 == 0:
        return f"全场一折，认准广告词{k % RULE_WORDS}号"
    if k % 3 == 1:
        return f"私聊 加微信 bench{k % RULE_PATTERNS}vip 领福利"
    return f"点这里 http://spam{k}.example.cn/x 免费送"


def is_offending(i: int) -> bool:
    return kind(i) == "message" and (i + i // 100) % 100 == OFFENDING


def kind(i: int) -> str:
    """message, tg_join, tg_leave, wecom_join or wecom_leave."""
    if i % 100 != 50:
        return "message"
    return ("tg_join", "tg_leave", "wecom_join", "wecom_leave")[(i // 100) % 4]


def telegram_update(i: int, groups: int, run: int, at: int) -> dict:
    """The Telegram update of callback i (a message, or a chat_member join or leave)."""
    g, m = i % groups, (i // groups) % MEMBERS
    if is_offending(i):  # the spammers of a tenth of the groups, in turn
        g, m = (i // 100) % max(groups // 10, 1), MEMBERS - 1 - (i // 100) % SPAMMERS
    chat = {"id": int(telegram_chat(g)), "type": "supergroup", "title": f"电报群 {g}"}
    update_id = run * 10_000_000 + i
    if kind(i) == "message":
        user = {"id": 1 + g * 1000 + m, "is_bot": False, "first_name": f"成员{m}"}
        text = offending_text(i) if is_offending(i) else TEXTS[i % len(TEXTS)]
        return {"update_id": update_id, "message": {"message_id": i, "date": at, "chat": chat, "from": user,
                                                    "text": text}}
    joining = kind(i) == "tg_join"
    user = {"id": 1 + g * 1000 + (MEMBERS + i // 100 if joining else m), "is_bot": False, "first_name": "新人"}
    old, new = ("left", "member") if joining else ("member", "left")
    return {"update_id": update_id, "chat_member": {
        "chat": chat, "from": user, "date": at, "old_chat_member": {"status": old, "user": user},
        "new_chat_member": {"status": new, "user": user}}}


def wecom_xml(i: int, wecom_groups: int, at: int) -> str:
    w = (i // 100) % wecom_groups
    joining = kind(i) == "wecom_join"
    member = f"wmBench{w}x{i // 100 if joining else (i // 100) % MEMBERS}"
    detail, scene = ("add_member", "JoinScene") if joining else ("del_member", "QuitScene")
    return (f"<xml><ToUserName><![CDATA[{WECOM_CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{at}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[{wecom_chat(w)}]]></ChatId>"
            f"<ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[{detail}]]></UpdateDetail>"
            f"<{scene}>0</{scene}><MemChangeCnt>1</MemChangeCnt>"
            f"<MemChangeList><Item><![CDATA[{member}]]></Item></MemChangeList></xml>")


def callback(i: int, groups: int, wecom_groups: int, run: int, secret_token: str, aes_key: str,
             at: int | None = None) -> tuple[str, str, dict, bytes]:
    """(platform, query string, headers, body) of callback i, signed or encrypted as the platform does."""
    at = int(time.time()) if at is None else at
    if kind(i).startswith("wecom"):
        from qunyun.inbound.msgcrypt import MsgCrypt

        sealed = MsgCrypt(WECOM_TOKEN, aes_key, WECOM_CORP).seal(wecom_xml(i, wecom_groups, at), str(at),
                                                                 secrets.token_hex(4))
        body = (f"<xml><ToUserName><![CDATA[{WECOM_CORP}]]></ToUserName><Encrypt><![CDATA[{sealed['encrypt']}]]>"
                f"</Encrypt><AgentID><![CDATA[]]></AgentID></xml>").encode()
        query = f"msg_signature={sealed['msg_signature']}&timestamp={sealed['timeStamp']}&nonce={sealed['nonce']}"
        return "wecom", query, {"content-type": "text/xml"}, body
    return "telegram", "", {"content-type": "application/json", "x-telegram-bot-api-secret-token": secret_token}, \
        json.dumps(telegram_update(i, groups, run, at), ensure_ascii=False).encode()


def group_events(tenant_id: str, i: int, groups: int, wecom_groups: int, run: int, at: int) -> list:
    """The group events InboundApi queues for callback i: the platforms' own normalisers, as it runs them."""
    from qunyun.inbound import telegram_events, wecom_events

    if kind(i).startswith("wecom"):
        import xml.etree.ElementTree as ET  # our own XML: InboundApi parses the platform's with defusedxml

        root = ET.fromstring(wecom_xml(i, wecom_groups, at))
        fields: dict = {c.tag: (c.text or "").strip() for c in root if c.tag != "MemChangeList"}
        fields["MemChangeList"] = [(x.text or "").strip() for x in root.iter("Item")]
        return wecom_events.group_events(tenant_id, fields)
    return telegram_events.group_events(tenant_id, telegram_update(i, groups, run, at))


def sqs_event(bodies: list[str], tag: str) -> dict:
    """An SQS event as Lambda's event source mapping hands it over (the record fields ProcessGroupEvents reads)."""
    return {"Records": [{"messageId": f"{tag}-{k}", "receiptHandle": "r" * 185, "body": body,
                         "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:qunyun-bench-group-events",
                         "awsRegion": "us-east-1"} for k, body in enumerate(bodies)]}


def plan_batches(bodies: list[str], clients: int, batch_size: int, max_bytes: int = 6_000_000) -> list[list[str]]:
    """The bodies in consecutive batches, as the event source mapping hands a backlog over: at most `batch_size`
    records and `max_bytes` of event (Lambda's 6 MB), their number a multiple of `clients` so every environment
    gets as many."""
    record = len(json.dumps(sqs_event(["x"], "x")["Records"][0])) + 2
    size = sum(len(b) for b in bodies) + record * len(bodies)
    n = clients
    while -(-len(bodies) // n) > batch_size or size / n > max_bytes:
        n += clients
    per = -(-len(bodies) // n)
    return [bodies[k:k + per] for k in range(0, len(bodies), per)]
