"""WeCom customer-group mass sends (客户群群发): the only official way into external customer groups.

`add_msg_template` does not send; it creates a task the group owner confirms in the WeCom client
(reference/channels.md). Follow-ups read each group's outcome (`get_groupmsg_send_result`), remind the owner
(at most 3 times in 24 h) or cancel the task. This module is the API client and its error classification;
deciding what to spend each group's scarce monthly quota on is the quota planner's job.

The access token comes from `gettoken`, is cached per corp in the process until shortly before it expires,
and is fetched again once when an API answers 40014 (invalid) or 42001 (expired).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from qunyun.channels import transport
from qunyun.channels.base import Clock
from qunyun.channels.result import Failure, Outcome, permanent, transient
from qunyun.channels.split import trim

T = TypeVar("T")
MAX_CHATS = 2000  # groups of one owner per task
TEXT_LIMIT_BYTES = 4000  # text.content of add_msg_template (doc 92135)
TOKEN_MARGIN_SECONDS = 300  # fetch a new token this long before the old one expires
STALE_TOKEN = (40014, 42001)
STATUS = {0: "unsent", 1: "sent", 2: "failed", 3: "failed"}
FAILURE_REASON = {2: "not_member", 3: "quota_exhausted"}  # 3: the group already got another mass send

ERRORS = {
    -1: (True, "WeCom is busy"),
    45009: (True, "WeCom's call frequency limit was reached"),
    45033: (True, "too many concurrent calls"),
    40001: (False, "the corp secret is invalid or was reset"),
    40013: (False, "the corp id is invalid"),
    40014: (True, "the access token was refused even after fetching a new one"),
    42001: (True, "the access token expired even after fetching a new one"),
    40058: (False, "WeCom rejected a parameter"),
    48002: (False, "the app may not call this API (客户联系 permission?)"),
    60011: (False, "the app cannot see this member"),
    60111: (False, "the owner's userid does not exist"),
    60020: (False, "this server's IP is not in the app's trusted IPs"),
}

# Refusals about the corp's credentials or the app's rights rather than one call: every task of the tenant
# meets them alike until an administrator fixes the secret or the permissions.
CORP_ERRORS = frozenset({"40001", "40013", "48002", "60020"})


def classify(errcode: int, errmsg: str, *, rate_window: float = 60.0) -> Failure | None:
    if errcode == 0:
        return None
    retry, meaning = ERRORS.get(errcode, (False, "WeCom refused the request"))
    detail = f"{meaning} ({errcode}: {errmsg[:160]})"
    if not retry:
        return permanent(str(errcode), detail)
    return transient(str(errcode), detail, rate_window if errcode in (45009, 45033) else 1.0)


@dataclass(frozen=True)
class Corp:
    corp_id: str
    secret: str = field(repr=False)  # the 客户联系 secret (or an app's allowed to call it)


@dataclass(frozen=True)
class ApiResult(Generic[T]):
    outcome: Outcome
    data: T | None = None
    retry_after: float | None = None
    code: str = ""
    detail: str = field(default="", compare=False)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.delivered

    @classmethod
    def failed(cls, failure: Failure) -> ApiResult:
        return cls(failure.outcome, None, failure.retry_after, failure.code, failure.detail)


@dataclass(frozen=True)
class TemplateCreated:
    msgid: str
    fail_list: tuple[str, ...]  # chat ids WeCom refused up front (not the owner's, dissolved, ...)
    text: str  # what the owner will be asked to send, trimmed to the limit


@dataclass(frozen=True)
class GroupStatus:
    chat_id: str
    owner: str
    status: Literal["unsent", "sent", "failed"]
    reason: str | None = None  # for failed: not_member or quota_exhausted
    send_time: int | None = None


@dataclass(frozen=True)
class SendResultPage:
    groups: tuple[GroupStatus, ...]
    next_cursor: str  # empty on the last page


class TokenCache:
    """access_token per (host, corp, secret), shared by every client in the process (a warm Lambda)."""

    def __init__(self):
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(base_url: str, corp: Corp) -> tuple[str, str, str]:
        return base_url, corp.corp_id, hashlib.sha256(corp.secret.encode()).hexdigest()[:16]

    def get(self, key: tuple[str, str, str], now: float) -> str | None:
        with self._lock:
            token, expires_at = self._tokens.get(key, ("", 0.0))
            return token if token and now < expires_at else None

    def put(self, key: tuple[str, str, str], token: str, expires_at: float) -> None:
        with self._lock:
            self._tokens[key] = (token, expires_at)

    def drop(self, key: tuple[str, str, str], token: str) -> None:
        with self._lock:
            if self._tokens.get(key, ("",))[0] == token:  # another thread may have refreshed it already
                del self._tokens[key]


TOKENS = TokenCache()


class WecomCustomerGroups:
    """The mass-send API for one base URL; every call returns an ApiResult and never raises for WeCom's errors."""

    def __init__(self, base_url: str | None = None, *, client=None, timeout: float | None = None,
                 clock: Clock = time.time, tokens: TokenCache | None = None):
        if base_url is None or timeout is None:
            from qunyun.settings import get_settings

            settings = get_settings()
            base_url = settings.wecom_base_url if base_url is None else base_url
            timeout = settings.channel_timeout_seconds if timeout is None else timeout
        self.base_url = base_url.rstrip("/")
        self.client = client or transport.make_client(timeout)
        self.clock = clock
        self.tokens = tokens or TOKENS

    def close(self) -> None:
        self.client.close()

    def _fetch_token(self, corp: Corp) -> str | Failure:
        key = TokenCache.key(self.base_url, corp)
        resp = transport.get(self.client, f"{self.base_url}/cgi-bin/gettoken",
                             {"corpid": corp.corp_id, "corpsecret": corp.secret})
        if isinstance(resp, Failure):
            return resp
        body = transport.json_body(resp)
        if body is None or "errcode" not in body and "access_token" not in body:
            return transport.unexpected(resp, "WeCom")
        failure = classify(int(body.get("errcode", 0)), str(body.get("errmsg", "")))
        if failure:
            return failure
        expires_in = float(body.get("expires_in") or 7200)
        self.tokens.put(key, body["access_token"], self.clock() + expires_in - TOKEN_MARGIN_SECONDS)
        return body["access_token"]

    def _call(self, corp: Corp, api: str, payload: dict) -> dict | Failure:
        """POSTs to /cgi-bin/externalcontact/{api}; a stale token is replaced and the call made once more."""
        key = TokenCache.key(self.base_url, corp)
        for attempt in range(2):
            token = self.tokens.get(key, self.clock()) or self._fetch_token(corp)
            if isinstance(token, Failure):
                return token
            resp = transport.post(self.client, f"{self.base_url}/cgi-bin/externalcontact/{api}",
                                  params={"access_token": token}, payload=payload)
            if isinstance(resp, Failure):
                return resp
            body = transport.json_body(resp)
            if body is None or "errcode" not in body:
                return transport.unexpected(resp, "WeCom")
            if int(body["errcode"]) in STALE_TOKEN and attempt == 0:
                self.tokens.drop(key, token)
                continue
            return body
        raise AssertionError("unreachable")  # the second attempt always returns

    def add_msg_template(self, corp: Corp, sender: str, chat_ids: list[str], text: str, *,
                         read_more_url: str | None = None, read_more_label: str = "阅读全文"
                         ) -> ApiResult[TemplateCreated]:
        """Creates a mass-send task of `text` to `chat_ids`, all owned by `sender`; the owner must confirm it.

        One task spends one send of each group's monthly quota once confirmed, so long text is trimmed with a
        read-more link rather than split into several tasks.
        """
        if not chat_ids or len(chat_ids) > MAX_CHATS:
            raise ValueError(f"a mass-send task covers 1 to {MAX_CHATS} groups of one owner, not {len(chat_ids)}")
        content = trim(text, TEXT_LIMIT_BYTES, unit="bytes", markup="plain", read_more_url=read_more_url,
                       read_more_label=read_more_label)
        body = self._call(corp, "add_msg_template", {"chat_type": "group", "sender": sender,
                                                      "chat_id_list": list(chat_ids), "text": {"content": content}})
        if isinstance(body, Failure):
            return ApiResult.failed(body)
        failure = classify(int(body["errcode"]), str(body.get("errmsg", "")))
        if failure:
            return ApiResult.failed(failure)
        return ApiResult(Outcome.delivered, TemplateCreated(str(body["msgid"]), tuple(body.get("fail_list") or ()),
                                                            content))

    def get_groupmsg_send_result(self, corp: Corp, msgid: str, sender: str, *, cursor: str = "",
                                 limit: int = 500) -> ApiResult[SendResultPage]:
        """One page of each group's outcome for the owner `sender`: unsent, sent or failed (and why)."""
        payload = {"msgid": msgid, "userid": sender, "limit": min(max(limit, 1), 1000)}
        if cursor:
            payload["cursor"] = cursor
        body = self._call(corp, "get_groupmsg_send_result", payload)
        if isinstance(body, Failure):
            return ApiResult.failed(body)
        failure = classify(int(body["errcode"]), str(body.get("errmsg", "")))
        if failure:
            return ApiResult.failed(failure)
        groups = tuple(
            GroupStatus(chat_id=str(row.get("chat_id", "")), owner=str(row.get("userid", sender)),
                        status=STATUS.get(int(row.get("status", 0)), "failed"),
                        reason=FAILURE_REASON.get(int(row.get("status", 0))),
                        send_time=row.get("send_time"))
            for row in body.get("send_list") or ())
        return ApiResult(Outcome.delivered, SendResultPage(groups, str(body.get("next_cursor") or "")))

    def all_send_results(self, corp: Corp, msgid: str, sender: str, *, limit: int = 1000
                         ) -> ApiResult[tuple[GroupStatus, ...]]:
        """Every page of get_groupmsg_send_result, following the cursor."""
        groups: list[GroupStatus] = []
        cursor = ""
        while True:
            page = self.get_groupmsg_send_result(corp, msgid, sender, cursor=cursor, limit=limit)
            if not page.ok:
                return ApiResult(page.outcome, None, page.retry_after, page.code, page.detail)
            groups.extend(page.data.groups)
            if not page.data.next_cursor or page.data.next_cursor == cursor:
                return ApiResult(Outcome.delivered, tuple(groups))
            cursor = page.data.next_cursor

    def remind_groupmsg_send(self, corp: Corp, msgid: str) -> ApiResult[None]:
        """Reminds the owner to confirm the task; WeCom allows 3 reminders per task in 24 hours.

        A refusal over that limit is transient: a reminder is possible again once the day has passed.
        """
        return self._simple(corp, "remind_groupmsg_send", msgid, rate_window=24 * 3600.0)

    def cancel_groupmsg_send(self, corp: Corp, msgid: str) -> ApiResult[None]:
        """Stops the task: groups the owner has not sent to yet will not receive it."""
        return self._simple(corp, "cancel_groupmsg_send", msgid)

    def _simple(self, corp: Corp, api: str, msgid: str, rate_window: float = 60.0) -> ApiResult[None]:
        body = self._call(corp, api, {"msgid": msgid})
        if isinstance(body, Failure):
            return ApiResult.failed(body)
        failure = classify(int(body["errcode"]), str(body.get("errmsg", "")), rate_window=rate_window)
        return ApiResult.failed(failure) if failure else ApiResult(Outcome.delivered)
