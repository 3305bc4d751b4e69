"""A dispatch page: a slice of one slot's groups, as BriefDispatch's planner read them from the slot index.

One invocation cannot queue a slot of a million groups (docs/scale.md), so the scheduled run only reads the
slot index and queues one page message per slice on the dispatch page queue; each page's invocation queues
its groups' pushes. A page carries its groups themselves (not an index cursor), so it is exactly what the
planner read, and its digest names it: a page handled twice, or planned again by a rerun over unchanged
groups, has the same digest, which the page's checkpoint holds once it is done.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

# At most this many groups and this many bytes of JSON a page: 10 pages fit a SendMessageBatch (256 KB), and
# a page's groups are queued in about a second at the measured per-group cost.
PAGE_GROUPS = 200
PAGE_BYTES = 24_000


@dataclass(frozen=True)
class PageMember:
    """A group as the slot index shows it (the fields of adapters/groups.py's SlotMember)."""

    tenant_id: str
    group_id: str
    channel: str
    owner: str | None
    chat_id: str | None


@dataclass(frozen=True)
class DispatchPage:
    now: datetime  # the scheduled run's time: a slot's age (missed or not) is judged from it
    instant: datetime  # the slot, a UTC grid instant
    timezone: str
    edition: str
    members: tuple[PageMember, ...]

    def body(self) -> dict:
        return {"now": self.now.isoformat(), "instant": self.instant.isoformat(), "timezone": self.timezone,
                "edition": self.edition,
                "members": [[m.tenant_id, m.group_id, m.channel, m.owner, m.chat_id] for m in self.members]}

    def to_json(self) -> str:
        return json.dumps(self.body(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | dict) -> DispatchPage:
        body = json.loads(raw) if isinstance(raw, str) else raw
        return cls(datetime.fromisoformat(body["now"]), datetime.fromisoformat(body["instant"]), body["timezone"],
                   body["edition"], tuple(PageMember(*m) for m in body["members"]))

    @property
    def slot_id(self) -> str:
        """The slot and edition the page belongs to: its checkpoint's name."""
        return f"{self.edition}#{self.instant.isoformat()}#{self.timezone}"

    @property
    def digest(self) -> str:
        """The page's name within its slot: its groups (the run's `now` left out, so a rerun names it alike)."""
        members = json.dumps(self.body()["members"], ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(members.encode()).hexdigest()[:32]


def paginate(now: datetime, instant: datetime, timezone: str, edition: str,
             members: Iterable[PageMember]) -> Iterator[DispatchPage]:
    """The slot's groups in pages of at most PAGE_GROUPS groups and PAGE_BYTES bytes, in the index's order."""
    page: list[PageMember] = []
    size = 0
    for m in members:
        weight = sum(len((v or "").encode()) for v in (m.tenant_id, m.group_id, m.channel, m.owner, m.chat_id)) + 24
        if page and (len(page) == PAGE_GROUPS or size + weight > PAGE_BYTES):
            yield DispatchPage(now, instant, timezone, edition, tuple(page))
            page, size = [], 0
        page.append(m)
        size += weight
    if page:
        yield DispatchPage(now, instant, timezone, edition, tuple(page))
