"""Flash groups' items in the content table: terms, end, state and report, found when due through `due`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime

from pynamodb.exceptions import UpdateError

from qunyun.adapters.due import due_items, due_keys
from qunyun.adapters.tables import FlashItem, conditional_failed

KIND = "flash"
_PK = "#FLASH"  # a tenant's flash groups: `{tenant}#FLASH`, one item per group id


def flash_key(tenant_id: str, group_id: str) -> tuple[str, str]:
    return f"{tenant_id}{_PK}", group_id


def _tenant_of(item: FlashItem) -> str:
    return item.pk.removesuffix(_PK)


@dataclass(frozen=True)
class StoredFlash:
    """A flash group's terms, its ending and its report, as stored."""

    tenant_id: str
    group_id: str
    state: str  # active | ended | dissolved
    ends_at: datetime
    terms: dict | None = None  # domain/flash.py Terms; None: the tenant's policy
    farewell_date: str | None = None  # the local date of its farewell's delivery record
    top: list | None = None  # the members the invitation is addressed to
    owner_must_dismiss: str | None = None
    report: dict | None = None
    ended_at: datetime | None = None
    dissolved_at: datetime | None = None

    @classmethod
    def of(cls, item: FlashItem) -> StoredFlash:
        # Every field but the tenant is an attribute of the item by the same name.
        names = [f.name for f in fields(cls) if f.name != "tenant_id"]
        return cls(tenant_id=_tenant_of(item), **{name: getattr(item, name) for name in names})


class FlashRepository:
    def get(self, tenant_id: str, group_id: str) -> FlashItem | None:
        """The group's item as stored, with its due keys (SendPushes reads a farewell's terms and top from it)."""
        try:
            return FlashItem.get(*flash_key(tenant_id, group_id), consistent_read=True)
        except FlashItem.DoesNotExist:
            return None

    def find(self, tenant_id: str, group_id: str) -> StoredFlash | None:
        item = self.get(tenant_id, group_id)
        return StoredFlash.of(item) if item is not None else None

    def upsert(self, tenant_id: str, group_id: str, ends_at: datetime, terms: dict | None, now: datetime) -> bool:
        """Stores a flash group that has not ended yet: its end (and due keys) and, when given, its terms; without
        terms (a CSV import) the stored ones are kept. False, changing nothing, once the group has ended: an
        import never brings an ended group back nor loses the terms its farewell used."""
        actions = [FlashItem.group_id.set(group_id), FlashItem.ends_at.set(ends_at),
                   FlashItem.state.set(FlashItem.state | "active"), *_due_at(tenant_id, group_id, ends_at, now)]
        if terms is not None:
            actions.append(FlashItem.terms.set(terms))
        return _update(tenant_id, group_id, actions,
                       FlashItem.state.does_not_exist() | (FlashItem.state == "active"))

    def add_new(self, tenant_id: str, ends: list[tuple[str, datetime]], now: datetime) -> None:
        """Stores the FlashItems of groups that did not exist before this import (none of them can have ended),
        with BatchWriteItem; groups that existed go through `upsert`, whose condition keeps an ended one ended."""
        with FlashItem.batch_write() as batch:
            for group_id, ends_at in ends:
                keys = due_keys(KIND, tenant_id, group_id, ends_at)
                batch.save(FlashItem(*flash_key(tenant_id, group_id), group_id=group_id, ends_at=ends_at,
                                     state="active", updated_at=now, **keys))

    def due(self, until: datetime) -> Iterator[StoredFlash]:
        """Flash groups with work due at or before `until`, through the content table's `due` index."""
        for item in due_items(FlashItem, KIND, until):
            yield StoredFlash.of(item)

    def prepare_end(self, item: StoredFlash, farewell_date: str, top: list[dict], owner: str | None,
                    report: dict, now: datetime) -> None:
        """What the farewell and the report need, stored before anything is sent (a rerun rewrites it)."""
        actions = [FlashItem.farewell_date.set(farewell_date), FlashItem.top.set(top),
                   FlashItem.report.set(report), FlashItem.updated_at.set(now)]
        actions.append(FlashItem.owner_must_dismiss.set(owner) if owner else FlashItem.owner_must_dismiss.remove())
        _if_state(item, actions, "active")

    def mark_ended(self, item: StoredFlash, check_at: datetime, now: datetime) -> None:
        """Ended: its farewell is queued; the due keys move to when the job next checks its record."""
        _if_state(item, [FlashItem.state.set("ended"), FlashItem.ended_at.set(now),
                         *_due_at(item.tenant_id, item.group_id, check_at, now)], "active")

    def recheck(self, item: StoredFlash, check_at: datetime, now: datetime) -> None:
        _if_state(item, _due_at(item.tenant_id, item.group_id, check_at, now), "ended")

    def mark_dissolved(self, item: StoredFlash, report: dict, now: datetime) -> None:
        """Dissolved: the final figures stored and the due keys gone (nothing is left to do)."""
        _if_state(item, [FlashItem.state.set("dissolved"), FlashItem.dissolved_at.set(now),
                         FlashItem.report.set(report), FlashItem.due_pk.remove(), FlashItem.due_sk.remove(),
                         FlashItem.updated_at.set(now)], "ended")

    def drop_due(self, item: StoredFlash, now: datetime) -> None:
        """Takes an item whose tenant or group is gone off the index, so no run reads it again."""
        _update(item.tenant_id, item.group_id,
                [FlashItem.due_pk.remove(), FlashItem.due_sk.remove(), FlashItem.updated_at.set(now)])


def _due_at(tenant_id: str, group_id: str, when: datetime, now: datetime) -> list:
    """The actions that make the group's item due at `when`."""
    keys = due_keys(KIND, tenant_id, group_id, when)
    return [FlashItem.due_pk.set(keys["due_pk"]), FlashItem.due_sk.set(keys["due_sk"]), FlashItem.updated_at.set(now)]


def _update(tenant_id: str, group_id: str, actions: list, condition=None) -> bool:
    """Applies the actions to the group's item where `condition` holds; False when it does not."""
    try:
        FlashItem(*flash_key(tenant_id, group_id)).update(actions=actions, condition=condition)
        return True
    except UpdateError as err:
        if conditional_failed(err):
            return False
        raise


def _if_state(item: StoredFlash, actions: list, state: str) -> bool:
    """Applies the actions while the item is still in `state`; False when a concurrent run moved it on first."""
    return _update(item.tenant_id, item.group_id, actions, FlashItem.state == state)
