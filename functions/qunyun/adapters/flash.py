"""Flash groups' items in the content table: terms, end, state and report, found when due through `due`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pynamodb.exceptions import UpdateError

from qunyun.adapters.due import due_items, due_keys
from qunyun.adapters.tables import FlashItem

KIND = "flash"


def flash_key(tenant_id: str, group_id: str) -> tuple[str, str]:
    return f"{tenant_id}#FLASH", group_id


def tenant_of(item: FlashItem) -> str:
    return item.pk.removesuffix("#FLASH")


class FlashRepository:
    def get(self, tenant_id: str, group_id: str) -> FlashItem | None:
        try:
            return FlashItem.get(*flash_key(tenant_id, group_id), consistent_read=True)
        except FlashItem.DoesNotExist:
            return None

    def upsert(self, tenant_id: str, group_id: str, ends_at: datetime, terms: dict | None, now: datetime) -> bool:
        """Stores a flash group that has not ended yet: its end (and due keys) and, when given, its terms; without
        terms (a CSV import) the stored ones are kept. False, changing nothing, once the group has ended: an
        import never brings an ended group back nor loses the terms its farewell used."""
        keys = due_keys(KIND, tenant_id, group_id, ends_at)
        actions = [FlashItem.group_id.set(group_id), FlashItem.ends_at.set(ends_at),
                   FlashItem.state.set(FlashItem.state | "active"), FlashItem.due_pk.set(keys["due_pk"]),
                   FlashItem.due_sk.set(keys["due_sk"]), FlashItem.updated_at.set(now)]
        if terms is not None:
            actions.append(FlashItem.terms.set(terms))
        try:
            FlashItem(*flash_key(tenant_id, group_id)).update(
                actions=actions, condition=FlashItem.state.does_not_exist() | (FlashItem.state == "active"))
            return True
        except UpdateError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def add_new(self, tenant_id: str, ends: list[tuple[str, datetime]], now: datetime) -> None:
        """Stores the FlashItems of groups that did not exist before this import (none of them can have ended),
        with BatchWriteItem; groups that existed go through `upsert`, whose condition keeps an ended one ended."""
        with FlashItem.batch_write() as batch:
            for group_id, ends_at in ends:
                keys = due_keys(KIND, tenant_id, group_id, ends_at)
                batch.save(FlashItem(*flash_key(tenant_id, group_id), group_id=group_id, ends_at=ends_at,
                                     state="active", updated_at=now, **keys))

    def due(self, until: datetime) -> Iterator[FlashItem]:
        """Flash groups with work due at or before `until`, through the content table's `due` index."""
        yield from due_items(FlashItem, KIND, until)

    def prepare_end(self, item: FlashItem, farewell_date: str, top: list[dict], owner: str | None,
                    report: dict, now: datetime) -> None:
        """What the farewell and the report need, stored before anything is sent (a rerun rewrites it)."""
        actions = [FlashItem.farewell_date.set(farewell_date), FlashItem.top.set(top),
                   FlashItem.report.set(report), FlashItem.updated_at.set(now)]
        actions.append(FlashItem.owner_must_dismiss.set(owner) if owner else FlashItem.owner_must_dismiss.remove())
        _if_state(item, actions, "active")

    def mark_ended(self, item: FlashItem, check_at: datetime, now: datetime) -> None:
        """Ended: its farewell is queued; the due keys move to when the job next checks its record."""
        keys = due_keys(KIND, tenant_of(item), item.group_id, check_at)
        _if_state(item, [FlashItem.state.set("ended"), FlashItem.ended_at.set(now),
                         FlashItem.due_pk.set(keys["due_pk"]), FlashItem.due_sk.set(keys["due_sk"]),
                         FlashItem.updated_at.set(now)], "active")

    def recheck(self, item: FlashItem, check_at: datetime, now: datetime) -> None:
        keys = due_keys(KIND, tenant_of(item), item.group_id, check_at)
        _if_state(item, [FlashItem.due_pk.set(keys["due_pk"]), FlashItem.due_sk.set(keys["due_sk"]),
                         FlashItem.updated_at.set(now)], "ended")

    def mark_dissolved(self, item: FlashItem, report: dict, now: datetime) -> None:
        """Dissolved: the final figures stored and the due keys gone (nothing is left to do)."""
        _if_state(item, [FlashItem.state.set("dissolved"), FlashItem.dissolved_at.set(now),
                         FlashItem.report.set(report), FlashItem.due_pk.remove(), FlashItem.due_sk.remove(),
                         FlashItem.updated_at.set(now)], "ended")

    def drop_due(self, item: FlashItem, now: datetime) -> None:
        """Takes an item whose tenant or group is gone off the index, so no run reads it again."""
        item.update(actions=[FlashItem.due_pk.remove(), FlashItem.due_sk.remove(), FlashItem.updated_at.set(now)])


def _if_state(item: FlashItem, actions: list, state: str) -> bool:
    """Applies the actions while the item is still in `state`; False when a concurrent run moved it on first."""
    try:
        item.update(actions=actions, condition=FlashItem.state == state)
        return True
    except UpdateError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
