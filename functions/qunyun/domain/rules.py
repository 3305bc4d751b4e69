"""Earning rules per tenant (`qunyun points rules set`): what each action earns, caps, windows, expiry."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckinRule(_Strict):
    base: int = Field(5, ge=0, le=100_000)
    # +streak_step for every consecutive day after the first, up to streak_max_bonus.
    streak_step: int = Field(1, ge=0, le=100_000)
    streak_max_bonus: int = Field(5, ge=0, le=100_000)
    # Extra points on every 7th consecutive day (7, 14, 21 ...).
    weekly_bonus: int = Field(10, ge=0, le=100_000)


class QuizRule(_Strict):
    points_per_correct: int = Field(10, ge=0, le=100_000)


class PurchaseRule(_Strict):
    # Points per whole yuan (100 fen), rounded down.
    points_per_yuan: int = Field(1, ge=0, le=10_000)
    return_window_days: int = Field(7, ge=0, le=365)


class InviteRule(_Strict):
    points: int = Field(50, ge=0, le=1_000_000)


class ExpiryRule(_Strict):
    policy: Literal["rolling_days", "end_of_month", "end_of_next_year", "never"] = "end_of_next_year"
    days: int | None = Field(None, ge=1, le=3650)

    @model_validator(mode="after")
    def _days(self) -> ExpiryRule:
        if (self.policy == "rolling_days") != (self.days is not None):
            raise ValueError("days is required with policy rolling_days and only there")
        return self


class Rules(_Strict):
    """A tenant's earning rules; a new tenant gets these defaults so events earn before any rule is set."""

    checkin: CheckinRule = Field(default_factory=CheckinRule)
    quiz: QuizRule = Field(default_factory=QuizRule)
    purchase: PurchaseRule = Field(default_factory=PurchaseRule)
    invite: InviteRule = Field(default_factory=InviteRule)
    # Points a member may earn per program-day from each source; a grant crossing it is cut to it.
    daily_caps: dict[Literal["checkin", "quiz", "purchase", "invite"], int] = Field(
        default_factory=lambda: {"checkin": 100, "quiz": 100}
    )
    expiry: ExpiryRule = Field(default_factory=ExpiryRule)

    @model_validator(mode="after")
    def _caps(self) -> Rules:
        if any(v < 0 for v in self.daily_caps.values()):
            raise ValueError("daily caps are points, 0 or more")
        return self
