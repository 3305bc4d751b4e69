"""Join links (API.md §9): create one on the platform and remember what it is for, list them with their joins,
revoke one, or create many from a file checked whole first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from qunyun.domain.errors import InvalidRequest, NotFound, Unprocessable
from qunyun.domain.group_csv import RowError
from qunyun.domain.groups import Group, Kind, Status
from qunyun.domain.links import (
    PLATFORM_OF_CHANNEL,
    REFUSALS,
    TELEGRAM_NAME_MAX,
    WECOM_STATE_MAX,
    Link,
    LinkFor,
    check_terms,
    new_link_id,
    parse_bulk_csv,
)
from qunyun.domain.roster import RosterEntry


class LinkRecords(Protocol):
    def save(self, link: Link) -> None: ...
    def get(self, tenant_id: str, link_id: str) -> Link | None: ...
    def list(self, tenant_id: str) -> list[Link]: ...
    def revoke(self, tenant_id: str, link_id: str, at: datetime) -> None: ...


class Platforms(Protocol):
    def create(self, group: Group, link_id: str, name: str, expires_at: datetime | None, limit: int | None): ...
    def revoke(self, link: Link, group: Group | None): ...


class GroupReads(Protocol):
    def get(self, tenant_id: str, group_id: str) -> Group | None: ...
    def list(self, tenant_id: str): ...


@dataclass(frozen=True)
class LinkDeps:
    tenant_exists: Callable[[str], bool]
    groups: GroupReads
    links: LinkRecords
    platforms: Platforms
    roster: Callable[[str, str], list[RosterEntry]]  # a group's roster entries
    clock: Callable[[], datetime]


class InvalidLinkFile(InvalidRequest):
    code = "invalid_link_file"

    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len({e.line for e in errors})} row(s) of the file are not valid; no link was created. "
                         "Fix them and run it again.",
                         errors=[{"line": e.line, "field": e.field, "message": e.message} for e in errors])


def _tenant(tenant_id: str, deps: LinkDeps) -> None:
    if not deps.tenant_exists(tenant_id):
        raise NotFound(f"There is no tenant {tenant_id!r}; create it with `qunyun tenants create`.",
                       code="unknown_tenant")


def check_group(group: Group | None, group_id: str, now: datetime) -> str:
    """The platform a group's links are made on, or why it can have none."""
    if group is None:
        raise NotFound(f"There is no group {group_id!r}; import it first (`qunyun groups import`).",
                       code="unknown_group", field="group")
    ended = group.status is not Status.active or (
        group.kind is Kind.flash and group.ends_at is not None and group.ends_at <= now)
    if ended:
        raise Unprocessable(f"Group {group_id!r} has ended ({group.kind.value}, {group.status.value}); nobody should "
                            "be sent into it.", code="group_ended", field="group")
    platform = PLATFORM_OF_CHANNEL.get(str(group.channel))
    if platform is None:
        raise Unprocessable(f"Group {group_id!r} is a {group.channel} group, and links cannot be made there: "
                            f"{REFUSALS.get(str(group.channel), 'the platform does not say which link a joiner used')}"
                            ".", code="links_unsupported", field="group")
    if not group.chat_id:
        raise Unprocessable(f"Group {group_id!r} has no chat_id; set it in the group CSV.", code="no_chat_id")
    return platform


def _name(platform: str, name: str | None, link_for: LinkFor, link_id: str) -> str:
    limit = WECOM_STATE_MAX if platform == "wecom" else TELEGRAM_NAME_MAX
    if name is not None and not 1 <= len(name) <= limit:
        raise InvalidRequest(f"--name is 1 to {limit} characters on {platform}.", field="name")
    return name or str(link_for)[:limit - len(link_id) - 1].rstrip() + f" {link_id}"


