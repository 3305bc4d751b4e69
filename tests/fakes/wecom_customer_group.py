"""Fake WeCom customer-group mass send: gettoken, add_msg_template and its follow-ups (reference/channels.md).

The owner's side is a test helper: `confirm(msgid, owner, chat_ids)` is the owner tapping "send" for some of
the task's groups; the others stay unsent. Each group's monthly quota (as many mass sends as the month has
days) is counted, and a confirmation past it fails that group with status 3. Reminders are limited to 3 a
task in any 24 hours (a fourth answers 45009); `reminded` keeps every reminder accepted and `refused_reminders`
counts the others. A task cancelled once is cancelled again without complaint; what WeCom answers to that is
not documented, so `cancel_again_errcode` lets a test make it refuse instead.

Group welcome templates (`group_welcome_template/add|edit`, WeCom doc 92366) are kept per corp in
`welcome_templates`: text.content up to 3000 bytes, not all of text and attachments empty, 100 templates a corp;
an edit names a template the corp added. WeCom's errcode for a full library is not documented: 40058 here, as for
every other parameter it rejects.

`groupchat/statistic_group_by_day` answers from `set_statistic(owner, stat_time, data)`: per day (its start in
China Standard Time, as WeCom counts) the sum of the listed owners' figures, zeros for a day nothing was set; it
refuses a span over 30 days, a day more than 180 days back, and an owner list empty or over 100.
"""

from __future__ import annotations

import calendar
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fakes.base import Answer, FakeServer, Request, json_or_none

TOKEN_TTL = 7200
MAX_CHATS = 2000
TEXT_LIMIT = 4000
WELCOME_TEXT_LIMIT, WELCOME_LIBRARY = 3000, 100
WELCOME_PARTS = ("text", "image", "link", "miniprogram", "file", "video")
REMINDS_PER_DAY = 3
DEFAULT_LIMIT, MAX_LIMIT = 500, 1000
CST = timedelta(hours=8)  # quota months follow China Standard Time
STAT_FIELDS = ("new_chat_cnt", "chat_total", "chat_has_msg", "new_member_cnt", "member_total", "member_has_msg",
               "msg_total")


@dataclass
class Task:
    msgid: str
    sender: str
    chat_ids: list[str]
    text: str
    created_at: float
    status: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # chat → (status, send_time)
    reminders: list[float] = field(default_factory=list)
    cancelled: bool = False


def error(errcode: int, errmsg: str) -> Answer:
    return Answer(200, {"errcode": errcode, "errmsg": errmsg})


