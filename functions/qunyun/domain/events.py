"""Points events as callers send them (API.md §2), validated before anything is read or written."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, RootModel, StrictBool, StrictInt, Tag, model_validator

ID = r"^[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,127}$"
MAX_BATCH = 100
MAX_AGE = timedelta(days=7)
MAX_FUTURE = timedelta(minutes=5)

NEEDS: dict[str, tuple[str, ...]] = {
    "checkin": (),
    "quiz_answer": ("quiz_id", "question_id", "correct"),
    "purchase": ("order_id", "amount_fen"),
    "purchase_refund": ("order_id", "refund_id", "amount_fen"),
    "invite": ("invitee_id",),
}


class PointsEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(pattern=ID)
    type: Literal["checkin", "quiz_answer", "purchase", "purchase_refund", "invite"]
    member_id: str = Field(pattern=ID)
    occurred_at: datetime
    group_id: str | None = Field(None, pattern=ID)
    nickname: str | None = Field(None, max_length=64)
    order_id: str | None = Field(None, pattern=ID)
    amount_fen: StrictInt | None = Field(None, gt=0, le=10**10)
    store_id: str | None = Field(None, max_length=128)
    sales_rep: str | None = Field(None, max_length=128)
    refund_id: str | None = Field(None, pattern=ID)
    quiz_id: str | None = Field(None, pattern=ID)
    question_id: str | None = Field(None, pattern=ID)
    correct: StrictBool | None = None
    invitee_id: str | None = Field(None, pattern=ID)

    @model_validator(mode="after")
    def _fields_of_type(self) -> PointsEvent:
        if self.occurred_at.utcoffset() is None:
            raise ValueError("occurred_at needs a UTC offset, e.g. 2026-11-24T09:30:00+08:00")
        missing = [f for f in NEEDS[self.type] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.type} event needs {', '.join(missing)}")
        if self.type == "invite" and self.invitee_id == self.member_id:
            raise ValueError("a member cannot invite themselves")
        return self

    def digest(self) -> str:
        """Fingerprint of the business fields: the same event_id with other content is a conflict."""
        canonical = self.model_dump(mode="json", exclude_none=True)
        canonical["occurred_at"] = self.occurred_at.timestamp()
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[PointsEvent] = Field(min_length=1, max_length=MAX_BATCH)


def _shape(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "events" in value else "single"


class EventsBody(RootModel):
    """POST /v1/points/events: one event, or {"events": [...]} with 1 to 100 of them."""

    root: Annotated[
        Annotated[PointsEvent, Tag("single")] | Annotated[EventBatch, Tag("batch")],
        Discriminator(_shape),
    ]
