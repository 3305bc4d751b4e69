"""The demo's part with join links: a store's WeCom join QR code (群活码) that rolls over to a second group when the
first is full, each joiner credited to the store through groupchat/get's `state`; a top member's Telegram link
bringing two friends, one of whom leaves the next day; and SettlePoints, run as three days later, releasing the
member's invite points for the friend who stayed.

`DemoJoinLinks` is the stand-in for the platforms' link APIs, served by the demo robots: WeCom's
`groupchat/add_join_way`, `get_join_way`, `del_join_way` and `groupchat/get` (members with their `state`), and
Telegram's `createChatInviteLink` and `revokeChatInviteLink`. `scan` is a customer scanning the QR code. It keeps to
the documented shapes the demo shows (tests/fakes/ holds the faithful fakes, limits and error codes)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from qunyun_ops.demo_wecom import DemoWecom

STORE_GROUP, STORE_CHAT, STORE = "tea-store-sh1", "wrOgQhDgAAcwMTB7YmDkbeBsgT_sh101", "store-03"
TG_GROUP, TG_CHAT, KOC = "tea-tokyo", -1001234567890, "telegram:8001"  # the sample CSV's Telegram group, 小美
WECOM_TOKEN, WECOM_AES_KEY = "demoLinksToken", "a" * 43
GROUPS_CSV = (  # a store's customer group of li.na's, its slots and tags what the group WeCom opens copies
    "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,"
    f"ends_at\n{STORE_GROUP},静安店会员群,store,wecom_customer_group,,,li.na,{STORE_CHAT},,,,store;shanghai,"
    f"{STORE},li.na,\n")


class DemoJoinLinks:
    def __init__(self, wecom: DemoWecom, room_capacity: int = 2):
        self.wecom, self.room_capacity = wecom, room_capacity
        self.ways: dict[str, dict] = {}
        self.chats: dict[str, dict] = {STORE_CHAT: {"name": "静安店会员群", "owner": "li.na", "members": [], "v": 0}}
        self.invite_links: dict[str, dict] = {}
        self._lock = threading.Lock()

    def answer(self, method: str, path: str, query: dict[str, str], body: dict) -> tuple[int, dict] | None:
        if path.startswith("/bot") and path.rsplit("/", 1)[-1] in ("createChatInviteLink", "revokeChatInviteLink"):
            return self._telegram(path.rsplit("/", 1)[-1], body)
        api = path.removeprefix("/cgi-bin/externalcontact/groupchat/")
        routes = {"add_join_way": self._add, "get_join_way": self._get, "del_join_way": self._del,
                  "get": self._groupchat}
        if api == path or api not in routes or method != "POST":
            return None
        if not self.wecom.token_valid(query.get("access_token", "")):
            return 200, {"errcode": 42001, "errmsg": "access_token expired"}
        with self._lock:
            return routes[api](body)

    def _add(self, body: dict) -> tuple[int, dict]:
        chats = body.get("chat_id_list") or []
        if body.get("scene") != 2 or not 1 <= len(chats) <= 5 or len(str(body.get("state", ""))) > 30:
            return 200, {"errcode": 40058, "errmsg": "scene 2, 1 to 5 groups and a state of at most 30 characters"}
        config_id = secrets.token_hex(8)
        self.ways[config_id] = {**body, "config_id": config_id, "chat_id_list": list(chats), "opened": 0}
        return 200, {"errcode": 0, "errmsg": "ok", "config_id": config_id}

    def _get(self, body: dict) -> tuple[int, dict]:
        way = self.ways.get(str(body.get("config_id")))
        if way is None:
            return 200, {"errcode": 40058, "errmsg": "invalid config_id"}
        return 200, {"errcode": 0, "errmsg": "ok", "join_way": {
            **{k: v for k, v in way.items() if k != "opened"},
            "qr_code": f"https://wework.qpic.cn/wwpic/demo_{way['config_id']}/0"}}

    def _del(self, body: dict) -> tuple[int, dict]:
        found = self.ways.pop(str(body.get("config_id")), None)
        return 200, {"errcode": 0 if found else 40058, "errmsg": "ok" if found else "invalid config_id"}

    def _groupchat(self, body: dict) -> tuple[int, dict]:
        chat = self.chats.get(str(body.get("chat_id")))
        if chat is None:
            return 200, {"errcode": 40050, "errmsg": "chat not exist"}
        return 200, {"errcode": 0, "errmsg": "ok", "group_chat": {
            "chat_id": body["chat_id"], "name": chat["name"], "owner": chat["owner"], "create_time": 1700000000,
            "member_list": chat["members"], "admin_list": [], "member_version": str(chat["v"])}}

    def _telegram(self, method: str, body: dict) -> tuple[int, dict]:
        if method == "revokeChatInviteLink":
            link = self.invite_links.get(str(body.get("invite_link")))
            if link is None:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: INVITE_HASH_EXPIRED"}
            link["is_revoked"] = True
            return 200, {"ok": True, "result": link}
        url = f"https://t.me/+demo{secrets.token_urlsafe(8)}"
        link = {"invite_link": url, "name": body.get("name"), "creates_join_request": False, "is_primary": False,
                "is_revoked": False, "creator": {"id": 1, "is_bot": True, "first_name": "qunyun"}}
        self.invite_links[url] = link
        return 200, {"ok": True, "result": link}

    def scan(self, config_id: str, userid: str, name: str, at: int) -> tuple[str, bool]:
        """A customer scans the QR code: into its first group with room, or into `room_base_name`N, which WeCom
        opens (owned by the first group's owner) when all are full. Returns (chat id, whether it is new)."""
        with self._lock:
            way = self.ways[config_id]
            chat_id = next((c for c in way["chat_id_list"] if len(self.chats[c]["members"]) < self.room_capacity),
                           None)
            opened = chat_id is None
            if opened:
                chat_id = f"wrOgQhDgAAcwMTB7YmDkbeBsgT_auto{way['opened'] + 1:02d}"
                first = self.chats[way["chat_id_list"][0]]
                self.chats[chat_id] = {"name": f"{way['room_base_name']}{way['room_base_id'] + way['opened']}",
                                       "owner": first["owner"], "members": [], "v": 0}
                way["opened"] += 1
                way["chat_id_list"].append(chat_id)
            chat = self.chats[chat_id]
            chat["members"].append({"userid": userid, "type": 2, "join_time": at, "join_scene": 3, "name": name,
                                    "state": way["state"], "invitor": {"userid": chat["owner"]}})
            chat["v"] += 1
            return chat_id, opened


def _post(port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status


def _wecom_join(port: int, tenant: str, corp_id: str, chat_id: str, userid: str, at: int) -> int:
    """`change_external_chat` add_member by QR code (JoinScene 3), encrypted and signed as WeCom does."""
    from urllib.parse import urlencode

    from qunyun.inbound.msgcrypt import MsgCrypt

    xml = (f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
           f"<CreateTime>{at}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
           f"<Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[{chat_id}]]></ChatId>"
           f"<ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[add_member]]></UpdateDetail>"
           f"<JoinScene>3</JoinScene><MemChangeCnt>1</MemChangeCnt>"
           f"<MemChangeList><Item><![CDATA[{userid}]]></Item></MemChangeList></xml>")
    sealed = MsgCrypt(WECOM_TOKEN, WECOM_AES_KEY, corp_id).seal(xml, str(int(time.time())), secrets.token_hex(4))
    query = urlencode({"msg_signature": sealed["msg_signature"], "timestamp": sealed["timeStamp"],
                       "nonce": sealed["nonce"]})
    body = (f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><Encrypt><![CDATA[{sealed['encrypt']}]]></Encrypt>"
            "<AgentID><![CDATA[]]></AgentID></xml>").encode()
    return _post(port, f"/v1/inbound/wecom/{tenant}?{query}", body, {"content-type": "text/xml"})


def _telegram_member(port: int, tenant: str, secret_token: str, update_id: int, user: dict, at: int,
                     url: str | None, joined: bool) -> int:
    states = ("left", "member") if joined else ("member", "left")
    update = {"chat": {"id": TG_CHAT, "type": "supergroup", "title": "Tokyo members"}, "from": user, "date": at,
              "old_chat_member": {"status": states[0], "user": user},
              "new_chat_member": {"status": states[1], "user": user}}
    if url:
        update["invite_link"] = {"invite_link": url, "name": "小美的邀请", "creator": {"id": 1, "is_bot": True}}
    body = json.dumps({"update_id": update_id, "chat_member": update}, ensure_ascii=False).encode()
    return _post(port, f"/v1/inbound/telegram/{tenant}", body, {"content-type": "application/json",
                                                                 "X-Telegram-Bot-Api-Secret-Token": secret_token})


def _until(what: str, check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise SystemExit(f"demo: {what} did not happen within {seconds:.0f} s")


def links_demo(port: int, tenant: str, robots, qunyun: Callable, step: Callable[[str], None], corp: tuple[str, str]
               ) -> None:
    links: DemoJoinLinks = robots.links
    step("Join links: a store's WeCom join QR code (群活码) that opens a new group when its group is full")
    # `links create` calls the platforms from the CLI itself: send it to the demo's stand-ins, as the stack is.
    saved = {k: os.environ.get(k) for k in robots.environment()}
    os.environ.update(robots.environment())
    try:
        _links_demo(port, tenant, links, qunyun, step, corp)
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.update({k: v})


def _balance(tenant: str) -> dict:
    """The member's balance, read quietly (zero while the ledger has not heard of them)."""
    shown = subprocess.run([sys.executable, "-m", "qunyun_ops.cli", "points", "show", KOC, "--tenant", tenant,
                            "--local", "--json"], text=True, capture_output=True)
    return json.loads(shown.stdout)["balance"] if shown.returncode == 0 else {
        "available": 0, "pending": 0, "cancelled": 0}


def _links_demo(port: int, tenant: str, links: DemoJoinLinks, qunyun: Callable, step: Callable[[str], None],
                corp: tuple[str, str]) -> None:
    _store_link(port, tenant, links, qunyun, corp)
    step("Join links: a top member's personal Telegram link brings two friends; one leaves the next day")
    joined = _member_link(port, tenant, qunyun)
    step("Three days later: SettlePoints releases the invite points of the friend who stayed")
    before = _balance(tenant)
    at = (datetime.fromtimestamp(joined, UTC) + timedelta(days=3, hours=1)).replace(minute=0, second=0, microsecond=0)
    qunyun("local", "run", "SettlePoints", "--at", at.isoformat(), logs=False)
    gained = {k: _balance(tenant)[k] - before[k] for k in ("available", "pending", "cancelled")}
    print(f"{KOC}: " + ", ".join(f"{k} {v:+d}" for k, v in gained.items()))
    if gained != {"available": 50, "pending": -50, "cancelled": 0}:
        raise SystemExit(f"demo: expected the 50 held points released, got {gained}")
    qunyun("links", "list", "--tenant", tenant, "--group", TG_GROUP, "--local")


def _listed(qunyun: Callable, tenant: str, group: str) -> dict:
    return json.loads(qunyun("links", "list", "--tenant", tenant, "--group", group, "--local", "--json",
                             echo=False).stdout)[0]


def _store_link(port: int, tenant: str, links: DemoJoinLinks, qunyun: Callable, corp: tuple[str, str]) -> None:
    path = Path(tempfile.mkdtemp()) / "store-groups.csv"
    path.write_text(GROUPS_CSV, encoding="utf-8")
    qunyun("groups", "import", str(path), "--tenant", tenant, "--local")
    qunyun("tenants", "wecom", tenant, "--corp-id", corp[0], "--corp-secret-stdin", "--local", stdin=corp[1] + "\n",
           echo=False)
    qunyun("connect", "wecom", "--tenant", tenant, "--token", WECOM_TOKEN, "--aes-key", WECOM_AES_KEY, "--local",
           logs=False)
    made = json.loads(qunyun("links", "create", "--group", STORE_GROUP, "--for", f"store:{STORE}", "--tenant", tenant,
                             "--local", "--json").stdout)
    [way] = links.ways.values()
    print(f"WeCom's join way: state {way['state']!r}, groups {way['chat_id_list']}, auto_create_room "
          f"{way['auto_create_room']} as {way['room_base_name']!r}; the group takes {links.room_capacity} here")
    now = int(time.time())
    for n, name in enumerate(("阿芳", "小李", "陈先生")):
        chat, opened = links.scan(way["config_id"], f"wmDemoScan{n}", name, now + n)
        status = _wecom_join(port, tenant, corp[0], chat, f"wmDemoScan{n}", now + n)
        print(f"{name} scans {made['url']} → {'a new group WeCom opened, ' if opened else ''}{chat}: "
              f"callback HTTP {status}")
    _until("the three joins' attribution", lambda: _listed(qunyun, tenant, STORE_GROUP)["joins"] == 3)
    qunyun("links", "list", "--tenant", tenant, "--group", STORE_GROUP, "--local")
    rolled = [g for g in json.loads(qunyun("groups", "list", "--tenant", tenant, "--local", "--json",
                                           echo=False).stdout) if g["group_id"].startswith(f"{STORE_GROUP}.")]
    print("the group WeCom opened, registered like the first: "
          + json.dumps({k: rolled[0][k] for k in ("group_id", "name", "kind", "tags", "store", "sales_rep", "owner",
                                                  "chat_id")}, ensure_ascii=False))


def _member_link(port: int, tenant: str, qunyun: Callable) -> int:
    """Two friends join through 小美's link, one leaves the next day; returns when they joined."""
    shown = json.loads(qunyun("connect", "telegram", "--tenant", tenant, "--bot-token", "demo-bot-token",
                              "--no-register", "--local", "--json", logs=False, echo=False).stdout)
    before = _balance(tenant)

    def gained(part: str) -> int:
        return _balance(tenant)[part] - before[part]

    made = json.loads(qunyun("links", "create", "--group", TG_GROUP, "--for", f"member:{KOC}", "--name", "小美的邀请",
                             "--tenant", tenant, "--local", "--json").stdout)
    friends = [{"id": 8201, "is_bot": False, "first_name": "Aki"}, {"id": 8202, "is_bot": False, "first_name": "Ren"}]
    joined = int(time.time()) - 5
    for n, friend in enumerate(friends):
        status = _telegram_member(port, tenant, shown["secret_token"], 9100 + n, friend, joined, made["url"], True)
        print(f"{friend['first_name']} joins through {made['url']}: callback HTTP {status}")
    _until("the friends' invite points, held", lambda: gained("pending") == 100)
    print(f"{KOC}'s invite points, held until the friends have stayed 3 days (invite_hold_days): "
          f"pending {gained('pending')}")
    status = _telegram_member(port, tenant, shown["secret_token"], 9102, friends[1], joined + 24 * 3600, None, False)
    print(f"{friends[1]['first_name']} leaves the next day: callback HTTP {status}")
    _until("the leaver's invite cancelled", lambda: gained("cancelled") == 50)
    print(f"the invite for {friends[1]['first_name']} is cancelled: pending {gained('pending')}, cancelled "
          f"{gained('cancelled')}")
    return joined
