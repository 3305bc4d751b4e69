"""The points mall: rewards as operators write them (API.md §3), per-member limits, order ids."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from qunyun.domain.events import ID
from qunyun.domain.ledger import Guard, LotId

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


@dataclass(frozen=True)
class RewardTerms:
    """A reward as stored: its terms (times as written, ISO 8601), its shard count and all units ever stocked."""

    id: str
    name: str
    cost: int
    shards: int = 1
    stock_added: int = 0
    limit_per_member: int | None = None
    limit_period: str = "total"
    active_from: str | None = None
    active_until: str | None = None
    fulfilment_url: str | None = None

    @classmethod
    def of(cls, reward: Reward, shards: int = 1) -> RewardTerms:
        return cls(reward.id, reward.name, reward.cost, shards, reward.stock, reward.limit_per_member,
                   reward.limit_period, reward.active_from.isoformat() if reward.active_from else None,
                   reward.active_until.isoformat() if reward.active_until else None, reward.fulfilment_url)

    def active(self, now: datetime) -> bool:
        return (self.active_from is None or datetime.fromisoformat(self.active_from) <= now) and (
            self.active_until is None or now < datetime.fromisoformat(self.active_until))


@dataclass
class Redemption:
    """A mall order, keyed by the caller's request id, with its replayable answer and the notices owed to
    the reward's fulfilment URL (`fulfil_at`: when they are due, or since when parked; None when none)."""

    order_id: str
    request_id: str
    member_id: str
    reward_id: str
    quantity: int
    status: str  # placed | cancelled | failed
    status_code: int
    response: dict
    created_at: datetime
    points_spent: int = 0
    lots: dict[LotId, int] = field(default_factory=dict)
    shards: dict[int, int] = field(default_factory=dict)  # stock shard → units taken
    limit: Guard | None = None
    cancel_request_id: str | None = None
    cancel_response: dict | None = None
    fulfilment_url: str | None = None
    fulfil_state: str | None = None  # due | delivered | parked
    fulfil_attempts: int = 0
    fulfil_error: str | None = None
    fulfil_events: list[str] = field(default_factory=list)  # placed / cancelled notices still owed
    fulfil_at: str | None = None
    version: int = 0

    def same_request(self, member_id: str, reward_id: str, quantity: int) -> bool:
        return (self.member_id, self.reward_id, self.quantity) == (member_id, reward_id, quantity)
