"""The groups repository: PynamoDB behind domain objects."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from qunyun.adapters.tables import GroupItem, TimezonesItem
from qunyun.domain.groups import Group, Status
from qunyun.domain.slots import EDITIONS, slot_key

_GROUP_FIELDS = tuple(f for f in Group.model_fields if f not in ("tenant_id", "group_id"))


def _slots(group: Group, default_timezone: str | None) -> dict[str, str]:
    """The dispatcher's index attributes: one per enabled edition of an active group, none otherwise."""
    timezone = group.timezone or default_timezone
    if group.status is not Status.active or timezone is None:
        return {}
    return {f"{e}_slot": slot_key(e, getattr(group, e), timezone) for e in EDITIONS if getattr(group, e)}


def _to_item(group: Group, default_timezone: str | None = None) -> GroupItem:
    data = group.model_dump(mode="json")
    return GroupItem(
        group.tenant_id,
        group.group_id,
        **{k: data[k] for k in _GROUP_FIELDS if k not in ("created_at", "updated_at")},
        **_slots(group, default_timezone),
        created_at=group.created_at,
        updated_at=group.updated_at,
    )


def _from_item(item: GroupItem) -> Group:
    data = {k: getattr(item, k) for k in _GROUP_FIELDS}
    data["tags"] = list(item.tags or [])
    return Group(tenant_id=item.tenant_id, group_id=item.group_id, **data)


@dataclass(frozen=True)
class SlotMember:
    """A group as the dispatcher's slot index shows it."""

    tenant_id: str
    group_id: str
    channel: str
    owner: str | None
    chat_id: str | None


class GroupRepository:
    def get(self, tenant_id: str, group_id: str) -> Group | None:
        try:
            return _from_item(GroupItem.get(tenant_id, group_id))
        except GroupItem.DoesNotExist:
            return None

    def get_many(self, tenant_id: str, group_ids: Iterable[str]) -> dict[str, tuple[Group, str | None]]:
        """group_id → (group, why its channel is broken or None) for the groups that exist (BatchGetItem)."""
        keys = [(tenant_id, g) for g in dict.fromkeys(group_ids)]
        return {i.group_id: (_from_item(i), i.channel_broken) for i in GroupItem.batch_get(keys)}

    def list(self, tenant_id: str) -> Iterator[Group]:
        for item in GroupItem.query(tenant_id):
            yield _from_item(item)

    def created_at(self, tenant_id: str) -> dict[str, tuple[str, datetime]]:
        """group_id → (status, created_at) of the tenant's stored groups; a re-import keeps both."""
        attrs = ["group_id", "status", "created_at"]
        return {i.group_id: (i.status, i.created_at) for i in GroupItem.query(tenant_id, attributes_to_get=attrs)}

    def save_many(self, groups: Iterable[Group], progress=None, default_timezone: str | None = None,
                  register_zones: bool = True) -> int:
        """Writes groups with BatchWriteItem (25 a request; PynamoDB retries unprocessed items), with the slot
        index attributes of each active group (in `default_timezone`, the tenant's, unless it has its own), and
        registers their timezones for the dispatcher (unless `register_zones` is false: a copy of a group whose
        zone is registered already)."""
        n, zones = 0, set()
        with GroupItem.batch_write() as batch:
            for group in groups:
                batch.save(_to_item(group, default_timezone))
                zone = group.timezone or default_timezone
                if zone:
                    zones.add(zone)
                n += 1
                if progress and n % 500 == 0:
                    progress(n)
        if zones and register_zones:
            TimezonesItem().update(actions=[TimezonesItem.timezones.add(zones)])
        return n

    def in_slot(self, key: str) -> Iterator[SlotMember]:
        """The active groups whose edition is due at `key` (`morning#08:00#Asia/Shanghai`), from its index."""
        edition = key.partition("#")[0]
        index = GroupItem.morning_index if edition == "morning" else GroupItem.evening_index
        for item in index.query(key):
            yield SlotMember(item.tenant_id, item.group_id, item.channel, item.owner, item.chat_id)

    def timezones(self) -> set[str]:
        try:
            return set(TimezonesItem.get("~timezones").timezones or ())
        except TimezonesItem.DoesNotExist:
            return set()

    def set_status(self, tenant_id: str, group_id: str, status: Status, now: datetime) -> None:
        """Moves a group on (ended, dissolved); it leaves the slot indexes, so no brief is dispatched to it."""
        GroupItem(tenant_id, group_id).update(
            actions=[GroupItem.status.set(status.value), GroupItem.morning_slot.remove(),
                     GroupItem.evening_slot.remove(), GroupItem.updated_at.set(now)],
            condition=GroupItem.group_id.exists())

    def mark_broken(self, tenant_id: str, group_id: str, reason: str) -> None:
        """Stops briefs to a group whose channel failed for good, until the operator imports it again."""
        GroupItem(tenant_id, group_id).update(actions=[GroupItem.channel_broken.set(reason)],
                                              condition=GroupItem.group_id.exists())
