"""Briefs: the morning and evening posts operators write per date (API.md §4), and which group sees what.

A brief is a list of sections (news, tip, product, event, checkin, quiz, text); each may be aimed at some
groups only, by group id, kind or tag ("any of these"). Every text here is shown to members, so the
renderer escapes it per channel dialect; links are checked to be plain http(s) URLs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from types import SimpleNamespace
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qunyun.domain.errors import InvalidRequest, QunyunError
from qunyun.domain.groups import GROUP_ID, Channel, Group, Kind

Edition = Literal["morning", "evening"]
EDITIONS: tuple[str, ...] = ("morning", "evening")
SECTION_KINDS: tuple[str, ...] = ("news", "tip", "product", "event", "checkin", "quiz", "text")

# How each channel formats a message (reference/channels.md); one template per dialect and edition.
DIALECTS: dict[Channel, str] = {
    Channel.wecom_robot: "wecom_markdown",
    Channel.feishu_bot: "feishu_post",
    Channel.dingtalk_robot: "dingtalk_markdown",
    Channel.slack_webhook: "slack_mrkdwn",
    Channel.telegram_bot: "telegram_html",
    Channel.wecom_customer_group: "text",
    Channel.signed_webhook: "text",
    Channel.outbox: "text",
}
DIALECT_NAMES: tuple[str, ...] = tuple(dict.fromkeys(DIALECTS.values()))
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _url(v: str) -> str:
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.netloc or re.search(r"\s", v) or _CONTROL.search(v):
        raise ValueError("expected an http(s) URL without spaces, such as https://example.com/a")
    return v


def _line(v: str) -> str:
    v = v.strip()
    if not v:
        raise ValueError("must not be empty")
    if "\n" in v or "\r" in v or _CONTROL.search(v):
        raise ValueError("must be one line of text")
    return v


def _text(v: str) -> str:
    v = v.strip()
    if not v:
        raise ValueError("must not be empty")
    if _CONTROL.search(v):
        raise ValueError("contains control characters; keep to ordinary text and line breaks")
    return v


Link = Annotated[str, Field(max_length=2048), AfterValidator(_url)]
Line = Annotated[str, Field(max_length=200), AfterValidator(_line)]
Text = Annotated[str, Field(max_length=2000), AfterValidator(_text)]


class Audience(BaseModel):
    """Which groups see a section: any group whose id, kind or one of whose tags is listed."""

    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[str, Field(pattern=GROUP_ID.pattern)]] = Field(default_factory=list, max_length=1000)
    kinds: list[Kind] = Field(default_factory=list)
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _some(self) -> Audience:
        if not (self.ids or self.kinds or self.tags):
            raise ValueError("name at least one of ids, kinds or tags, or leave `for` out to reach every group")
        return self

    def includes(self, group: Group) -> bool:
        return group.group_id in self.ids or group.kind in self.kinds or any(t in self.tags for t in group.tags)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    title: Line | None = None
    audience: Audience | None = Field(None, alias="for")

    def reaches(self, group: Group) -> bool:
        return self.audience is None or self.audience.includes(group)


class NewsItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Line
    link: Link
    summary: Text | None = None


class News(_Section):
    kind: Literal["news"]
    text: Text | None = None
    link: Link | None = None
    items: list[NewsItem] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _something(self) -> News:
        if not (self.title or self.text or self.items):
            raise ValueError("a news section needs a title, a text or items")
        return self


class Tip(_Section):
    kind: Literal["tip"]
    text: Text
    link: Link | None = None


class Product(_Section):
    """A featured product or coupon: price and coupon are shown as written (¥39.9, 满99减20)."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    kind: Literal["product"]
    name: Line
    price: Line | None = None
    coupon: Line | None = None
    text: Text | None = None
    link: Link


class Event(_Section):
    kind: Literal["event"]
    title: Line
    time: datetime
    text: Text | None = None
    link: Link | None = None

    @field_validator("time")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.utcoffset() is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-29T20:00:00+08:00")
        return v


class Checkin(_Section):
    kind: Literal["checkin"]
    text: Text | None = None
    link: Link


class Quiz(_Section):
    kind: Literal["quiz"]
    question: Text
    link: Link


class Note(_Section):
    kind: Literal["text"]
    text: Text
    link: Link | None = None


Section = Annotated[News | Tip | Product | Event | Checkin | Quiz | Note, Field(discriminator="kind")]


class Brief(BaseModel):
    """One edition of one date; adding it again replaces it."""

    model_config = ConfigDict(extra="forbid")

    date: date
    edition: Edition
    title: Line | None = None
    sections: list[Section] = Field(min_length=1, max_length=30)

    def for_group(self, group: Group) -> list[Any]:
        """The sections this group sees, in the file's order."""
        return [s for s in self.sections if s.reaches(group)]

    def stored(self) -> dict:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)


def place(loc: tuple, data: Any) -> tuple:
    """The path of an error in the operator's file: pydantic adds the union tag (`sections.2.news.link`),
    which is not in the file; the file says `sections[2].link`."""
    path, node = [], data
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue
        path.append(part)
        node = node.get(part) if isinstance(node, dict) else (
            node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None)
    return tuple(path)


def dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def problems(error: ValidationError, data: Any) -> list[tuple[tuple, str]]:
    """(path in the file, message) for each error, with messages that say what to write instead."""
    found = []
    for item in error.errors():
        path, msg = place(item["loc"], data), item["msg"].removeprefix("Value error, ")
        if item["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path, msg = (*path, "kind"), f"expected one of {', '.join(SECTION_KINDS)}"
        elif item["type"] == "extra_forbidden":
            msg = "unknown key; check its spelling (docs/briefs.md lists the keys of each section)"
        elif item["type"] == "literal_error" and path[-1:] == ("edition",):
            msg = "expected morning or evening"
        elif item["type"] == "missing":
            msg = "missing; this key is required here"
        elif item["type"] in ("model_type", "model_attributes_type", "dict_type"):
            msg = "expected keys and values here (a YAML mapping such as {kind: tip, text: ...})"
        found.append((path, msg))
    return found


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date such as 2026-11-25") from None


class BriefRenderError(QunyunError):
    """One group's brief could not be rendered; the sender records the reason and goes on to other groups."""

    status, code = 422, "brief_render_failed"

    def __init__(self, reason: str, *, group_id: str | None = None):
        where = f"group {group_id}: " if group_id else ""
        super().__init__(f"{where}the brief could not be rendered: {reason}", reason=reason, group_id=group_id)
        self.reason, self.group_id = reason, group_id

    def for_group(self, group_id: str) -> BriefRenderError:
        return BriefRenderError(self.reason, group_id=group_id)


# Words the shipped templates put around the operator's text; members read them in the tenant's locale.
LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "morning": "早安", "evening": "晚安", "news": "今日要闻", "tip": "小贴士", "product": "好物推荐",
        "price": "价格", "coupon": "优惠", "event": "活动预告", "checkin": "今日打卡",
        "checkin_call": "点这里打卡，连续打卡有额外积分", "quiz": "今晚答题", "quiz_call": "答对得积分",
        "open": "查看", "board": "昨日积分榜", "points": "分", "active": "昨日 {n} 位群友获得积分",
        "morning_close": "祝大家今天顺利！", "evening_close": "晚安，明天见！",
    },
    "en": {
        "morning": "Good morning", "evening": "Good evening", "news": "News", "tip": "Tip",
        "product": "Featured", "price": "Price", "coupon": "Offer", "event": "Coming up",
        "checkin": "Check in today", "checkin_call": "Check in here; streaks earn bonus points",
        "quiz": "Tonight's quiz", "quiz_call": "Answer correctly to earn points", "open": "Open",
        "board": "Yesterday's leaderboard", "points": " pts", "active": "{n} members earned points yesterday",
        "morning_close": "Have a good day!", "evening_close": "Good night, see you tomorrow!",
    },
}
_WEEKDAYS = {"zh-CN": "一二三四五六日", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SECTION_FIELDS = ("kind", "title", "text", "link", "items", "name", "price", "coupon", "time", "question")


def show_date(day: date, locale: str) -> str:
    if locale == "en":
        return f"{_WEEKDAYS['en'][day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"
    return f"{day.month}月{day.day}日 星期{_WEEKDAYS['zh-CN'][day.weekday()]}"


def show_time(when: datetime, timezone: str, locale: str) -> str:
    """An event's time as the group reads it: in the group's timezone."""
    local = when.astimezone(ZoneInfo(timezone))
    if locale == "en":
        return f"{_WEEKDAYS['en'][local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local:%H:%M}"
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def member_name(nickname: str | None, member_id: str) -> str:
    """A nickname on one line and of a sensible length; members without one are shown by a masked id."""
    name = " ".join((nickname or "").split())[:24]
    return name or (member_id[:2] + "***")


def _section_view(section: Any, timezone: str, locale: str) -> SimpleNamespace:
    """Every section has every field (None where its kind has none), so a template may ask any section for
    `s.text`; a namespace, not a dict, so that `s.items` is the news items and not dict.items."""
    data = section.model_dump(exclude={"audience"})
    view = {f: data.get(f) for f in _SECTION_FIELDS}
    view["items"] = [SimpleNamespace(**i) for i in data.get("items") or []]
    if view["time"] is not None:
        view["time"] = show_time(view["time"], timezone, locale)
    return SimpleNamespace(**view)


def compose(brief: Brief, group: Group, timezone: str, locale: str, board: dict | None) -> dict:
    """What a template sees for one group: its name and local date, the sections aimed at it, yesterday's
    points in it (`board`: {day, active, top: [{rank, name, points}]}, None when there are none) and the
    words of the tenant's locale."""
    labels = LABELS.get(locale, LABELS["zh-CN"])
    return {
        "brief": {"title": brief.title or labels[brief.edition], "date": brief.date.isoformat(),
                  "edition": brief.edition},
        "edition": brief.edition,
        "group": {"id": group.group_id, "name": group.name, "kind": group.kind.value, "tags": list(group.tags)},
        "local_date": show_date(brief.date, locale),
        "timezone": timezone,
        "locale": locale,
        "labels": labels,
        "sections": [_section_view(s, timezone, locale) for s in brief.for_group(group)],
        "board": board and {**board, "day": show_date(board["day"], locale),
                            "summary": labels["active"].replace("{n}", str(board["active"]))},
    }


class InvalidBriefFile(InvalidRequest):
    """A brief file with errors: each is named by its place in the file (and line, when known)."""

    code = "invalid_brief_file"

    def __init__(self, source: str, errors: list[dict]):
        super().__init__(f"{source}: {len(errors)} problem(s); nothing was stored. Fix them and add the file again.",
                         errors=errors)


def parse_brief(data: Any, source: str = "the brief", line_of: Callable[[tuple], int | None] = lambda _: None
                ) -> Brief:
    """Checks a brief as the operator wrote it; every problem is reported at once, with its place."""
    try:
        return Brief.model_validate(data)
    except ValidationError as e:
        errors = [{"line": line_of(path), "field": dotted(path), "message": msg} for path, msg in problems(e, data)]
        raise InvalidBriefFile(source, errors) from None
