"""Flash groups: a group that lives for one sale or event and ends with a farewell (docs/operators.md "Flash groups").

A flash group is an ordinary group row (API.md §4, kind forced to `flash`, `ends_at` required) plus its terms:
when its sale window opens, the after-sales contact and hours its farewell gives, and optionally a long-term group
whose invitation the farewell addresses to the group's best members. `parse_flash_file` checks a whole file and
names every problem with its place; nothing is stored unless the whole file is valid.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from qunyun.domain.briefs import dotted
from qunyun.domain.errors import InvalidRequest
from qunyun.domain.groups import COLUMNS, Group, GroupRow, Kind
from qunyun.domain.tenants import Tenant

MAX_GROUPS = 500


class State(StrEnum):
    """Where a flash group is in its ending: `active` until ExpireFlashGroups ends it, `ended` while its
    farewell is on its way, `dissolved` once the farewell's delivery record is final."""

    active = "active"
    ended = "ended"
    dissolved = "dissolved"


class AfterSales(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact: str | None = Field(None, max_length=200)
    hours: str | None = Field(None, max_length=100)


class Invite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_id: str
    link: str = Field(max_length=2048)
    top: int | None = Field(None, ge=0, le=50)

    @field_validator("link")
    @classmethod
    def _link(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("expected an http(s) link members can open to join the long-term group")
        return v


class Terms(BaseModel):
    """A flash group's terms as stored: missing after-sales values and the invitation's size are the tenant's
    policy at the time the group ends."""

    sale_starts_at: datetime | None = None
    after_sales: AfterSales = Field(default_factory=AfterSales)
    invite: Invite | None = None

    def resolved(self, tenant: Tenant) -> tuple[dict, dict | None]:
        """(after_sales {contact, hours}, invite {group_id, link, top} or None) with the tenant's defaults."""
        policy = tenant.policy
        after = {"contact": self.after_sales.contact or policy.after_sales_contact or "",
                 "hours": self.after_sales.hours or policy.after_sales_hours}
        if self.invite is None:
            return after, None
        top = self.invite.top if self.invite.top is not None else policy.invite_top
        return after, {"group_id": self.invite.group_id, "link": self.invite.link, "top": top}


# The group row's columns as a flash file may write them (GroupRow checks them, as an import does), made from
# the CSV's own list; kind and ends_at are the flash entry's own, typed below.
_RowColumns = create_model("_RowColumns", **{column: (str | list[str] | None, None) for column in COLUMNS
                                             if column not in ("group_id", "name", "channel", "kind", "ends_at")},
                           group_id=(str, ...), name=(str, ...), channel=(str, ...))


class _Entry(Terms, _RowColumns):
    """One entry of a flash file: the group row's fields and the terms."""

    model_config = ConfigDict(extra="forbid")

    kind: str = "flash"
    ends_at: datetime

    @field_validator("kind")
    @classmethod
    def _flash(cls, v: str) -> str:
        if v != "flash":
            raise ValueError("a flash file holds flash groups only; leave kind out or write flash")
        return v

    @field_validator("ends_at", "sale_starts_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.utcoffset() is None:
            raise ValueError("expected ISO 8601 with a UTC offset, e.g. 2026-11-30T22:00:00+08:00")
        return v

    @model_validator(mode="after")
    def _window(self) -> _Entry:
        if self.sale_starts_at is not None and self.sale_starts_at >= self.ends_at:
            raise ValueError("sale_starts_at must be before ends_at")
        return self

    def row(self) -> dict[str, str]:
        """The group's fields as a CSV row reads them, for GroupRow (the same checks as an import)."""
        data = self.model_dump(include=set(COLUMNS))
        tags = data.get("tags")
        data["tags"] = ";".join(tags) if isinstance(tags, list) else (tags or "")
        data["ends_at"] = self.ends_at.isoformat()
        return {k: ("" if v is None else str(v)) for k, v in data.items()}


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groups: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_GROUPS)


class FlashGroup(BaseModel):
    """A checked entry: the group row to import and the terms to store."""

    row: GroupRow
    terms: Terms


class InvalidFlashFile(InvalidRequest):
    code = "invalid_flash_file"

    def __init__(self, source: str, errors: list[dict]):
        super().__init__(f"{source}: {len(errors)} problem(s); nothing was stored. Fix them and create again.",
                         errors=errors)


def _messages(e: ValidationError, at: tuple) -> list[tuple[tuple, str]]:
    found = []
    for item in e.errors():
        path = (*at, *(p for p in item["loc"] if p not in ("function-after[_channel_needs()]",)))
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            msg = "unknown key; check its spelling (docs/operators.md \"Flash groups\" lists the keys)"
        elif item["type"] == "missing":
            msg = "missing; this key is required here"
        found.append((path, msg))
    return found


def parse_flash_file(data: Any, tenant: Tenant, groups: dict[str, Group], source: str = "the file",
                     line_of: Callable[[tuple], int | None] = lambda _: None) -> list[FlashGroup]:
    """Checks a flash file against the tenant's stored `groups` (group_id → Group, for invitations); every
    problem is reported at once with its place in the file."""
    problems: list[tuple[tuple, str]] = []
    checked: list[FlashGroup] = []
    try:
        entries = _File.model_validate(data).groups
    except ValidationError as e:
        problems = _messages(e, ())
        entries = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(entries):
        at = ("groups", i)
        try:
            entry = _Entry.model_validate(raw)
        except ValidationError as e:
            problems += _messages(e, at)
            continue
        try:
            row = GroupRow.model_validate(entry.row())
        except ValidationError as e:
            problems += _messages(e, at)
            continue
        if row.group_id in seen:
            problems.append(((*at, "group_id"), f"group {row.group_id} is also entry {seen[row.group_id]}"))
        seen.setdefault(row.group_id, i)
        terms = Terms(sale_starts_at=entry.sale_starts_at, after_sales=entry.after_sales, invite=entry.invite)
        if not (terms.after_sales.contact or tenant.policy.after_sales_contact):
            problems.append(((*at, "after_sales", "contact"),
                             "missing, and the tenant has no after_sales_contact policy to fall back on"))
        if entry.invite is not None:
            target = groups.get(entry.invite.group_id)
            if target is None:
                problems.append(((*at, "invite", "group_id"),
                                 f"the tenant has no group {entry.invite.group_id}; import the long-term group first"))
            elif target.kind is Kind.flash:
                problems.append(((*at, "invite", "group_id"),
                                 f"group {target.group_id} is a flash group; invite members to a long-term group"))
        checked.append(FlashGroup(row=row, terms=terms))
    if problems:
        raise InvalidFlashFile(source, [{"line": line_of(p), "field": dotted(p), "message": m} for p, m in problems])
    return checked
