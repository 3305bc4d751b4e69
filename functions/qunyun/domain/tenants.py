"""Tenants: one operator organisation, its timezone, its webhook secret and its policy settings."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

from qunyun.domain.errors import InvalidRequest
from qunyun.domain.reminders import DEFAULT_LADDER, DEFAULT_QUIET_HOURS, QuietHours, parse_ladder
from qunyun.domain.rules import Rules

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")
DEFAULT_TIMEZONE = "Asia/Shanghai"
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class TenantPolicy(BaseModel):
    """Per-tenant settings every later capability reads; defaults are what a new operator expects."""

    locale: Literal["zh-CN", "en"] = "zh-CN"
    # qunyun pushes a group may receive a day (briefs, reminders and farewells share it).
    daily_push_cap: int = Field(2, ge=1, le=10)
    # WeCom customer-group mass-send quota: as many as the month has days, or 7 a week, or 1 a day.
    quota_period: Literal["month", "week", "day"] = "month"
    # A brief slot missed by an outage is still sent this many minutes late; older ones are skipped (`missed`).
    brief_grace_minutes: int = Field(60, ge=0, le=180)
    # Rewards stocked above this many units are sharded across stock items (one partition each).
    stock_shard_threshold: int = Field(1000, ge=1, le=1_000_000)
    # Event reminders: the ladder of rungs (domain/reminders.py) and the local hours no push may land in.
    reminder_ladder: list[str] = Field(default_factory=lambda: list(DEFAULT_LADDER))
    quiet_hours: str = DEFAULT_QUIET_HOURS
    # Flash groups: points events for a group that ended are still taken this many days (after-sales
    # purchases), then refused; the farewell's after-sales contact and invitation, unless a group sets its own.
    flash_points_grace_days: int = Field(7, ge=0, le=90)
    after_sales_contact: str | None = Field(None, max_length=200)
    after_sales_hours: str | None = Field(None, max_length=100)
    invite_top: int = Field(10, ge=0, le=50)
    # A WeCom mass-send task the owner has not confirmed is cancelled when its push goes stale: a brief at
    # these local times of its date, any other push this many hours after the task was created.
    morning_stale_at: str = Field("12:00", pattern=HHMM)
    evening_stale_at: str = Field("23:30", pattern=HHMM)
    owner_task_stale_hours: int = Field(24, ge=1, le=72)
    # Until then the owner is reminded this long after the task, and again as long after each reminder
    # (WeCom allows 3 reminders a task in 24 hours, and qunyun never asks for more).
    owner_reminder_minutes: int = Field(60, ge=15, le=24 * 60)
    # In-group check-in: a message that says one of these words (alone, trimmed, any case) is a `checkin`
    # points event of its sender (services/group_checkins.py); the group is answered once a window with who
    # checked in and their streaks, unless checkin_reply is false.
    checkin_keywords: list[str] = Field(default_factory=lambda: ["签到", "打卡"], max_length=20)
    checkin_reply: bool = True
    checkin_reply_seconds: int = Field(60, ge=10, le=600)
    # Invite points of a join through a member's link are held this many days, and cancelled if the newcomer
    # leaves the group before (services/invite_holds.py).
    invite_hold_days: int = Field(3, ge=0, le=90)

    @field_validator("reminder_ladder")
    @classmethod
    def _ladder(cls, v: list[str]) -> list[str]:
        parse_ladder(v)
        return v

    @field_validator("checkin_keywords")
    @classmethod
    def _keywords(cls, v: list[str]) -> list[str]:
        words = [w.strip() for w in v]
        if any(not w or len(w) > 20 for w in words):
            raise ValueError("each check-in keyword is 1-20 characters (comma-separated)")
        return words

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str) -> str:
        QuietHours.parse(v)
        return v


class Tenant(BaseModel):
    tenant_id: str
    name: str
    timezone: str = DEFAULT_TIMEZONE
    secret_ref: str
    policy: TenantPolicy = Field(default_factory=TenantPolicy)
    rules: Rules = Field(default_factory=Rules)
    created_at: datetime

    def public(self) -> dict[str, str]:
        """What GET /v1/tenant shows a caller (never the secret or its reference)."""
        return {"tenant_id": self.tenant_id, "name": self.name, "timezone": self.timezone}


def check_tenant_id(tenant_id: str) -> str:
    if not TENANT_ID.match(tenant_id or ""):
        raise InvalidRequest(
            f"Tenant id {tenant_id!r} is not valid: use 2-63 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit.",
            field="tenant_id",
        )
    return tenant_id


def check_timezone(name: str) -> str:
    """Returns an IANA timezone name or raises with a sentence saying what was expected."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(
            f"Timezone {name!r} is not an IANA timezone name (for example Asia/Shanghai or Europe/Berlin).",
            field="timezone",
        ) from None
    return name
