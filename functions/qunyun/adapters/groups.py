"""The groups repository: PynamoDB behind domain objects."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from qunyun.adapters.tables import GroupItem
from qunyun.domain.groups import Group

_GROUP_FIELDS = tuple(f for f in Group.model_fields if f not in ("tenant_id", "group_id"))


def _to_item(group: Group) -> GroupItem:
    data = group.model_dump(mode="json")
    return GroupItem(
        group.tenant_id,
        group.group_id,
        **{k: data[k] for k in _GROUP_FIELDS if k not in ("created_at", "updated_at")},
        created_at=group.created_at,
        updated_at=group.updated_at,
    )


def _from_item(item: GroupItem) -> Group:
    data = {k: getattr(item, k) for k in _GROUP_FIELDS}
    data["tags"] = list(item.tags or [])
    return Group(tenant_id=item.tenant_id, group_id=item.group_id, **data)


class GroupRepository:
    def get(self, tenant_id: str, group_id: str) -> Group | None:
        try:
            return _from_item(GroupItem.get(tenant_id, group_id))
        except GroupItem.DoesNotExist:
            return None

    def list(self, tenant_id: str) -> Iterator[Group]:
        for item in GroupItem.query(tenant_id):
            yield _from_item(item)

    def created_at(self, tenant_id: str) -> dict[str, tuple[str, datetime]]:
        """group_id → (status, created_at) of the tenant's stored groups; a re-import keeps both."""
        attrs = ["group_id", "status", "created_at"]
        return {i.group_id: (i.status, i.created_at) for i in GroupItem.query(tenant_id, attributes_to_get=attrs)}

    def save_many(self, groups: Iterable[Group], progress=None) -> int:
        """Writes groups with BatchWriteItem (25 a request; PynamoDB retries unprocessed items)."""
        n = 0
        with GroupItem.batch_write() as batch:
            for group in groups:
                batch.save(_to_item(group))
                n += 1
                if progress and n % 500 == 0:
                    progress(n)
        return n
