"""Join links (API.md §9): a platform's link into a group that remembers what it is for, so a member who joins
through it is credited to a store, a sales rep, an inviting member or a campaign.

A link works only where the platform tells qunyun which link a joiner used: WeCom customer groups (群活码, whose
`state` groupchat/get shows per member) and Telegram (the `chat_member` update names the invite link). Elsewhere
`links create` refuses, and says why."""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from qunyun.domain.errors import InvalidRequest
from qunyun.domain.events import ID as MEMBER_ID
from qunyun.domain.group_csv import RowError

FOR_KINDS = ("store", "rep", "member", "campaign")
WECOM_STATE_MAX = 30  # add_join_way's `state`, UTF-8 characters
WECOM_MAX_CHATS = 5  # groups one join way covers
TELEGRAM_NAME_MAX = 32  # createChatInviteLink's `name`
TELEGRAM_LIMIT_MAX = 99_999  # createChatInviteLink's `member_limit`
LINK_ID = re.compile(r"^lk[a-z2-7]{8}$")
BULK_COLUMNS = ("group_id", "for", "name")
BULK_MAX_ROWS = 5_000

# Which platform makes a group's links, by the group's channel.
PLATFORM_OF_CHANNEL = {"wecom_customer_group": "wecom", "telegram_bot": "telegram"}
# Why the others cannot have one (reference/inbound.md; each platform's join event).
REFUSALS = {
    "feishu_bot": "Feishu's join event (im.chat.member.user.added_v1) names who joined and who added them, never "
                  "which share link they used, so a Feishu link could not tell whom to credit",
    "dingtalk_robot": "DingTalk's member events (chat_add_member) carry no link, and its robot cannot make one",
    "slack_webhook": "Slack's member_joined_channel names an inviter at most, never an invite link",
    "wecom_robot": "a wecom_robot group is an internal group qunyun only posts into; use its customer group",
    "signed_webhook": "qunyun hears no joins of a signed_webhook group",
    "outbox": "an outbox group is not on any platform",
}


@dataclass(frozen=True)
class LinkFor:
    """What a link is for: `store:ID`, `rep:ID`, `member:ID` (an invite: points for that member) or
    `campaign:NAME`."""

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> LinkFor:
        kind, sep, value = (text or "").strip().partition(":")
        if not sep or kind not in FOR_KINDS or not value.strip():
            raise InvalidRequest(f"--for {text!r} is not one of store:ID, rep:ID, member:ID or campaign:NAME.",
                                 field="for")
        value = value.strip()
        if len(value) > 128 or not value.isprintable():
            raise InvalidRequest(f"--for {text!r}: the id is 1-128 printable characters.", field="for")
        if kind == "member" and not re.match(MEMBER_ID, value):
            raise InvalidRequest(f"--for {text!r}: a member id is what the points API takes (letters, digits and "
                                 "_ . : @ -, such as telegram:1001 or u_123).", field="for")
        return cls(kind, value)


@dataclass
class Link:
    """A stored link. `ref` is what a join names it by: the WeCom `state` (the link id) or the Telegram URL."""

    tenant_id: str
    link_id: str
    group_id: str
    platform: str  # wecom | telegram
    for_: LinkFor
    name: str
    url: str
    ref: str
    created_at: datetime
    expires_at: datetime | None = None
    limit: int | None = None
    config_id: str | None = None  # WeCom's join way
    chat_ids: list[str] = field(default_factory=list)  # the platform chats the link leads into
    status: str = "active"  # active | revoked
    revoked_at: datetime | None = None

    def usable_at(self, at: datetime) -> bool:
        """Whether a join at `at` counts for the link: before it was revoked and before it expired."""
        if self.revoked_at is not None and at >= self.revoked_at:
            return False
        return self.expires_at is None or at < self.expires_at


def new_link_id() -> str:
    """10 characters, so the WeCom `state` (at most 30) and the Telegram name (32) always hold it."""
    return "lk" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(8))


def credited(link_for: str | None, store: str | None, rep: str | None) -> tuple[str | None, str | None]:
    """(store, rep) a member counts for in metrics: the link's where it names one, the group's otherwise."""
    kind, _, value = (link_for or "").partition(":")
    return (value if kind == "store" else store), (value if kind == "rep" else rep)


def check_terms(platform: str, limit: int | None, expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None:
        if expires_at.utcoffset() is None:
            raise InvalidRequest("--expires needs a UTC offset, e.g. 2026-12-31T23:59:00+08:00.", field="expires")
        if expires_at <= now:
            raise InvalidRequest("--expires lies in the past; a link must be usable for a while.", field="expires")
    if limit is not None:
        if platform == "wecom":
            raise InvalidRequest("WeCom's join QR codes have no member limit (a full group rolls over to a new "
                                 "one); leave out --limit.", field="limit")
        if not 1 <= limit <= TELEGRAM_LIMIT_MAX:
            raise InvalidRequest(f"--limit is 1 to {TELEGRAM_LIMIT_MAX} (Telegram's member_limit).", field="limit")
    if expires_at is not None and platform == "wecom":
        raise InvalidRequest("WeCom's join QR codes do not expire by themselves; leave out --expires and revoke "
                             "the link when it should stop.", field="expires")


@dataclass(frozen=True)
class BulkRow:
    line: int
    group_id: str
    for_: LinkFor
    name: str | None


def parse_bulk_csv(text: str) -> tuple[list[BulkRow], list[RowError]]:
    """`group_id,for,name` rows, each checked; every bad row is named with its line."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        return [], [RowError(1, None, "expected a header row: " + ",".join(BULK_COLUMNS))]
    if header != list(BULK_COLUMNS):
        return [], [RowError(1, None, f"the header is {','.join(header)!r}; expected {','.join(BULK_COLUMNS)}")]
    rows, errors = [], []
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(BULK_COLUMNS):
            errors.append(RowError(line, None, f"expected {len(BULK_COLUMNS)} columns, found {len(cells)}"))
            continue
        group_id, target, name = (c.strip() for c in cells)
        if not group_id:
            errors.append(RowError(line, "group_id", "the group id is empty"))
            continue
        try:
            rows.append(BulkRow(line, group_id, LinkFor.parse(target), name or None))
        except InvalidRequest as e:
            errors.append(RowError(line, "for", e.message.replace("--for ", "")))
    if len(rows) + len(errors) > BULK_MAX_ROWS:
        return [], [RowError(1, None, f"at most {BULK_MAX_ROWS} links a file")]
    return rows, errors