class FakeWecomCustomerGroups(FakeServer):
    def __init__(self, clock=None):
        super().__init__(clock)
        self.corps: dict[str, str] = {}
        self.owners: dict[str, set[str]] = {}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.tasks: dict[str, Task] = {}
        self.sends: dict[tuple[str, str], int] = {}  # (chat, yyyy-mm) → mass sends received
        self.gettoken_calls = 0
        self.reminded: list[tuple[str, float]] = []  # (msgid, when) of every reminder accepted
        self.refused_reminders = 0
        self.cancel_again_errcode: int | None = None
        # chat id → (member_version, [{userid, join_time, join_scene, name}]) that groupchat/get answers
        self.groupchats: dict[str, tuple[str, list[dict]]] = {}
        # template_id → {"corp": corp id, "text": text.content, "notify": notify, "edits": n}
        self.welcome_templates: dict[str, dict] = {}
        self.statistics: dict[tuple[str, int], dict[str, int]] = {}  # (owner, day start) → that day's figures
        self.chat_names: dict[str, str] = {}
        self.chat_owners: dict[str, str] = {}
        # Join ways (群活码): config id → add_join_way's parameters, chat_id_list growing as WeCom opens groups.
        self.join_ways: dict[str, dict] = {}
        self.room_capacity = 200  # members a customer group takes before a join way moves on to the next
        self._ids = itertools.count(1)

    # --- setup and the owner's side ------------------------------------------------------------------------------

    def add_corp(self, corp_id: str, secret: str) -> None:
        self.corps[corp_id] = secret

    def add_owner(self, userid: str, chat_ids: list[str]) -> None:
        self.owners.setdefault(userid, set()).update(chat_ids)

    def reset_secret(self, corp_id: str) -> None:
        """The admin reset the secret: the old one and every token issued with it stop working."""
        self.corps[corp_id] = secrets.token_hex(8)
        self.tokens = {t: v for t, v in self.tokens.items() if v[0] != corp_id}

    def expire_tokens(self) -> None:
        self.tokens = {t: (corp, 0.0) for t, (corp, _) in self.tokens.items()}

    def force_errcode(self, errcode: int, seconds: float, errmsg: str = "forced") -> None:
        self.force(error(errcode, errmsg), seconds)

    def confirm(self, msgid: str, owner: str, chat_ids: list[str]) -> dict[str, int]:
        """The owner sends the task to `chat_ids`; returns each group's new status (1 sent, 3 over quota)."""
        with self.lock:
            task = self.tasks[msgid]
            assert owner == task.sender, "only the task's sender can confirm it"
            changed = {}
            if task.cancelled:
                return changed
            now = self.clock()
            month = (datetime.fromtimestamp(now, UTC) + CST).strftime("%Y-%m")
            year, mon = map(int, month.split("-"))
            for chat in chat_ids:
                if task.status.get(chat, (None,))[0] != 0:
                    continue
                used = self.sends.get((chat, month), 0)
                if used >= calendar.monthrange(year, mon)[1]:
                    task.status[chat] = (3, None)
                else:
                    self.sends[(chat, month)] = used + 1
                    task.status[chat] = (1, int(now))
                changed[chat] = task.status[chat][0]
            return changed

    # --- the API --------------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Answer:
        if request.path == "/cgi-bin/gettoken":
            return self._gettoken(request.query)
        api = request.path.removeprefix("/cgi-bin/externalcontact/")
        routes = {"add_msg_template": self._add_msg_template, "get_groupmsg_send_result": self._send_result,
                  "remind_groupmsg_send": self._remind, "cancel_groupmsg_send": self._cancel,
                  "groupchat/get": self._groupchat_get, "group_welcome_template/add": self._welcome_add,
                  "group_welcome_template/edit": self._welcome_edit,
                  "groupchat/statistic_group_by_day": self._statistic_by_day,
                  "groupchat/add_join_way": self._add_join_way, "groupchat/get_join_way": self._get_join_way,
                  "groupchat/del_join_way": self._del_join_way}
        if request.method != "POST" or api not in routes:
            return Answer(404, "not found")
        token = request.query.get("access_token")
        if not token:
            return error(41001, "access_token missing")
        if token not in self.tokens:
            return error(40014, "invalid access_token")
        if self.tokens[token][1] <= self.clock():
            return error(42001, "access_token expired")
        body = json_or_none(request)
        if not isinstance(body, dict):
            return error(47001, "data format error")
        if api.startswith("group_welcome_template/"):
            return routes[api](body, self.tokens[token][0])
        return routes[api](body)

    def _gettoken(self, query: dict[str, str]) -> Answer:
        self.gettoken_calls += 1
        corp = query.get("corpid", "")
        if corp not in self.corps:
            return error(40013, "invalid corpid")
        if query.get("corpsecret") != self.corps[corp]:
            return error(40001, "invalid credential")
        token = secrets.token_hex(16)
        self.tokens[token] = (corp, self.clock() + TOKEN_TTL)
        return Answer(200, {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": TOKEN_TTL})

    def _add_msg_template(self, body: dict) -> Answer:
        if body.get("chat_type") != "group":
            return error(40058, "chat_type must be group for customer groups")
        sender = body.get("sender")
        if not sender:
            return error(41063, "sender required for chat_type group")
        if sender not in self.owners:
            return error(60111, "userid not found")
        chats = body.get("chat_id_list") or []
        if not chats or len(chats) > MAX_CHATS:
            return error(40058, f"chat_id_list size must be 1..{MAX_CHATS}")
        content = str((body.get("text") or {}).get("content", ""))
        if not content and not body.get("attachments"):
            return error(41053, "text or attachments required")
        if len(content.encode("utf-8")) > TEXT_LIMIT:
            return error(40058, f"text.content exceeds {TEXT_LIMIT} bytes")
        owned = self.owners[sender]
        valid = [c for c in dict.fromkeys(chats) if c in owned]
        fail_list = [c for c in dict.fromkeys(chats) if c not in owned]
        msgid = f"msg{next(self._ids):06d}"
        task = Task(msgid, sender, valid, content, self.clock())
        task.status = {c: (0, None) for c in valid}
        self.tasks[msgid] = task
        return Answer(200, {"errcode": 0, "errmsg": "ok", "fail_list": fail_list, "msgid": msgid})

    def _send_result(self, body: dict) -> Answer:
        task = self.tasks.get(str(body.get("msgid", "")))
        if task is None:
            return error(40058, "invalid msgid")
        rows = [] if body.get("userid") != task.sender else [
            {"chat_id": c, "userid": task.sender, "status": s, **({"send_time": t} if t else {})}
            for c, (s, t) in task.status.items()]
        limit = int(body.get("limit") or DEFAULT_LIMIT)
        limit = DEFAULT_LIMIT if limit > MAX_LIMIT or limit < 1 else limit
        start = int(body.get("cursor") or 0)
        page = rows[start:start + limit]
        more = start + limit < len(rows)
        return Answer(200, {"errcode": 0, "errmsg": "ok", "next_cursor": str(start + limit) if more else "",
                            "send_list": page})

    def _remind(self, body: dict) -> Answer:
        task = self.tasks.get(str(body.get("msgid", "")))
        if task is None or task.cancelled:
            return error(40058, "invalid msgid")
        now = self.clock()
        task.reminders = [t for t in task.reminders if t > now - 86400]
        if len(task.reminders) >= REMINDS_PER_DAY:
            self.refused_reminders += 1
            return error(45009, "api freq out of limit: at most 3 reminders per task in 24 hours")
        task.reminders.append(now)
        self.reminded.append((task.msgid, now))
        return error(0, "ok")

    def _cancel(self, body: dict) -> Answer:
        task = self.tasks.get(str(body.get("msgid", "")))
        if task is None:
            return error(40058, "invalid msgid")
        if task.cancelled and self.cancel_again_errcode is not None:
            return error(self.cancel_again_errcode, "the task was cancelled already")
        task.cancelled = True
        return error(0, "ok")

    def set_groupchat(self, chat_id: str, member_version: str, members: list[dict]) -> None:
        self.groupchats[chat_id] = (member_version, members)

    def _groupchat_get(self, body: dict) -> Answer:
        if str(body.get("chat_id")) not in self.groupchats:
            return error(40050, "chat not exist")
        version, members = self.groupchats[str(body["chat_id"])]
        member_list = [{"type": 2, "invitor": {"userid": "owner"}, **m} for m in members]
        if not body.get("need_name"):
            member_list = [{k: v for k, v in m.items() if k != "name"} for m in member_list]
        chat = str(body["chat_id"])
        return Answer(200, {"errcode": 0, "errmsg": "ok", "group_chat": {
            "chat_id": chat, "name": self.chat_names.get(chat, "group"), "owner": self._owner_of(chat),
            "create_time": 1700000000,
            "member_list": member_list, "admin_list": [], "member_version": version}})

    @staticmethod
    def _welcome_refusal(body: dict) -> Answer | None:
        content = str((body.get("text") or {}).get("content", ""))
        if not content and not any(body.get(part) for part in WELCOME_PARTS[1:]):
            return error(40058, "text, image, link, miniprogram, file and video cannot all be empty")
        if len(content.encode("utf-8")) > WELCOME_TEXT_LIMIT:
            return error(40058, f"text.content exceeds {WELCOME_TEXT_LIMIT} bytes")
        return None

    def _welcome_add(self, body: dict, corp: str) -> Answer:
        refused = self._welcome_refusal(body)
        if refused:
            return refused
        if sum(1 for t in self.welcome_templates.values() if t["corp"] == corp) >= WELCOME_LIBRARY:
            return error(40058, f"the group welcome library holds {WELCOME_LIBRARY} templates at most")
        template_id = f"msg{secrets.token_hex(8)}"
        self.welcome_templates[template_id] = {"corp": corp, "text": (body.get("text") or {}).get("content", ""),
                                               "notify": body.get("notify", 1), "edits": 0}
        return Answer(200, {"errcode": 0, "errmsg": "ok", "template_id": template_id})

    def _welcome_edit(self, body: dict, corp: str) -> Answer:
        template = self.welcome_templates.get(str(body.get("template_id", "")))
        if template is None or template["corp"] != corp:  # only a template the corp's app added can be edited
            return error(40058, "invalid template_id")
        refused = self._welcome_refusal(body)
        if refused:
            return refused
        template["text"] = (body.get("text") or {}).get("content", "")
        template["edits"] += 1
        return error(0, "ok")

    def set_statistic(self, owner: str, stat_time: int, data: dict[str, int]) -> None:
        self.statistics[(owner, stat_time)] = dict(data)

    def _statistic_by_day(self, body: dict) -> Answer:
        owners = list(((body.get("owner_filter") or {}).get("userid_list")) or [])
        if not owners or len(owners) > 100:
            return error(40058, "owner_filter.userid_list must hold 1..100 userids")
        try:
            begin = int(body["day_begin_time"])
            end = int(body.get("day_end_time") or begin)
        except (KeyError, TypeError, ValueError):
            return error(40058, "day_begin_time required")
        if end < begin or end - begin > 29 * 86400 or begin < self.clock() - 180 * 86400:
            return error(40058, "the range must lie within 180 days back and span at most 30 days")
        items = []
        for start in range(begin, end + 1, 86400):
            data = {f: 0 for f in STAT_FIELDS}
            for owner in owners:
                for f, v in self.statistics.get((owner, start), {}).items():
                    data[f] = data.get(f, 0) + v
            items.append({"stat_time": start, "data": data})
        return Answer(200, {"errcode": 0, "errmsg": "ok", "items": items})

    def calls(self, api: str) -> int:
        """Requests made to one API (`remind_groupmsg_send`, ...), answered or refused."""
        return sum(1 for r in self.requests if r.path.endswith(f"/{api}"))

    # --- join ways (群活码): add_join_way, get_join_way, del_join_way, and a customer scanning the QR code -------

    def _owner_of(self, chat_id: str) -> str:
        return self.chat_owners.get(chat_id) or next(
            (u for u, chats in self.owners.items() if chat_id in chats), "owner")

    def _known_chat(self, chat_id: str) -> bool:
        return chat_id in self.groupchats or any(chat_id in chats for chats in self.owners.values())

    def _add_join_way(self, body: dict) -> Answer:
        if body.get("scene") not in (1, 2):
            return error(40058, "scene must be 1 (mini program) or 2 (QR code)")
        chats = body.get("chat_id_list")
        if not isinstance(chats, list) or not 1 <= len(chats) <= 5:
            return error(40058, "chat_id_list holds 1 to 5 customer groups")
        if any(not self._known_chat(str(c)) for c in chats):
            return error(40050, "chat not exist")
        if len(str(body.get("state") or "")) > 30:
            return error(40058, "state is at most 30 characters")
        if body.get("auto_create_room", 1) and len(str(body.get("room_base_name") or "")) > 40:
            return error(40058, "room_base_name is at most 40 characters")
        config_id = secrets.token_hex(16)
        self.join_ways[config_id] = {
            "config_id": config_id, "scene": body["scene"], "remark": str(body.get("remark") or "")[:30],
            "auto_create_room": int(body.get("auto_create_room", 1)), "room_base_name": body.get("room_base_name"),
            "room_base_id": int(body.get("room_base_id") or 1), "chat_id_list": [str(c) for c in chats],
            "state": str(body.get("state") or ""), "created": 0}
        return Answer(200, {"errcode": 0, "errmsg": "ok", "config_id": config_id})

    def _get_join_way(self, body: dict) -> Answer:
        way = self.join_ways.get(str(body.get("config_id", "")))
        if way is None:
            return error(40058, "invalid config_id")
        shown = {k: v for k, v in way.items() if k != "created"}
        if way["scene"] == 2:
            shown["qr_code"] = f"https://wework.qpic.cn/wwpic/{way['config_id'][:12]}/0"
        return Answer(200, {"errcode": 0, "errmsg": "ok", "join_way": shown})

    def _del_join_way(self, body: dict) -> Answer:
        if self.join_ways.pop(str(body.get("config_id", "")), None) is None:
            return error(40058, "invalid config_id")
        return error(0, "ok")

    def scan(self, config_id: str, userid: str, name: str, at: int) -> tuple[str, bool]:
        """A customer scans the join way's QR code and joins its first group with room; when all are full and
        `auto_create_room` is on, WeCom opens `room_base_name`N (owned by the first group's owner) and adds it to
        the join way. The member is listed with the join way's `state`. Returns (chat id, whether it is new)."""
        with self.lock:
            way = self.join_ways[config_id]
            room = next((c for c in way["chat_id_list"] if len(self.groupchats.get(c, ("", []))[1])
                         < self.room_capacity), None)
            created = room is None
            if created:
                assert way["auto_create_room"], "the groups are full and the join way opens none"
                first = way["chat_id_list"][0]
                room = f"wrAuto{next(self._ids):04d}"
                self.chat_names[room] = f"{way['room_base_name']}{way['room_base_id'] + way['created']}"
                self.chat_owners[room] = self._owner_of(first)
                for chats in self.owners.values():
                    if first in chats:
                        chats.add(room)
                way["created"] += 1
                way["chat_id_list"].append(room)
            version, members = self.groupchats.get(room, ("0", []))
            members = [*members, {"userid": userid, "join_time": at, "join_scene": 3, "name": name,
                                  "state": way["state"]}]
            self.groupchats[room] = (str(int(version or 0) + 1), members)
            return room, created

    def leave(self, chat_id: str, userid: str) -> None:
        version, members = self.groupchats[chat_id]
        self.groupchats[chat_id] = (str(int(version) + 1), [m for m in members if m["userid"] != userid])
