"""The guard's view of groups and platforms: a group's rules scope, its bot's credential and its platform
connection's app credentials (from the secret store), cached a while per execution environment; a member's
roster entry; the platform client addressed by the group's channel."""

from __future__ import annotations

import time
from collections.abc import Iterable

from qunyun.adapters.community_tables import RosterItem
from qunyun.adapters.connections import ConnectionStore
from qunyun.adapters.credentials import CachedCredentials
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.secrets import SecretStore
from qunyun.channels.moderation import Moderation, ModTarget
from qunyun.domain.connections import CHANNELS
from qunyun.domain.guard import GuardGroup, Outcome
from qunyun.domain.roster import RosterEntry

PLATFORM_OF = {channel: platform for platform, channels in CHANNELS.items() for channel in channels}
APPS = frozenset({"feishu", "slack", "dingtalk"})  # where moderation is the tenant's app's, on its connection


class GuardGroups:
    def __init__(self, secrets: SecretStore, seconds: float = 300.0):
        self.repo, self.secrets, self.seconds = GroupRepository(), secrets, seconds
        self.apps = CachedCredentials(ConnectionStore(), secrets, seconds)
        self._cache: dict[tuple[str, str], tuple[float, GuardGroup | None]] = {}

    def __call__(self, tenant_id: str, group_id: str) -> GuardGroup | None:
        hit = self._cache.get((tenant_id, group_id))
        if hit is not None and time.monotonic() - hit[0] < self.seconds:
            return hit[1]
        found = self._read(tenant_id, group_id)
        self._cache[(tenant_id, group_id)] = (time.monotonic(), found)
        return found

    def _read(self, tenant_id: str, group_id: str) -> GuardGroup | None:
        g = self.repo.get(tenant_id, group_id)
        if g is None:
            return None
        channel = str(g.channel.value if hasattr(g.channel, "value") else g.channel)
        platform = PLATFORM_OF.get(channel, channel)
        return GuardGroup(
            g.group_id, str(g.kind.value if hasattr(g.kind, "value") else g.kind), tuple(g.tags), channel,
            g.chat_id or "", g.owner, self.secrets.get(g.secret_ref) if g.secret_ref else None,
            app=(self.apps.get(tenant_id, platform) or {}) if platform in APPS else {},
            # Only a DingTalk group's warnings go through its robot (the others' through the platform's API).
            webhook_url=self.secrets.get(g.webhook_ref) if channel == "dingtalk_robot" and g.webhook_ref else None)


def _entry(i: RosterItem) -> RosterEntry:
    return RosterEntry(i.member_id, i.name, i.status, i.joined_at, i.joined_how, i.left_at, i.left_how,
                       i.changed_at, i.role)


def roster_entry(tenant_id: str, group_id: str, member_id: str) -> RosterEntry | None:
    """One member's roster entry (one GetItem): their role and when they last joined."""
    try:
        return _entry(RosterItem.get(f"{tenant_id}#ROSTER#{group_id}", member_id, consistent_read=True))
    except RosterItem.DoesNotExist:
        return None


def roster_entries(seats: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], RosterEntry]:
    """Members' roster entries in any groups (a BatchGetItem a hundred), by (tenant, group, member); those on no
    roster left out."""
    keys = {(f"{tenant_id}#ROSTER#{group_id}", member_id): (tenant_id, group_id, member_id)
            for tenant_id, group_id, member_id in seats}
    return {keys[(i.pk, i.sk)]: _entry(i) for i in RosterItem.batch_get(list(keys), consistent_read=True)}


class GuardPlatforms:
    def __init__(self, moderation: Moderation):
        self.moderation = moderation

    @staticmethod
    def _target(group: GuardGroup) -> ModTarget:
        return ModTarget(PLATFORM_OF.get(group.channel, group.channel), group.chat_id, group.secret, group.app,
                         group.webhook_url)

    def delete(self, group: GuardGroup, message_id: str) -> Outcome:
        return self.moderation.delete(self._target(group), message_id)

    def delete_many(self, group: GuardGroup, message_ids: list[str]) -> list[Outcome]:
        return self.moderation.delete_many(self._target(group), message_ids)

    def post(self, group: GuardGroup, text: str) -> Outcome:
        return self.moderation.post(self._target(group), text)

    def remove(self, group: GuardGroup, user_id: str) -> Outcome:
        return self.moderation.remove(self._target(group), user_id)

    def restore(self, group: GuardGroup, user_id: str) -> Outcome:
        return self.moderation.restore(self._target(group), user_id)
