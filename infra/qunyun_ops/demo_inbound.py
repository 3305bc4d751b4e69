"""The demo's part that hears a group: connects Telegram for the demo tenant (the demo robots stand in for the
Bot API), sends a join, check-ins and a few messages as Telegram would, signed with the webhook's secret token,
to the stack's InboundApi; ProcessGroupEvents records them and grants the check-ins' points, SendPushes sends
the group's welcome and check-in reply to the demo robots, and `qunyun members list` shows the roster."""

from __future__ import annotations

import html
import json
import time
import urllib.request
from collections.abc import Callable

GROUP, CHAT = "tea-tokyo", -1001234567890  # the sample CSV's Telegram group
MEMBERS = [{"id": 8001, "is_bot": False, "first_name": "小美"},
           {"id": 8002, "is_bot": False, "first_name": "<@all> **Bob**"}]  # a name that tries to mention everyone


def _updates(now: int) -> list[dict]:
    chat = {"id": CHAT, "type": "supergroup", "title": "Tokyo members"}
    mei, bob = MEMBERS
    join = {"update_id": 1, "chat_member": {
        "chat": chat, "from": mei, "date": now - 5, "invite_link": {"invite_link": "https://t.me/+demo", "name": "vip"},
        "old_chat_member": {"status": "left", "user": mei}, "new_chat_member": {"status": "member", "user": mei}}}
    # One second for all, so that both check-ins fall in the same reply window.
    said = [(mei, "签到"), (bob, "打卡！"), (mei, "早上好"), (bob, "今天的茶真香")]
    messages = [{"update_id": 2 + n, "message": {"message_id": 500 + n, "date": now - 4, "chat": chat,
                                                  "from": who, "text": text}} for n, (who, text) in enumerate(said)]
    return [join, *messages]


def _post(port: int, tenant: str, secret_token: str, update: dict) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/inbound/telegram/{tenant}", method="POST",
                                     data=json.dumps(update, ensure_ascii=False).encode(),
                                     headers={"content-type": "application/json",
                                              "X-Telegram-Bot-Api-Secret-Token": secret_token})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status


def inbound_demo(port: int, tenant: str, robots, qunyun: Callable, step: Callable[[str], None]) -> None:
    step("Hear a group: connect Telegram, then a join, check-ins and messages arrive as signed callbacks")
    qunyun("tenants", "policy", tenant, "--set", "checkin_reply_seconds=10", "--local", logs=False)
    shown = json.loads(qunyun("connect", "telegram", "--tenant", tenant, "--bot-token", "demo-bot-token",
                              "--no-register", "--local", "--json", logs=False).stdout)
    updates = _updates(int(time.time()))
    for update in [*updates, updates[1]]:  # the first check-in's callback comes twice: it grants once
        kind = "chat_member" if "chat_member" in update else repr(update["message"]["text"])
        print(f"POST /v1/inbound/telegram/{tenant} ({kind}): HTTP {_post(port, tenant, shown['secret_token'], update)}")
    print("ProcessGroupEvents records them; the welcome and the check-in reply each wait for their window "
          "(60 s for joins, 10 s for check-ins here) to close ...")
    deadline, got = time.monotonic() + 100, {}
    while time.monotonic() < deadline and len(got) < 2:
        mine = [r for r in robots.received if r.robot == str(CHAT)]
        got = {p: r for r in mine for p in ("欢迎", "签到成功") if r.text.startswith(p)}
        time.sleep(0.5)
    if len(got) < 2:
        raise SystemExit(f"demo: the group's welcome and check-in reply did not both arrive ({sorted(got)})")
    # What members read (the robot keeps the message's HTML): the name that said <@all> mentions nobody.
    for p in ("欢迎", "签到成功"):
        print(f"the Telegram group received: {html.unescape(got[p].text)}")
    step("The group's roster: joins, messages and check-ins")
    qunyun("members", "list", "--group", GROUP, "--tenant", tenant, "--local", logs=False)
    qunyun("points", "show", "telegram:8001", "--tenant", tenant, "--local", logs=False)
