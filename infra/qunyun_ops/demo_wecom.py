"""The demo's stand-in for WeCom's server API for customer groups (客户群群发), served by the demo robots' server.

It answers what SendPushes and FollowUpOwnerTasks call (reference/channels.md): `gettoken`, and under
`externalcontact/` `add_msg_template` (a task the owner must confirm), `get_groupmsg_send_result`,
`remind_groupmsg_send` (at most 3 a task in 24 hours) and `cancel_groupmsg_send`. The owner's side is the
demo's: `confirm(msgid, chat_ids)` is the owner tapping "send" for some of the task's groups in the WeCom
client. It keeps to the documented shapes and limits the demo shows, not to every error code (tests/fakes/ holds
the faithful fake).
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field

TOKEN_TTL = 7200
REMINDERS_PER_DAY = 3


@dataclass
class Task:
    msgid: str
    owner: str
    chat_ids: list[str]
    text: str
    status: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # chat → (0 unsent | 1 sent, time)
    reminders: list[float] = field(default_factory=list)
    cancelled: bool = False


def _error(errcode: int, errmsg: str) -> tuple[int, dict]:
    return 200, {"errcode": errcode, "errmsg": errmsg}


class DemoWecom:
    """One corp, its tasks and their reminders; thread-safe (the server answers on many threads)."""

    def __init__(self, corp_id: str, corp_secret: str):
        self.corp_id, self.corp_secret = corp_id, corp_secret
        self.tasks: dict[str, Task] = {}
        self.reminded: list[str] = []  # msgid of every reminder accepted
        self._tokens: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # --- the owner's side -------------------------------------------------------------------------------------

    def confirm(self, msgid: str, chat_ids: list[str]) -> None:
        """The owner sends the task to these of its groups."""
        with self._lock:
            task = self.tasks[msgid]
            for chat in chat_ids:
                if not task.cancelled and task.status.get(chat, (None,))[0] == 0:
                    task.status[chat] = (1, int(time.time()))

    # --- the API ----------------------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, str], body: dict) -> tuple[int, dict] | None:
        """WeCom's answer to a customer-group call, or None when the path is not one of them."""
        if path == "/cgi-bin/gettoken":
            return self._gettoken(query)
        api = path.removeprefix("/cgi-bin/externalcontact/")
        routes = {"add_msg_template": self._add, "get_groupmsg_send_result": self._result,
                  "remind_groupmsg_send": self._remind, "cancel_groupmsg_send": self._cancel}
        if api == path or api not in routes:
            return None
        if method != "POST":
            return _error(43002, "require POST method")
        with self._lock:
            if self._tokens.get(query.get("access_token", ""), 0.0) <= time.time():
                return _error(42001, "access_token expired")
            return routes[api](body)

    def token_valid(self, token: str) -> bool:
        """Whether `gettoken` issued this access token and it has not expired (other stand-ins check it too)."""
        with self._lock:
            return self._tokens.get(token, 0.0) > time.time()

    def _gettoken(self, query: dict[str, str]) -> tuple[int, dict]:
        if query.get("corpid") != self.corp_id:
            return _error(40013, "invalid corpid")
        if query.get("corpsecret") != self.corp_secret:
            return _error(40001, "invalid credential")
        token = secrets.token_hex(16)
        with self._lock:
            self._tokens[token] = time.time() + TOKEN_TTL
        return 200, {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": TOKEN_TTL}

    def _add(self, body: dict) -> tuple[int, dict]:
        chats = list(dict.fromkeys(body.get("chat_id_list") or []))
        if body.get("chat_type") != "group" or not body.get("sender") or not chats:
            return _error(40058, "chat_type group, sender and chat_id_list are required")
        msgid = f"msgDEMO{next(self._ids):04d}"
        task = Task(msgid, str(body["sender"]), chats, str((body.get("text") or {}).get("content", "")))
        task.status = {c: (0, None) for c in chats}
        self.tasks[msgid] = task
        return 200, {"errcode": 0, "errmsg": "ok", "fail_list": [], "msgid": msgid}

    def _result(self, body: dict) -> tuple[int, dict]:
        task = self.tasks.get(str(body.get("msgid", "")))
        if task is None:
            return _error(40058, "invalid msgid")
        rows = [] if body.get("userid") != task.owner else [
            {"chat_id": c, "userid": task.owner, "status": s, **({"send_time": t} if t else {})}
            for c, (s, t) in task.status.items()]
        return 200, {"errcode": 0, "errmsg": "ok", "next_cursor": "", "send_list": rows}

    def _remind(self, body: dict) -> tuple[int, dict]:
        task = self.tasks.get(str(body.get("msgid", "")))
        if task is None or task.cancelled:
            return _error(40058, "invalid msgid")
        now = time.time()
        task.reminders = [t for t in task.reminders if t > now - 86400]
        if len(task.reminders) >= REMINDERS_PER_DAY:
            return _error(45009, "api freq out of limit: at most 3 reminders per task in 24 hours")
        task.reminders.append(now)
        self.reminded.append(task.msgid)
        return _error(0, "ok")

    def _cancel(self, body: dict) -> tuple[int, dict]:
        task = self.tasks.get(str(body.get("msgid", "")))
        if task is None:
            return _error(40058, "invalid msgid")
        task.cancelled = True
        return _error(0, "ok")