def create_link(tenant_id: str, group_id: str, link_for: str, *, name: str | None = None,
                expires_at: datetime | None = None, limit: int | None = None, deps: LinkDeps) -> Link:
    """Makes the platform's link (WeCom: a join QR code whose `state` is the link id; Telegram: an invite link)
    and stores it with what it is for. Refused, creating nothing, for a group that ended or whose platform
    does not say which link a joiner used."""
    _tenant(tenant_id, deps)
    now = deps.clock()
    group = deps.groups.get(tenant_id, group_id)
    platform = check_group(group, group_id, now)
    target = LinkFor.parse(link_for)
    check_terms(platform, limit, expires_at, now)
    link_id = new_link_id()
    name = _name(platform, name, target, link_id)
    made = deps.platforms.create(group, link_id, name, expires_at, limit)
    if not made.ok:
        raise Unprocessable(f"{platform} refused the link for group {group_id!r}: {made.detail}",
                            code="platform_refused")
    link = Link(tenant_id=tenant_id, link_id=link_id, group_id=group_id, platform=platform, for_=target, name=name,
                url=made.url, ref=link_id if platform == "wecom" else made.url, created_at=now, expires_at=expires_at,
                limit=limit, config_id=made.config_id, chat_ids=list(made.chat_ids) or [group.chat_id])
    deps.links.save(link)
    return link


def revoke_link(tenant_id: str, link_id: str, *, deps: LinkDeps) -> Link:
    """Stops the link on the platform; joins through it from now on are credited to nobody."""
    _tenant(tenant_id, deps)
    link = deps.links.get(tenant_id, link_id)
    if link is None:
        raise NotFound(f"Tenant {tenant_id!r} has no link {link_id!r}.", code="unknown_link")
    if link.status == "revoked":
        return link
    stopped = deps.platforms.revoke(link, deps.groups.get(tenant_id, link.group_id))
    if not stopped.ok:
        raise Unprocessable(f"{link.platform} did not stop link {link_id!r}: {stopped.detail}",
                            code="platform_refused")
    now = deps.clock()
    deps.links.revoke(tenant_id, link_id, now)
    link.status, link.revoked_at = "revoked", now
    return link


def list_links(tenant_id: str, group_id: str | None = None, *, deps: LinkDeps) -> list[dict]:
    """Each link with `joins` (members its joins brought, in all its groups) and `still_members` (of them, those
    still there)."""
    _tenant(tenant_id, deps)
    links = [link for link in deps.links.list(tenant_id) if group_id is None or link.group_id == group_id]
    by_chat: dict[str, list[str]] = {}
    for g in deps.groups.list(tenant_id) if links else []:
        if g.chat_id:
            by_chat.setdefault(g.chat_id, []).append(g.group_id)
    rosters: dict[str, list[RosterEntry]] = {}
    rows = []
    for link in sorted(links, key=lambda x: (x.group_id, x.created_at)):
        entries = []
        for chat in link.chat_ids:
            for g in by_chat.get(chat, []):
                if g not in rosters:
                    rosters[g] = [e for e in deps.roster(tenant_id, g) if e.link_id]
                entries += [e for e in rosters[g] if e.link_id == link.link_id]
        rows.append({"link_id": link.link_id, "group_id": link.group_id, "platform": link.platform,
                     "for": str(link.for_), "name": link.name, "url": link.url, "status": link.status,
                     "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None,
                     "expires_at": link.expires_at.isoformat() if link.expires_at else None, "limit": link.limit,
                     "groups": len(link.chat_ids), "joins": len(entries),
                     "still_members": sum(1 for e in entries if e.status == "member"),
                     "created_at": link.created_at.isoformat()})
    return rows


def bulk_links(tenant_id: str, csv_text: str, *, deps: LinkDeps, progress=None) -> list[Link]:
    """Links from `group_id,for,name` rows: every row is checked first (its group, what it is for, its name), and
    none is created while any row is bad."""
    _tenant(tenant_id, deps)
    rows, errors = parse_bulk_csv(csv_text)
    now, groups = deps.clock(), {}
    for row in rows:
        if row.group_id not in groups:
            groups[row.group_id] = deps.groups.get(tenant_id, row.group_id)
        try:
            platform = check_group(groups[row.group_id], row.group_id, now)
            if row.name is not None:
                _name(platform, row.name, row.for_, "")
        except (InvalidRequest, NotFound, Unprocessable) as e:
            errors.append(RowError(row.line, e.details.get("field"), e.message))
    if errors:
        raise InvalidLinkFile(sorted(errors, key=lambda e: e.line))
    if not rows:
        raise InvalidRequest("The file has a header but no links; nothing was created.", code="invalid_link_file")
    made = []
    for row in rows:
        made.append(create_link(tenant_id, row.group_id, str(row.for_), name=row.name, deps=deps))
        if progress and len(made) % 100 == 0:
            progress(len(made))
    return made
