"""Activity pages in the community table (domain/activity.py): one item per group, local day and batch."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from qunyun.adapters.community_tables import ActivityPageItem
from qunyun.domain.activity import Page, Sent, page_id

KEEP_DAYS = 400  # metrics read up to 400 days back (API.md §8)


def _pk(tenant_id: str, group_id: str) -> str:
    return f"{tenant_id}#ACTIVITY#{group_id}"


def activity_pk(tenant_id: str, group_id: str) -> str:
    """A group's activity partition, for readers that take its pages raw (adapters/sweep_reads.py)."""
    return _pk(tenant_id, group_id)


def _encode(page: list[Sent]) -> str:
    # A check-in carries a fourth column; pages written before check-ins existed have three.
    return "\n".join(f"{m.message_id}\t{m.member_id}\t{m.at}" + ("\tc" if m.checkin else "") for m in page)


def _decode(text: str) -> list[Sent]:
    out = []
    for line in text.splitlines():
        message_id, member_id, at, *flags = line.split("\t")
        out.append(Sent(message_id, member_id, int(at), checkin="c" in flags))
    return out


def decode_page(text: str) -> list[Sent]:
    """A page's `messages` as stored, for the same readers."""
    return _decode(text)


class ActivityStore:
    def write_many(self, pages: Iterable[Page]) -> int:
        """Puts the pages with BatchWriteItem (25 a request); the same page again (a redelivered batch) rewrites
        the same item."""
        n = 0
        with ActivityPageItem.batch_write() as batch:
            for page in pages:
                expires = datetime(page.day.year, page.day.month, page.day.day, tzinfo=UTC) + timedelta(days=KEEP_DAYS)
                batch.save(ActivityPageItem(_pk(page.tenant_id, page.group_id),
                                            f"{page.day.isoformat()}#{page_id(page.sent)}", messages=_encode(page.sent),
                                            names=page.names, expires=expires))
                n += 1
        return n

    def read(self, tenant_id: str, group_id: str, first: date, last: date
             ) -> tuple[dict[date, list[Sent]], dict[str, str]]:
        """The pages of days first..last (one Query), by day, and the names they showed."""
        days: dict[date, list[Sent]] = {}
        names: dict[str, str] = {}
        query = ActivityPageItem.query(_pk(tenant_id, group_id),
                                       ActivityPageItem.sk.between(first.isoformat(), f"{last.isoformat()}$"))
        for item in query:
            day = date.fromisoformat(item.sk[:10])
            days.setdefault(day, []).extend(_decode(item.messages))
            names.update({k: str(v) for k, v in (item.names.as_dict() if item.names else {}).items()})
        return days, names
