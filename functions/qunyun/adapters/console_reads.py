"""What the console's today page reads that no other reader needs: one tenant's WeCom tasks still awaiting their
owners (the `awaiting_owner` index, a key-range query per shard, no Scan) and its groups whose channel failed for
good (`channel_broken`, on the group's item)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from qunyun.adapters.deliveries_tables import WaitingTaskItem
from qunyun.adapters.delivery_keys import AWAITING_SHARDS, awaiting_shard, task_of
from qunyun.adapters.tables import GroupItem


@dataclass(frozen=True)
class WaitingTask:
    msgid: str
    day: str
    kind: str
    edition: str | None
    since: datetime
    groups: tuple[str, ...]


class ConsoleReads:
    def waiting_tasks(self, tenant_id: str) -> list[WaitingTask]:
        """The tenant's mass-send tasks with groups awaiting their owner, oldest first."""
        found = []
        for n in range(AWAITING_SHARDS):
            query = WaitingTaskItem.awaiting.query(awaiting_shard(n),
                                                   WaitingTaskItem.awaiting_sk.startswith(f"{tenant_id}#"))
            for item in query:
                _, msgid = task_of(item.awaiting_sk)
                found.append(WaitingTask(msgid, item.day, item.kind, item.edition, item.since,
                                         tuple(sorted(item.waiting or ()))))
        return sorted(found, key=lambda t: (t.since, t.msgid))

    def broken_channels(self, tenant_id: str) -> dict[str, str]:
        """group_id → why its channel is marked broken, for the tenant's groups that are."""
        attrs = ["group_id", "channel_broken"]
        return {i.group_id: i.channel_broken for i in GroupItem.query(tenant_id, attributes_to_get=attrs)
                if i.channel_broken}
