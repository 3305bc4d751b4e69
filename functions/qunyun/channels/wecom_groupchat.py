"""WeCom's `externalcontact/groupchat/get`: a customer group's members as WeCom lists them, to reconcile a
roster after a lost or reordered `change_external_chat` callback (reference/inbound.md §1). Tokens, retries
and error classification are the mass-send client's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from qunyun.channels.result import Failure, Outcome
from qunyun.channels.wecom_customer_group import ApiResult, Corp, WecomCustomerGroups, classify
from qunyun.domain.roster import WECOM_JOIN_SCENE, PlatformMember


@dataclass(frozen=True)
class GroupChat:
    """A customer group as groupchat/get shows it."""

    chat_id: str
    name: str
    owner: str
    member_version: str
    members: list[PlatformMember]


class WecomGroupChats(WecomCustomerGroups):
    def group_chat(self, corp: Corp, chat_id: str) -> ApiResult[GroupChat]:
        """A customer group with its members (names asked for with `need_name`; each member's `state` is the
        join way's that brought them)."""
        body = self._call(corp, "groupchat/get", {"chat_id": chat_id, "need_name": 1})
        if isinstance(body, Failure):
            return ApiResult.failed(body)
        failure = classify(int(body["errcode"]), str(body.get("errmsg", "")))
        if failure:
            return ApiResult.failed(failure)
        chat = body.get("group_chat") or {}
        members = [PlatformMember(str(m["userid"]), m.get("group_nickname") or m.get("name"),
                                  datetime.fromtimestamp(int(m["join_time"]), UTC) if m.get("join_time") else None,
                                  WECOM_JOIN_SCENE.get(int(m.get("join_scene") or 0), "unknown"),
                                  str(m["state"]) if m.get("state") else None)
                   for m in chat.get("member_list") or [] if m.get("userid")]
        return ApiResult(Outcome.delivered, GroupChat(chat_id, str(chat.get("name") or ""),
                                                      str(chat.get("owner") or ""),
                                                      str(chat.get("member_version") or ""), members))

    def group_members(self, corp: Corp, chat_id: str) -> ApiResult[tuple[str, list[PlatformMember]]]:
        """(member_version, members) of a customer group."""
        got = self.group_chat(corp, chat_id)
        if not got.ok:
            return ApiResult(got.outcome, None, got.retry_after, got.code, got.detail)
        return ApiResult(Outcome.delivered, (got.data.member_version, got.data.members))

    def owner_days(self, corp: Corp, owner: str, first: int, last: int) -> ApiResult[dict[int, dict]]:
        """`groupchat/statistic_group_by_day` of one owner's customer groups from the day starting at Unix time
        `first` to the one starting at `last` (WeCom takes at most 30 days): each day's `data` by its start."""
        body = self._call(corp, "groupchat/statistic_group_by_day",
                          {"day_begin_time": first, "day_end_time": last, "owner_filter": {"userid_list": [owner]}})
        if isinstance(body, Failure):
            return ApiResult.failed(body)
        failure = classify(int(body["errcode"]), str(body.get("errmsg", "")))
        if failure:
            return ApiResult.failed(failure)
        days = {int(i["stat_time"]): dict(i.get("data") or {}) for i in body.get("items") or [] if "stat_time" in i}
        return ApiResult(Outcome.delivered, days)
