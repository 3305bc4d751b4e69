"""Which group a platform chat is: the groups table's `chat` index (the CSV's chat_id), then the groups."""

from __future__ import annotations

from collections.abc import Iterable

from qunyun.adapters.tables import GroupItem
from qunyun.domain.connections import ChatGroup


class ChatDirectory:
    def groups(self, tenant_id: str, chat_ids: Iterable[str]) -> dict[str, list[ChatGroup]]:
        """chat id → the tenant's groups with that chat id (a Query per chat, one BatchGetItem for them all)."""
        keys: dict[str, list[str]] = {}
        for chat_id in dict.fromkeys(chat_ids):
            for hit in GroupItem.chat.query(chat_id, GroupItem.tenant_id == tenant_id):
                keys.setdefault(chat_id, []).append(hit.group_id)
        wanted = {(tenant_id, g) for ids in keys.values() for g in ids}
        found = {i.group_id: i for i in GroupItem.batch_get(wanted, attributes_to_get=[
            "tenant_id", "group_id", "channel", "timezone"])} if wanted else {}
        return {chat_id: [ChatGroup(g, found[g].channel, found[g].timezone) for g in ids
                          if g in found]
                for chat_id, ids in keys.items()}
