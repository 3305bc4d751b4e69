"""The console's one-time login links and its sessions, in the community table, each under the SHA-256 of its
token (the token itself is never stored). A link is spent by one conditional write; both expire by themselves
(`expires`, DynamoDB TTL) and are refused past their time even before TTL has removed them.

    pk                         sk        item
    ~console#link#{digest}     LINK      ConsoleKeyItem: a login link, its tenant, when it was used
    ~console#session#{digest}  SESSION   ConsoleKeyItem: a session, its tenant and its CSRF token
"""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import PutError, UpdateError

from qunyun.adapters.community_tables import _CommunityItem
from qunyun.adapters.tables import conditional_failed


class ConsoleKeyItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    tenant_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    used_at = UTCDateTimeAttribute(null=True)
    csrf = UnicodeAttribute(null=True)


def _link(digest: str) -> tuple[str, str]:
    return f"~console#link#{digest}", "LINK"


def _session(digest: str) -> tuple[str, str]:
    return f"~console#session#{digest}", "SESSION"


class ConsoleKeys:
    def add_link(self, digest: str, tenant_id: str, expires: datetime, now: datetime) -> None:
        ConsoleKeyItem(*_link(digest), tenant_id=tenant_id, created_at=now, expires=expires).save(
            condition=ConsoleKeyItem.pk.does_not_exist())

    def use_link(self, digest: str, now: datetime) -> tuple[str | None, str]:
        """Spends the link once: (its tenant, "ok"), or (None, "used" | "expired" | "unknown")."""
        item = ConsoleKeyItem(*_link(digest))
        try:
            item.update(actions=[ConsoleKeyItem.used_at.set(now)],
                        condition=ConsoleKeyItem.pk.exists() & ConsoleKeyItem.used_at.does_not_exist()
                        & (ConsoleKeyItem.expires > now))
        except UpdateError as err:
            if not conditional_failed(err):
                raise
            return None, self._why_refused(digest, now)
        return item.tenant_id, "ok"

    @staticmethod
    def _why_refused(digest: str, now: datetime) -> str:
        try:
            found = ConsoleKeyItem.get(*_link(digest), consistent_read=True)
        except ConsoleKeyItem.DoesNotExist:
            return "unknown"
        return "used" if found.used_at is not None else "expired"

    def add_session(self, digest: str, tenant_id: str, csrf: str, expires: datetime, now: datetime) -> None:
        try:
            ConsoleKeyItem(*_session(digest), tenant_id=tenant_id, csrf=csrf, created_at=now, expires=expires).save(
                condition=ConsoleKeyItem.pk.does_not_exist())
        except PutError as err:  # 256 random bits never collide; a retried write finds its own item
            if not conditional_failed(err):
                raise

    def session(self, digest: str, now: datetime) -> tuple[str, str] | None:
        """(tenant, CSRF token) of a session still in force, else None."""
        try:
            found = ConsoleKeyItem.get(*_session(digest))
        except ConsoleKeyItem.DoesNotExist:
            return None
        if found.expires is None or found.expires <= now:
            return None
        return found.tenant_id, found.csrf or ""
