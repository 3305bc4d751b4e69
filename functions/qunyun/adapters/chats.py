"""Which group a platform chat is: the groups table's `chat` index (the CSV's chat_id), then the groups."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from qunyun.adapters.tables import GroupItem
from qunyun.domain.connections import ChatGroup


class ChatDirectory:
    """Lookups are remembered for `seconds` in the environment (a chat found unmapped too), so a busy chat costs
    a Query a minute, not one a batch; a group imported for a chat maps its events within that time."""

    CACHED = 20_000

    def __init__(self, seconds: float = 60.0, monotonic: Callable[[], float] = time.monotonic):
        self.seconds, self.monotonic = seconds, monotonic
        self._cache: dict[tuple[str, str], tuple[float, list[ChatGroup]]] = {}

    def groups(self, tenant_id: str, chat_ids: Iterable[str]) -> dict[str, list[ChatGroup]]:
        """chat id → the tenant's groups with that chat id."""
        now, out, missing = self.monotonic(), {}, []
        for chat_id in dict.fromkeys(chat_ids):
            hit = self._cache.get((tenant_id, chat_id))
            if hit is not None and now - hit[0] < self.seconds:
                out[chat_id] = hit[1]
            else:
                missing.append(chat_id)
        if len(self._cache) + len(missing) > self.CACHED:
            self._cache.clear()
        for chat_id, found in self._read(tenant_id, missing).items():
            self._cache[(tenant_id, chat_id)] = (now, found)
            out[chat_id] = found
        return out

    def _read(self, tenant_id: str, chat_ids: list[str]) -> dict[str, list[ChatGroup]]:
        """A Query per chat on the chat index, one BatchGetItem for the groups found."""
        keys: dict[str, list[str]] = {chat_id: [] for chat_id in chat_ids}
        for chat_id in chat_ids:
            for hit in GroupItem.chat.query(chat_id, GroupItem.tenant_id == tenant_id):
                keys.setdefault(chat_id, []).append(hit.group_id)
        wanted = {(tenant_id, g) for ids in keys.values() for g in ids}
        found = {i.group_id: i for i in GroupItem.batch_get(wanted, attributes_to_get=[
            "tenant_id", "group_id", "channel", "timezone"])} if wanted else {}
        return {chat_id: [ChatGroup(g, found[g].channel, found[g].timezone) for g in ids
                          if g in found]
                for chat_id, ids in keys.items()}
