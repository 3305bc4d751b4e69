"""What ProcessGroupEvents does with join links: which link brought a joiner, the inviter's held invite points, their
cancellation when the newcomer leaves, and the groups WeCom opens when a join link's groups are full.

Telegram's `chat_member` update names the invite link's URL. WeCom's join callback names none: a customer group
some link leads into is re-read with groupchat/get, whose members carry the `state` of the join way (群活码) that
brought them. A link counts only for joins of its tenant, into its chats, while it was neither revoked nor
expired. A WeCom chat no group names, whose members came through one of the tenant's join ways, is a group that
`auto_create_room` opened: it is registered like the link's group (kind, tags, store, rep, slots), with its own
chat id, and joins the link's chats."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from qunyun.domain.connections import ChatGroup
from qunyun.domain.group_events import MemberJoined
from qunyun.domain.groups import Group, Status
from qunyun.domain.links import Link
from qunyun.domain.tenants import Tenant

if TYPE_CHECKING:
    from qunyun.services.ledger_ports import PointsUnitOfWork

logger = logging.getLogger(__name__)


class Links(Protocol):
    def by_ref(self, tenant_id: str, platform: str, ref: str) -> Link | None: ...
    def list(self, tenant_id: str) -> list[Link]: ...
    def chat_links(self, tenant_id: str, platform: str, chat_id: str) -> set[str]: ...
    def add_chat(self, link: Link, chat_id: str) -> None: ...


class Listed(Protocol):
    """A WeCom customer group as groupchat/get shows it (channels/wecom_groupchat.py GroupChat)."""

    name: str
    owner: str
    members: list


class Groups(Protocol):
    def get(self, tenant_id: str, group_id: str) -> Group | None: ...
    def save_many(self, groups, progress=None, default_timezone: str | None = None,
                  register_zones: bool = True) -> int: ...


@dataclass(frozen=True)
class LinkJoinDeps:
    links: Links
    wecom_chat: Callable[[str, str], Listed | None]  # groupchat/get; raises while WeCom is busy
    tenant: Callable[[str], Tenant | None]
    ledger: PointsUnitOfWork
    groups: Groups
    flash_ends: Callable[[str, str, datetime, datetime], None]  # (tenant, group, ends_at, now) of a flash group
    clock: Callable[[], datetime]


class LinkJoins:
    """Lookups are remembered a while per execution environment (`seconds`), like the chat directory's."""

    def __init__(self, deps: LinkJoinDeps, seconds: float = 60.0, monotonic: Callable[[], float] = time.monotonic):
        self.deps, self.seconds, self.monotonic = deps, seconds, monotonic
        self._cache: dict[tuple, tuple[float, object]] = {}

    def _cached(self, key: tuple, read: Callable[[], object], seconds: float | None = None) -> object:
        hit = self._cache.get(key)
        if hit is not None and self.monotonic() - hit[0] < (self.seconds if seconds is None else seconds):
            return hit[1]
        if len(self._cache) > 20_000:
            self._cache.clear()
        value = read()
        self._cache[key] = (self.monotonic(), value)
        return value

    def _by_ref(self, tenant_id: str, platform: str, ref: str) -> Link | None:
        return self._cached(("ref", tenant_id, platform, ref), lambda: self.deps.links.by_ref(tenant_id, platform, ref))

    def _listed(self, tenant_id: str, chat_id: str, user_ids: set[str]) -> Listed | None:
        """groupchat/get, read again when it does not list all of `user_ids` yet (they joined since)."""
        key = ("chat", tenant_id, chat_id)
        listed = self._cached(key, lambda: self.deps.wecom_chat(tenant_id, chat_id), seconds=5.0)
        if listed is not None and not user_ids <= {m.user_id for m in listed.members}:
            self._cache.pop(key, None)
            listed = self._cached(key, lambda: self.deps.wecom_chat(tenant_id, chat_id), seconds=5.0)
        return listed

    def joined(self, tenant_id: str, platform: str, chat_id: str, event: MemberJoined) -> dict[str, Link]:
        """user id → the link that brought them, for the joiners a link of the tenant brought into this chat."""
        at, found = event.occurred_at, {}
        if platform == "telegram" and event.invite_url:
            link = self._by_ref(tenant_id, "telegram", event.invite_url)
            found = {m.user_id: link for m in event.members} if link else {}
        elif platform == "wecom":
            ids = self._cached(("chatlinks", tenant_id, chat_id),
                               lambda: self.deps.links.chat_links(tenant_id, "wecom", chat_id))
            listed = self._listed(tenant_id, chat_id, {m.user_id for m in event.members}) if ids else None
            states = {m.user_id: m.state for m in (listed.members if listed else []) if m.state}
            found = {u: self._by_ref(tenant_id, "wecom", s) for u, s in states.items()
                     if u in {m.user_id for m in event.members}}
        # A WeCom state read from this chat's own list is the join way that led here, whichever chats it had then
        # (a group WeCom has just opened for it included); a Telegram URL must be one into this chat.
        return {u: link for u, link in found.items()
                if link and (platform == "wecom" or chat_id in link.chat_ids) and link.usable_at(at)}

    def listed(self, tenant_id: str, platform: str, members: list) -> dict[str, Link]:
        """member id → the tenant's link whose `state` groupchat/get lists for the member (a roster brought in
        line after a lost callback)."""
        found = {f"{platform}:{m.user_id}": self._by_ref(tenant_id, "wecom", m.state)
                 for m in members if getattr(m, "state", None)}
        return {member_id: link for member_id, link in found.items() if link}

    def invited(self, tenant_id: str, link: Link, invitee_id: str, group_id: str, at: datetime) -> None:
        """A join through a `member:` link: the inviter's held invite points."""
        # The ledger's rules load with the first join or leave: a cold start of message batches does without them.
        from qunyun.services.invite_holds import invite_on_join

        tenant = self.deps.tenant(tenant_id)
        if tenant is not None and link.for_.kind == "member":
            invite_on_join(tenant, link.for_.id, invitee_id, group_id, at, link.link_id, ledger=self.deps.ledger,
                           now=self.deps.clock())

    def left(self, tenant_id: str, group_id: str, member_id: str, at: datetime) -> None:
        from qunyun.services.invite_holds import cancel_on_leave

        tenant = self.deps.tenant(tenant_id)
        if tenant is not None:
            cancel_on_leave(tenant, member_id, group_id, at, ledger=self.deps.ledger, now=self.deps.clock())

    def rollover(self, tenant_id: str, chat_id: str) -> ChatGroup | None:
        """The group WeCom opened for a join link whose groups were full, registered on first sight; None for a
        chat no join way of the tenant brought members into."""
        key = ("rolled", tenant_id, chat_id)
        hit = self._cache.get(key)
        if hit is not None and (hit[1] is not None or self.monotonic() - hit[0] < 5.0):
            return hit[1]  # a chat found to be no link's is asked about again soon: its joiners may come next
        self._cache[key] = (self.monotonic(), self._register(tenant_id, chat_id))
        return self._cache[key][1]

    def _register(self, tenant_id: str, chat_id: str) -> ChatGroup | None:
        links = self._cached(("wecom", tenant_id), lambda: [
            link for link in self.deps.links.list(tenant_id) if link.platform == "wecom" and link.status == "active"])
        if not links:
            return None
        listed = self.deps.wecom_chat(tenant_id, chat_id)
        refs = {link.ref: link for link in links}
        link = next((refs[m.state] for m in (listed.members if listed else []) if m.state in refs), None)
        base = self.deps.groups.get(tenant_id, link.group_id) if link else None
        tenant = self.deps.tenant(tenant_id)
        if base is None or base.status is not Status.active or tenant is None:
            return None
        group_id = f"{base.group_id}.{hashlib.sha256(chat_id.encode()).hexdigest()[:6]}"
        group = self.deps.groups.get(tenant_id, group_id)
        if group is None:
            now = self.deps.clock()
            group = base.model_copy(update={"group_id": group_id, "name": (listed.name or base.name)[:200],
                                            "chat_id": chat_id, "owner": listed.owner or base.owner,
                                            "created_at": now, "updated_at": now})
            # The copy's zone is the first group's, registered for the dispatcher already.
            self.deps.groups.save_many([group], default_timezone=tenant.timezone, register_zones=False)
            if group.ends_at is not None:
                self.deps.flash_ends(tenant_id, group_id, group.ends_at, now)
            logger.info("registered a group a join link opened", extra={"group_id": group_id, "link": link.link_id})
        if chat_id not in link.chat_ids:
            self.deps.links.add_chat(link, chat_id)
            link.chat_ids.append(chat_id)
        self._cache.pop(("chatlinks", tenant_id, chat_id), None)
        return ChatGroup(group.group_id, "wecom_customer_group", group.timezone)
