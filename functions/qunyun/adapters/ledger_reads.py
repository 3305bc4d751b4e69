"""What briefs and flash groups read of the points ledger, in domain words: a group's stored board of a day,
members' nicknames, and who earned an entry (the ledger's keys stay in adapters/points_ledger.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from qunyun.adapters.points_keys import split_member_pk
from qunyun.domain.ledger import Read

if TYPE_CHECKING:
    from qunyun.adapters.earning_pages import Listed
    from qunyun.adapters.points_ledger import PointsLedger
    from qunyun.adapters.points_tables import EntryItem


def group_day_board(ledger: PointsLedger, tenant_id: str, group_id: str, day: date) -> list[dict]:
    """The group's board of one day as SettlePoints stored it; empty when none is (nobody earned)."""
    stored = ledger.board(tenant_id, f"group:{group_id}", "day", str(day))
    return stored.entries if stored is not None else []


def nicknames(ledger: PointsLedger, tenant_id: str, member_ids: Iterable[str]) -> dict[str, str | None]:
    """The nicknames the members gave (None where none), read together in one request."""
    ids = list(dict.fromkeys(member_ids))
    if not ids:
        return {}
    ledger.prefetch([Read.member(tenant_id, m) for m in ids], settle=False)  # briefs and flash groups only read
    try:
        return {m: ledger.member(tenant_id, m).nickname for m in ids}
    finally:
        ledger.forget()


def earner(entry: EntryItem | Listed) -> str:
    """The member who earned a ledger entry (whole, or as a day's page lists it)."""
    return split_member_pk(entry.pk)[1]


def whole_entries(ledger: PointsLedger, entries: Iterable[Listed]) -> list[EntryItem]:
    """The whole entries of entries read from a day's pages (which hold a few of their attributes)."""
    return ledger.entries_by_key([(e.pk, e.sk) for e in entries])
