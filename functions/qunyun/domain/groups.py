"""Groups: the customer groups an operator runs, one CSV row each (API.md §4)."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator, model_validator

COLUMNS = (
    "group_id", "name", "kind", "channel", "webhook_url", "secret", "owner", "chat_id", "timezone",
    "morning", "evening", "tags", "store", "sales_rep", "ends_at",
)
REQUIRED_COLUMNS = ("group_id", "name", "kind", "channel")
DEFAULT_SLOTS = {"morning": "08:00", "evening": "20:30"}
GROUP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
SLOT = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Kind(StrEnum):
    traffic = "traffic"
    welfare = "welfare"
    flash = "flash"
    learning = "learning"
    store = "store"
    other = "other"


class Channel(StrEnum):
    wecom_customer_group = "wecom_customer_group"
    wecom_robot = "wecom_robot"
    feishu_bot = "feishu_bot"
    dingtalk_robot = "dingtalk_robot"
    slack_webhook = "slack_webhook"
    telegram_bot = "telegram_bot"
    signed_webhook = "signed_webhook"
    outbox = "outbox"


class Status(StrEnum):
    active = "active"
    ended = "ended"
    dissolved = "dissolved"


# What each channel cannot work without (reference/channels.md).
CHANNEL_NEEDS: dict[Channel, tuple[str, ...]] = {
    Channel.wecom_customer_group: ("owner", "chat_id"),
    Channel.wecom_robot: ("webhook_url",),
    Channel.feishu_bot: ("webhook_url",),
    Channel.dingtalk_robot: ("webhook_url",),
    Channel.slack_webhook: ("webhook_url",),
    Channel.telegram_bot: ("secret", "chat_id"),
    Channel.signed_webhook: ("webhook_url", "secret"),
    Channel.outbox: (),
}


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class GroupRow(BaseModel):
    """One CSV row as the operator wrote it, credentials included; validated before anything is stored."""

    group_id: str
    name: str = Field(min_length=1, max_length=200)
    kind: Kind
    channel: Channel
    webhook_url: str | None = None
    secret: str | None = Field(None, max_length=512)
    owner: str | None = Field(None, max_length=128)
    chat_id: str | None = Field(None, max_length=256)
    timezone: str | None = None
    morning: str | None = DEFAULT_SLOTS["morning"]
    evening: str | None = DEFAULT_SLOTS["evening"]
    tags: list[str] = Field(default_factory=list)
    store: str | None = Field(None, max_length=128)
    sales_rep: str | None = Field(None, max_length=128)
    ends_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _blanks(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
        for slot in ("morning", "evening"):
            if not data.get(slot):
                data[slot] = DEFAULT_SLOTS[slot]
            elif data[slot] == "-":
                data[slot] = None
        data["tags"] = [t.strip() for t in (data.get("tags") or "").split(";") if t.strip()]
        return {k: (_blank_to_none(v) if k not in ("morning", "evening", "tags") else v) for k, v in data.items()}

    @field_validator("group_id")
    @classmethod
    def _group_id(cls, v: str) -> str:
        if not GROUP_ID.match(v):
            raise ValueError("use 1-128 letters, digits or . _ : @ -, starting with a letter or digit")
        return v

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("expected an http(s) URL such as https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...")
        if len(v) > 2048:
            raise ValueError("a webhook URL is at most 2048 characters")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "expected an IANA timezone name such as Asia/Shanghai, or empty for the tenant's"
            ) from None
        return v

    @field_validator("morning", "evening")
    @classmethod
    def _slot(cls, v: str | None) -> str | None:
        if v is not None and not SLOT.match(v):
            raise ValueError("expected HH:MM (24-hour, e.g. 08:00), empty for the default, or - for none")
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        if len(v) > 20 or any(len(t) > 64 for t in v):
            raise ValueError("at most 20 tags of at most 64 characters each")
        return v

    @field_validator("ends_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.utcoffset() is None:
            raise ValueError("expected ISO 8601 with a UTC offset, e.g. 2026-11-30T22:00:00+08:00")
        return v

    @model_validator(mode="after")
    def _channel_needs(self) -> GroupRow:
        missing = [f for f in CHANNEL_NEEDS[self.channel] if not getattr(self, f)]
        if missing:
            raise ValueError(f"channel {self.channel.value} needs {' and '.join(missing)}")
        if self.kind is Kind.flash and self.ends_at is None:
            raise ValueError("a flash group needs ends_at (when its sale or event ends)")
        return self


class Group(BaseModel):
    """A stored group: channel credentials are references to the secret store, never the values."""

    tenant_id: str
    group_id: str
    name: str
    kind: Kind
    channel: Channel
    webhook_ref: str | None = None
    webhook_host: str | None = None
    secret_ref: str | None = None
    owner: str | None = None
    chat_id: str | None = None
    timezone: str | None = None
    morning: str | None = DEFAULT_SLOTS["morning"]
    evening: str | None = DEFAULT_SLOTS["evening"]
    tags: list[str] = Field(default_factory=list)
    store: str | None = None
    sales_rep: str | None = None
    ends_at: datetime | None = None
    status: Status = Status.active
    created_at: datetime
    updated_at: datetime

    def effective_timezone(self, tenant_timezone: str) -> str:
        return self.timezone or tenant_timezone
