"""The demo's part that keeps groups clean (docs/guard.md): the tenant's group rules, a Telegram member posting
an ad twice (warned, then removed: the demo robots stand in for the Bot API), a DingTalk ordinary group's
offender (a message @-mentioning the robot) who becomes an operator task, a WeCom customer group that cannot be
guarded, and SweepInactive fired a week later listing the silent."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

GROUP, CHAT = "tea-tokyo", -1001234567890  # the sample CSV's Telegram group
DING_CHAT = "cidDemoTeaMembers=="  # groups_guard.csv's DingTalk ordinary group
DING_APP = {"app_key": "dingdemoteaapp", "app_secret": "demo-dingtalk-app-secret", "token": "demo-ding-token",
            "aes_key": "a" * 43}
OFFENDER, SILENT = {"id": 8003, "is_bot": False, "first_name": "广告哥"}, {"id": 8004, "is_bot": False,
                                                                          "first_name": "潜水员"}


def set_group_rules(qunyun: Callable, step: Callable[[str], None], demo: Path, tenant: str) -> None:
    """Set before any group event is heard, so that every message the stack hears is checked against them."""
    step("Set the group rules: ads warned then removed, links only to example.com, the weekly sweep reports")
    qunyun("guard", "set", str(demo / "group_rules.yaml"), "--tenant", tenant, "--local")


def _post(port: int, path: str, body: dict, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST", headers={
        "content-type": "application/json", **headers}, data=json.dumps(body, ensure_ascii=False).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as e:
        return e.code


def _telegram(port: int, tenant: str, token: str, update: dict) -> int:
    path = f"/v1/inbound/telegram/{tenant}"
    status = _post(port, path, update, {"X-Telegram-Bot-Api-Secret-Token": token})
    if status == 401:  # the webhook trusted the connection it read a few seconds ago: the new token comes next
        time.sleep(6)
        status = _post(port, path, update, {"X-Telegram-Bot-Api-Secret-Token": token})
    return status


def _dingtalk(port: int, tenant: str, serial: int, text: str) -> int:
    """A robot callback as DingTalk signs it: HMAC-SHA256 of `timestamp\\napp secret` with the app secret."""
    stamp = str(int(time.time() * 1000))
    secret = DING_APP["app_secret"]
    sign = base64.b64encode(hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest())
    body = {"conversationType": "2", "conversationId": DING_CHAT, "senderStaffId": "ding-user-7",
            "senderNick": "钉钉用户", "msgId": f"demo-msg-{stamp}-{serial}", "createAt": int(stamp) + serial,
            "msgtype": "text", "text": {"content": f"@一茶一会 {text}"}, "isAdmin": False}
    return _post(port, f"/v1/inbound/dingtalk/{tenant}", body, {"timestamp": stamp, "sign": sign.decode()})


def _wait(what: str, found: Callable[[], object], seconds: float = 60) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = found()
        if got:
            return got
        time.sleep(0.5)
    raise SystemExit(f"demo: {what} did not happen in {seconds:.0f} s")


def _telegram_part(port: int, tenant: str, robots, qunyun: Callable, step: Callable[[str], None]) -> None:
    step("A member posts an ad in the Telegram group: the message is deleted and they are warned")
    token = json.loads(qunyun("connect", "telegram", "--tenant", tenant, "--bot-token", "demo-bot-token",
                              "--no-register", "--local", "--json", logs=False).stdout)["secret_token"]
    chat, now = {"id": CHAT, "type": "supergroup", "title": "Tokyo members"}, int(time.time())
    for n, person in enumerate((OFFENDER, SILENT)):  # both join; the second never says a word
        status = _telegram(port, tenant, token, {"update_id": 9001 + n, "chat_member": {
            "chat": chat, "from": person, "date": now - 10, "old_chat_member": {"status": "left", "user": person},
            "new_chat_member": {"status": "member", "user": person}}})
        print(f"POST /v1/inbound/telegram/{tenant} ({person['first_name']} joins): HTTP {status}")
    for n, text in enumerate(["便宜好茶，加微信 tea888 领券", "兼职刷单，日结，vx: tea888"]):
        update = {"update_id": 9010 + n, "message": {"message_id": 900 + n, "date": now - 5 + n, "chat": chat,
                                                      "from": OFFENDER, "text": text}}
        print(f"POST /v1/inbound/telegram/{tenant} ({text!r}): HTTP {_telegram(port, tenant, token, update)}")
        if n == 0:
            warning = _wait("the warning", lambda: next((r for r in robots.received if r.robot == str(CHAT)
                                                         and r.text.startswith("群规提醒")), None))
            print(f"the Telegram group received: {warning.text}")
            step("The same member's second ad in the window: deleted, and the member removed")
    _wait("the removal", lambda: ("banChatMember", str(CHAT), str(OFFENDER["id"])) in robots.moderated)
    for call in robots.moderated:
        subject = "user_id" if "Chat" in call[0] else "message_ids" if call[0] == "deleteMessages" else "message_id"
        print(f"Telegram was asked: {call[0]}(chat_id={call[1]}, {subject}={call[2]})")
    # As Telegram tells the bot: the removed member's status went to kicked.
    _telegram(port, tenant, token, {"update_id": 9020, "chat_member": {
        "chat": chat, "from": {"id": 1, "is_bot": True, "first_name": "bot"}, "date": now,
        "old_chat_member": {"status": "member", "user": OFFENDER}, "new_chat_member": {"status": "kicked",
                                                                                       "user": OFFENDER}}})
    qunyun("guard", "log", "--tenant", tenant, "--member", f"telegram:{OFFENDER['id']}", "--local", logs=False)


def _dingtalk_part(port: int, tenant: str, robots, qunyun: Callable, step: Callable[[str], None],
                   demo: Path) -> None:
    step("A DingTalk ordinary group: its robot hears only @-messages; it warns, but no API removes a member")
    qunyun("groups", "import", str(demo / "groups_guard.csv"), "--tenant", tenant, "--local", logs=False)
    qunyun("connect", "dingtalk", "--tenant", tenant, *[a for k, v in DING_APP.items()
                                                        for a in (f"--{k.replace('_', '-')}", v)],
           "--local", logs=False, echo=False)
    for n, text in enumerate(["加微信领红包", "刷单兼职"]):
        print(f"POST /v1/inbound/dingtalk/{tenant} (robot: {text!r}): HTTP {_dingtalk(port, tenant, n, text)}")

    def tasks() -> list:
        rows = json.loads(qunyun("guard", "tasks", "--tenant", tenant, "--json", "--local", echo=False).stdout)
        return [r for r in rows if r["group_id"] == "tea-ding"]

    _wait("the DingTalk operator task", tasks)
    warning = _wait("the DingTalk warning", lambda: next((r for r in robots.received
                                                          if r.robot == "demo-ding-members"), None))
    print(f"the DingTalk group's robot posted: {warning.text}")
    step("The removal is an operator task, with the evidence: `guard tasks`, closed with `guard done ID`")
    qunyun("guard", "tasks", "--tenant", tenant, "--local", logs=False)


def guard_demo(port: int, tenant: str, robots, qunyun: Callable, step: Callable[[str], None], demo: Path) -> None:
    _telegram_part(port, tenant, robots, qunyun, step)
    _dingtalk_part(port, tenant, robots, qunyun, step, demo)
    step("A WeCom customer group cannot be guarded: WeCom gives an app no message text without the paid "
         "archive (会话内容存档), and no API removes a member")
    print("so the guard never sees its messages, and the sweep lists why it skips the group (below).")
    at = (datetime.now(UTC) + timedelta(days=8)).replace(hour=2, minute=0, second=0, microsecond=0)
    step(f"SweepInactive fires a week later ({at.isoformat()}): the silent are listed (mode report)")
    qunyun("local", "run", "SweepInactive", "--at", at.isoformat(), logs=False)
    listed = json.loads(qunyun("sweep", "list", "--tenant", tenant, "--json", "--local", echo=False).stdout)
    qunyun("sweep", "list", "--tenant", tenant, "--local", logs=False)
    tokyo = next((r for r in listed if r["group_id"] == GROUP), {"members": []})
    if f"telegram:{SILENT['id']}" not in {m["member_id"] for m in tokyo["members"]}:
        raise SystemExit("demo: the sweep did not list the member who never spoke")
    wecom = [r for r in listed if r["platform"] == "wecom"]
    if not wecom or not all(r["skipped"] for r in wecom):
        raise SystemExit("demo: the sweep did not say why it skips the WeCom customer groups")
