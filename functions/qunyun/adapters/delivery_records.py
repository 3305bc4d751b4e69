"""Writing delivery records on their group's day: a skip, a skip lifted, a status moved forward, and the outcomes
of a sender's claimed records on its token's outcome page."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from pynamodb.exceptions import PutError, UpdateError

from qunyun.adapters.deliveries_tables import DayItem, OutcomePageItem
from qunyun.adapters.delivery_keys import PAGE_SK, day_key, page_entry, page_pk
from qunyun.adapters.delivery_maps import (
    CLAIM,
    CLAIMED_AT,
    SHORT,
    STATUS,
    decode,
    encode,
    finished,
    outcome_actions,
    outcome_fields,
    record_field,
    short,
)
from qunyun.adapters.group_days import GroupDay, GroupDays
from qunyun.adapters.tables import conditional_failed
from qunyun.domain.deliveries import MOVES, Delivery, Status


class DeliveryRecords(GroupDays):
    """The record writes of DeliveryRepository."""

    def add(self, record: Delivery, begun: bool | None = None) -> bool:
        """Writes a record of a push that spent nothing (a skip); False when the push has one already.
        `begun`, when known, says whether the group's day has an item yet (saves a refused write)."""
        pk, sk = day_key(record.tenant_id, record.date, record.group_id)
        data = encode(record)
        for _ in range(4):
            try:
                if begun is False:
                    DayItem(pk, sk, records={record.push_id: data}).save(condition=DayItem.pk.does_not_exist())
                else:
                    DayItem(pk, sk).update(actions=[DayItem.records[record.push_id].set(data)],
                                           condition=DayItem.pk.exists()
                                           & DayItem.records[record.push_id].does_not_exist())
                return True
            except (PutError, UpdateError) as err:
                if not conditional_failed(err):
                    raise
            stored = self.day(record.tenant_id, record.group_id, record.date)
            if record.push_id in stored.records:
                return False
            begun = stored.begun  # created or not meanwhile: write the other way
        raise RuntimeError(f"could not record {record.push_id} of group {record.group_id}: the day keeps changing")

    def forget_skip(self, tenant_id: str, group_id: str, day: date, push_id: str, reasons: Iterable[str]) -> bool:
        """Removes a push's record if it is a skip for one of `reasons` (it spent nothing), so the push can be
        planned again; False when there is none, or it says something else (sent, another reason)."""
        condition = (record_field(push_id, "status") == Status.skipped.value) \
            & record_field(push_id, "reason").is_in(*reasons)
        try:
            DayItem(*day_key(tenant_id, day, group_id)).update(actions=[DayItem.records[push_id].remove()],
                                                              condition=condition)
            return True
        except UpdateError as err:
            if conditional_failed(err):
                return False
            raise

    def record_on_pages(self, token: str, outcomes: Sequence[tuple[Delivery, dict]]) -> None:
        """Writes outcomes of records claimed with `token` (each record and its `outcome_fields`) on the token's
        outcome page, one item per tenant, instead of a write on each record's day: a new item, or entries added
        to the page when the token has one already. Each reads as its record while that is still planned and
        claimed with `token` (`resolved`); one whose claim is not the token's any more reads as nothing, as
        `finish` would have been refused."""
        entries: dict[str, dict] = defaultdict(dict)
        for record, fields in outcomes:
            entries[record.tenant_id][page_entry(record.group_id, record.date, record.push_id)] = short(fields)
        for tenant_id, tenant_entries in entries.items():
            page = OutcomePageItem(page_pk(tenant_id, token), PAGE_SK, outcomes=tenant_entries)
            try:
                page.save(condition=OutcomePageItem.pk.does_not_exist())
            except PutError as err:
                if not conditional_failed(err):
                    raise
                page.update(actions=[OutcomePageItem.outcomes[k].set(v) for k, v in tenant_entries.items()])

    def update(self, record: Delivery, actions: list, condition) -> dict | None:
        """Applies `actions` to the record where `condition` (and the record's existence) holds; the record's map
        as written, or None when refused."""
        item = DayItem(*day_key(record.tenant_id, record.date, record.group_id))
        try:
            item.update(actions=actions, condition=DayItem.records[record.push_id].exists() & condition)
        except UpdateError as err:
            if conditional_failed(err):
                return None
            raise
        return GroupDay.of(record.tenant_id, record.group_id, record.date, item).records[record.push_id]

    def move(self, record: Delivery, status: Status, now: datetime, *, reason: str | None = None,
             error: str | None = None, message_ids: Iterable[str] = (), attempt: bool = False,
             sent_at: datetime | None = None) -> Delivery | None:
        """Moves a record to `status` if its status allows it (domain MOVES), counting an attempt and adding
        platform message ids; None when the record had moved on meanwhile. A record sent records `sent_at`
        (default `now`). A record a sender still claims moves from what it reads as (its outcome on the
        sender's page, if there is one: `resolved`), and the claim ends."""
        allowed = [s.value for s in Status if status in MOVES[s]]
        pid, ids = record.push_id, list(message_ids)
        actions = outcome_actions(pid, status, now, reason=reason, error=error, message_ids=ids, sent_at=sent_at)
        if attempt:
            actions.append(record_field(pid, "attempts").set(record_field(pid, "attempts") + 1))
        fields = short(outcome_fields(status, now, reason=reason, error=error, message_ids=ids, sent_at=sent_at))
        for _ in range(3):
            moved = self.update(record, actions, record_field(pid, "status").is_in(*allowed)
                                & record_field(pid, CLAIM).does_not_exist())
            if moved is None:
                stored = self.day(record.tenant_id, record.group_id, record.date, as_stored=True)
                data = stored.records.get(pid)
                if data is None or (CLAIM not in data and data.get(STATUS) not in allowed):
                    return None
                if CLAIM not in data:
                    continue  # the claim ended since the write: move the record as it is now
                reads = self.resolved(record.tenant_id, [stored])[0].records[pid]
                if reads.get(STATUS) not in allowed:
                    return None
                whole = finished(reads, fields)
                if attempt:
                    whole[SHORT["attempts"]] = int(whole.get(SHORT["attempts"]) or 0) + 1
                since = record_field(pid, CLAIMED_AT)
                held = (record_field(pid, CLAIM) == data[CLAIM]) & (record_field(pid, "status") == data.get(STATUS)) \
                    & (since == data[CLAIMED_AT] if CLAIMED_AT in data else since.does_not_exist())
                moved = self.update(record, [DayItem.records[pid].set(whole)], held)
                if moved is None:
                    continue  # the claim changed since the read
            return decode(record.tenant_id, record.group_id, record.date, pid, moved)
        return None
