"""The messages on the push queue: one pydantic model per kind of push, told apart by `kind`.

BriefDispatch queues briefs, SendReminders reminder rungs and cancellation notices, ExpireFlashGroups farewells;
SendPushes parses each body once (`parse_push`) and sends what it names. Every message names a tenant, the
groups' local date and the groups: one, or up to 2,000 customer groups of one WeCom `owner` (one mass-send task).
A new kind is one more subclass with its own `kind` literal: it joins the union when its class is defined.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, field_serializer

BRIEF = "brief"


class PushMessage(BaseModel):
    """What every push message carries; a subclass per kind adds what its content needs."""

    model_config = ConfigDict(frozen=True)
    kinds: ClassVar[dict[str, type[PushMessage]]] = {}

    kind: str
    tenant_id: str
    date: dt.date  # the groups' local date: the day the push is recorded on
    group_ids: tuple[str, ...]
    owner: str | None = None  # a WeCom owner whose customer groups these are: one mass-send task for them

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        PushMessage.kinds[cls.model_fields["kind"].default] = cls

    def body(self) -> dict:
        """The message as it goes on the queue (JSON types; fields that are not set are left out)."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> str:
        return json.dumps(self.body(), ensure_ascii=False, separators=(",", ":"))


class BriefMessage(PushMessage):
    """A morning or evening brief. Its body carries no `kind` (briefs were the queue's only messages once, and
    a body without one is still a brief), so the JSON is what BriefDispatch has always queued."""

    kind: Literal["brief"] = Field(default=BRIEF, exclude=True)
    edition: Literal["morning", "evening"]
    slot: dt.datetime | None = None  # the scheduled instant it was dispatched for (for the logs)

    @field_serializer("slot")
    def _slot(self, slot: dt.datetime | None) -> str | None:
        return None if slot is None else slot.isoformat()


class ReminderMessage(PushMessage):
    """One rung of an event's reminders, due at `due` (as planned when it was queued)."""

    kind: Literal["reminder"] = "reminder"
    event_id: str
    lead: str  # which rung: eve, 12h, 1h, ...
    due: dt.datetime

    @field_serializer("due")
    def _due(self, due: dt.datetime) -> str:
        return due.isoformat()


class CancellationMessage(PushMessage):
    """The notice that an event was cancelled (`events cancel --notify`)."""

    kind: Literal["event_cancelled"] = "event_cancelled"
    event_id: str


class FarewellMessage(PushMessage):
    """A flash group's farewell, on the local date of its end; one group."""

    kind: Literal["farewell"] = "farewell"
    group_ids: tuple[str]


class CheckinReplyMessage(PushMessage):
    """A group's reply to the check-ins written in it during one window: queued as the window opens, delayed
    until it closes, so that it names everyone who checked in within it. `window` is the window's start (Unix
    seconds): the push id names it, so however many batches queue it the group gets it once."""

    kind: Literal["checkin_reply"] = "checkin_reply"
    group_ids: tuple[str]
    window: int
    seconds: int


class WelcomeMessage(PushMessage):
    """A group's welcome to the members who joined in one window (`window`, Unix seconds, `seconds` long), sent
    once the window has closed; like a check-in reply, its push id names the window."""

    kind: Literal["welcome"] = "welcome"
    group_ids: tuple[str]
    window: int
    seconds: int


def _kind_of(value) -> str:
    if isinstance(value, dict):
        return value.get("kind", BRIEF)
    return getattr(value, "kind", BRIEF)


_adapters: dict[tuple[str, ...], TypeAdapter] = {}


def _adapter() -> TypeAdapter:
    """The discriminated union of the kinds defined so far (built again only when a kind was added)."""
    kinds = tuple(PushMessage.kinds)
    if kinds not in _adapters:
        members = tuple(Annotated[cls, Tag(kind)] for kind, cls in PushMessage.kinds.items())
        _adapters[kinds] = TypeAdapter(Annotated[Union[members], Discriminator(_kind_of)])  # noqa: UP007
    return _adapters[kinds]


def parse_push(raw: str | bytes | dict) -> PushMessage:
    """The message a queue body (JSON text, or its decoded dict) holds; raises pydantic's ValidationError for a
    body that is not one (no such kind, a field missing or malformed)."""
    if isinstance(raw, dict):
        return _adapter().validate_python(raw)
    return _adapter().validate_json(raw)
