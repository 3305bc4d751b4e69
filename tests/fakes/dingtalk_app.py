"""DingTalk's server API as the guard calls it, as the tenant's app (reference/inbound.md §3): an access_token
from `GET /gettoken?appkey&appsecret`, then `POST /topapi/im/chat/scenegroup/member/delete?access_token=…`
`{open_conversation_id, user_ids}` on a scene group the app created. Answers carry `errcode` and `errmsg`."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from fakes.base import Answer, Request, json_or_none


@dataclass
class SceneGroup:
    open_conversation_id: str
    members: set[str] = field(default_factory=set)


def error(errcode: int, errmsg: str) -> Answer:
    return Answer(200, {"errcode": errcode, "errmsg": errmsg})


class DingtalkApp:
    """Mixed into the fake DingTalk: the app's API routes beside the custom robot's."""

    def _init_app(self) -> None:
        self.apps: dict[str, str] = {}
        self.tokens: dict[str, str] = {}  # access_token → app key
        self.scene_groups: dict[str, SceneGroup] = {}
        self.removed: list[tuple[str, str]] = []  # (open conversation id, user id)
        self._serial = itertools.count(1)

    def add_app(self, app_key: str, app_secret: str) -> None:
        self.apps[app_key] = app_secret

    def add_scene_group(self, open_conversation_id: str, members=()) -> SceneGroup:
        self.scene_groups[open_conversation_id] = SceneGroup(open_conversation_id, set(members))
        return self.scene_groups[open_conversation_id]

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def handle_app(self, request: Request) -> Answer | None:
        if request.path == "/gettoken" and request.method == "GET":
            key, secret = request.query.get("appkey", ""), request.query.get("appsecret", "")
            if not secret or self.apps.get(key) != secret:
                return error(40089, "不合法的appKey或appSecret")
            token = f"dt-{next(self._serial)}"
            self.tokens[token] = key
            return Answer(200, {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})
        if request.path != "/topapi/im/chat/scenegroup/member/delete":
            return None
        if request.query.get("access_token") not in self.tokens:
            return error(40014, "不合法的access_token")
        body = json_or_none(request) or {}
        group = self.scene_groups.get(str(body.get("open_conversation_id")))
        users = [u for u in str(body.get("user_ids") or "").split(",") if u]
        if not users:
            return error(40035, "缺少参数 user_ids")
        if group is None:
            return error(4000003, "OpenConversationId 对应的群不是由群模板创建的")
        for user in users:
            if user in group.members:
                group.members.discard(user)
                self.removed.append((group.open_conversation_id, user))
        return Answer(200, {"errcode": 0, "errmsg": "ok", "success": True, "result": True})
