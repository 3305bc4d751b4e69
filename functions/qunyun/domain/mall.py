"""The points mall: rewards as operators write them (API.md §3), per-member limits, order ids."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from qunyun.domain.events import ID

MAX_SHARDS = 32


LimitPeriod = Literal["day", "week", "month", "total"]


class Reward(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=200)
    cost: StrictInt = Field(gt=0, le=10_000_000)
    stock: StrictInt = Field(ge=0, le=100_000_000)
    limit_per_member: StrictInt | None = Field(None, gt=0, le=1_000_000)
    limit_period: LimitPeriod = "total"
    active_from: datetime | None = None
    active_until: datetime | None = None
    fulfilment_url: str | None = Field(None, max_length=2048)

    @field_validator("fulfilment_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and (urlsplit(v).scheme not in ("http", "https") or not urlsplit(v).netloc):
            raise ValueError("expected an http(s) URL such as https://example.com/hook")
        return v

    @model_validator(mode="after")
    def _window(self) -> Reward:
        for name in ("active_from", "active_until"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{name} needs a UTC offset, e.g. 2026-11-01T00:00:00+08:00")
        if self.active_from and self.active_until and self.active_until <= self.active_from:
            raise ValueError("active_until must come after active_from")
        return self

    def active(self, now: datetime) -> bool:
        return (self.active_from is None or self.active_from <= now) and (
            self.active_until is None or now < self.active_until)


class RewardsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rewards: list[Reward] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _unique(self) -> RewardsFile:
        ids = [r.id for r in self.rewards]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"reward ids must be unique; repeated: {', '.join(dupes)}")
        return self


def shard_count(stock: int, threshold: int) -> int:
    """A reward whose stock is above the tenant's threshold is spread over several stock items, so a
    flash sale is not held to one partition's ~1,000 writes/s (DESIGN.md §5.8)."""
    if stock <= threshold:
        return 1
    return min(MAX_SHARDS, -(-stock // threshold))


def split_stock(stock: int, shards: int) -> list[int]:
    base, extra = divmod(stock, shards)
    return [base + (1 if i < extra else 0) for i in range(shards)]


LIMIT_PERIODS: tuple[str, ...] = get_args(LimitPeriod)


def limit_window(period: str, now: datetime, tz: str) -> str:
    """The key of the per-member limit window a redemption counts in, in the program timezone."""
    day: date = now.astimezone(ZoneInfo(tz)).date()
    if period == "day":
        return str(day)
    if period == "week":
        return str(day - timedelta(days=day.weekday()))
    if period == "month":
        return day.strftime("%Y-%m")
    return "total"


def order_id(tenant_id: str, request_id: str) -> str:
    """Derived from the caller's request id, so the order and its idempotency record are one item."""
    return "ord_" + hashlib.sha256(f"{tenant_id}\0{request_id}".encode()).hexdigest()[:24]


class RedemptionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(pattern=ID)
    member_id: str = Field(pattern=ID)
    reward_id: str = Field(pattern=ID)
    quantity: StrictInt = Field(1, gt=0, le=100)


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(pattern=ID)
    reason: str = Field(min_length=1, max_length=500)
