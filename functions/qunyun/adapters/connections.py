"""Platform connections in the community table: their public part, last event and refusal counters."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import UpdateError

from qunyun.adapters.community_tables import ConnectionItem
from qunyun.adapters.tables import conditional_failed
from qunyun.domain.connections import Connection


def _pk(tenant_id: str) -> str:
    return f"{tenant_id}#CONNECTIONS"


def _plain(value) -> dict:
    return value.as_dict() if hasattr(value, "as_dict") else dict(value or {})


def _from_item(tenant_id: str, item: ConnectionItem) -> Connection:
    return Connection(tenant_id=tenant_id, platform=item.platform, connected_at=item.connected_at,
                      secret_refs={k: str(v) for k, v in _plain(item.secret_refs).items()},
                      last_event_at=item.last_event_at,
                      refusals={k: int(v) for k, v in _plain(item.refusals).items()})


class ConnectionStore:
    def get(self, tenant_id: str, platform: str) -> Connection | None:
        try:
            return _from_item(tenant_id, ConnectionItem.get(_pk(tenant_id), platform))
        except ConnectionItem.DoesNotExist:
            return None

    def list(self, tenant_id: str) -> list[Connection]:
        return [_from_item(tenant_id, item) for item in ConnectionItem.query(_pk(tenant_id))]

    def save(self, connection: Connection) -> None:
        """A new or renewed connection: its secrets and time; the counters of an earlier one are kept."""
        item = ConnectionItem(_pk(connection.tenant_id), connection.platform)
        item.update(actions=[ConnectionItem.platform.set(connection.platform),
                             ConnectionItem.connected_at.set(connection.connected_at),
                             ConnectionItem.secret_refs.set(connection.secret_refs),
                             ConnectionItem.refusals.set(ConnectionItem.refusals | {})])

    def touch(self, tenant_id: str, platform: str, at: datetime) -> None:
        """Moves the last event time forward (never back), on a connection that exists."""
        try:
            ConnectionItem(_pk(tenant_id), platform).update(
                actions=[ConnectionItem.last_event_at.set(at)],
                condition=ConnectionItem.pk.exists() & (ConnectionItem.last_event_at.does_not_exist()
                                                        | (ConnectionItem.last_event_at < at)))
        except UpdateError as err:
            if not conditional_failed(err):
                raise

    def refused(self, tenant_id: str, platform: str, reason: str) -> None:
        """Counts one refused callback by its reason (one UpdateItem), on a connection that exists."""
        try:
            ConnectionItem(_pk(tenant_id), platform).update(
                actions=[ConnectionItem.refusals[reason].set((ConnectionItem.refusals[reason] | 0) + 1)],
                condition=ConnectionItem.pk.exists())
        except UpdateError as err:
            if not conditional_failed(err):
                raise
