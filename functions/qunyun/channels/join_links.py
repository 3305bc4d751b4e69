"""The platforms' join links. WeCom: `externalcontact/groupchat/add_join_way` (scene 2, a QR code; `state` names
the link; up to 5 groups; `auto_create_room` opens a new group when they are full), `get_join_way` for the QR
code's URL, `del_join_way` to stop it. Telegram: `createChatInviteLink` and `revokeChatInviteLink`.

Every call answers a JoinLinkResult and never raises for what the platform says."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from qunyun.channels import transport
from qunyun.channels.result import Failure
from qunyun.channels.telegram_bot import classify as telegram_classify
from qunyun.channels.wecom_customer_group import Corp, WecomCustomerGroups, classify


@dataclass(frozen=True)
class JoinLinkResult:
    ok: bool
    url: str = ""
    config_id: str | None = None
    chat_ids: tuple[str, ...] = ()
    detail: str = field(default="", compare=False)  # why not, for the operator

    @classmethod
    def refused(cls, failure: Failure | str) -> JoinLinkResult:
        return cls(False, detail=failure if isinstance(failure, str) else f"{failure.detail}")


class WecomJoinWays(WecomCustomerGroups):
    def _ok(self, corp: Corp, api: str, payload: dict) -> dict | Failure:
        body = self._call(corp, f"groupchat/{api}", payload)
        if isinstance(body, Failure):
            return body
        return classify(int(body["errcode"]), str(body.get("errmsg", ""))) or body

    def add(self, corp: Corp, state: str, chat_ids: list[str], room_base_name: str, remark: str) -> JoinLinkResult:
        """A QR code into `chat_ids` that opens `room_base_name`N groups when they are full; its URL from
        get_join_way."""
        body = self._ok(corp, "add_join_way", {
            "scene": 2, "remark": remark[:30], "auto_create_room": 1, "room_base_name": room_base_name[:40],
            "room_base_id": 2, "chat_id_list": chat_ids, "state": state})
        if isinstance(body, Failure):
            return JoinLinkResult.refused(body)
        config_id = str(body.get("config_id") or "")
        got = self.get(corp, config_id)
        return JoinLinkResult(got.ok, got.url, config_id, got.chat_ids, got.detail)

    def get(self, corp: Corp, config_id: str) -> JoinLinkResult:
        body = self._ok(corp, "get_join_way", {"config_id": config_id})
        if isinstance(body, Failure):
            return JoinLinkResult.refused(body)
        way = body.get("join_way") or {}
        return JoinLinkResult(bool(way.get("qr_code")), str(way.get("qr_code") or ""), config_id,
                              tuple(str(c) for c in way.get("chat_id_list") or ()),
                              "" if way.get("qr_code") else "WeCom gave the join way no QR code")

    def delete(self, corp: Corp, config_id: str) -> JoinLinkResult:
        body = self._ok(corp, "del_join_way", {"config_id": config_id})
        return JoinLinkResult.refused(body) if isinstance(body, Failure) else JoinLinkResult(True, config_id=config_id)


class TelegramInviteLinks:
    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url, self.timeout = base_url.rstrip("/"), timeout

    def _call(self, bot_token: str, method: str, payload: dict) -> dict | Failure:
        with transport.make_client(self.timeout) as client:
            resp = transport.post(client, f"{self.base_url}/bot{bot_token}/{method}", payload=payload)
            if isinstance(resp, Failure):
                return resp
            body = transport.json_body(resp)
            if body is None or "ok" not in body:
                return transport.unexpected(resp, "Telegram")
            return telegram_classify(resp.status_code, body) or body

    def create(self, bot_token: str, chat_id: str, name: str, expires_at: datetime | None,
               member_limit: int | None) -> JoinLinkResult:
        payload: dict = {"chat_id": chat_id, "name": name}
        if expires_at is not None:
            payload["expire_date"] = int(expires_at.timestamp())
        if member_limit is not None:
            payload["member_limit"] = member_limit
        body = self._call(bot_token, "createChatInviteLink", payload)
        if isinstance(body, Failure):
            return JoinLinkResult.refused(body)
        url = str((body.get("result") or {}).get("invite_link") or "")
        return JoinLinkResult(bool(url), url, None, (chat_id,), "" if url else "Telegram gave no invite link")

    def revoke(self, bot_token: str, chat_id: str, url: str) -> JoinLinkResult:
        body = self._call(bot_token, "revokeChatInviteLink", {"chat_id": chat_id, "invite_link": url})
        return JoinLinkResult.refused(body) if isinstance(body, Failure) else JoinLinkResult(True, url)
