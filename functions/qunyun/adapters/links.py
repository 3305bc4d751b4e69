"""Join links in the community table, found by id, by what a join names them by, and by the chats they lead into.

    pk                      sk                      item
    {tenant}#LINKS          {link id}               LinkItem: the link and what it is for
    {tenant}#LINKREF        {platform}#{ref}        LinkRefItem: the WeCom state or Telegram URL → the link id
    {tenant}#LINKCHAT       {platform}#{chat}       LinkChatItem: the links leading into a chat
"""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import (
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.transactions import TransactWrite

from qunyun.adapters.community_tables import _CommunityItem
from qunyun.domain.links import Link, LinkFor


class LinkItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    group_id = UnicodeAttribute()
    platform = UnicodeAttribute()
    link_for = UnicodeAttribute()  # store:ID | rep:ID | member:ID | campaign:NAME
    name = UnicodeAttribute()
    url = UnicodeAttribute()
    ref = UnicodeAttribute()
    config_id = UnicodeAttribute(null=True)
    chat_ids = ListAttribute(of=UnicodeAttribute, default=list)
    expires_at = UTCDateTimeAttribute(null=True)
    limit = NumberAttribute(null=True)
    status = UnicodeAttribute(default="active")
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)


class LinkRefItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    link_id = UnicodeAttribute()


class LinkChatItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    link_ids = UnicodeSetAttribute(null=True)


def _link(item: LinkItem) -> Link:
    kind, _, value = item.link_for.partition(":")
    return Link(tenant_id=item.pk.removesuffix("#LINKS"), link_id=item.sk, group_id=item.group_id,
                platform=item.platform, for_=LinkFor(kind, value), name=item.name, url=item.url, ref=item.ref,
                created_at=item.created_at, expires_at=item.expires_at,
                limit=int(item.limit) if item.limit is not None else None, config_id=item.config_id,
                chat_ids=list(item.chat_ids or []), status=item.status, revoked_at=item.revoked_at)


def _chat_key(tenant_id: str, platform: str, chat_id: str) -> tuple[str, str]:
    return f"{tenant_id}#LINKCHAT", f"{platform}#{chat_id}"


class LinkStore:
    def save(self, link: Link) -> None:
        """The link, its reference and its chats, together."""
        t = link.tenant_id
        with TransactWrite(connection=LinkItem._get_connection().connection) as tx:
            tx.save(LinkItem(f"{t}#LINKS", link.link_id, group_id=link.group_id, platform=link.platform,
                             link_for=str(link.for_), name=link.name, url=link.url, ref=link.ref,
                             config_id=link.config_id, chat_ids=link.chat_ids, expires_at=link.expires_at,
                             limit=link.limit, status=link.status, created_at=link.created_at),
                    condition=LinkItem.pk.does_not_exist())
            tx.save(LinkRefItem(f"{t}#LINKREF", f"{link.platform}#{link.ref}", link_id=link.link_id))
            for chat_id in link.chat_ids:
                tx.update(LinkChatItem(*_chat_key(t, link.platform, chat_id)),
                          actions=[LinkChatItem.link_ids.add({link.link_id})])

    def get(self, tenant_id: str, link_id: str) -> Link | None:
        try:
            return _link(LinkItem.get(f"{tenant_id}#LINKS", link_id))
        except LinkItem.DoesNotExist:
            return None

    def by_ref(self, tenant_id: str, platform: str, ref: str) -> Link | None:
        """The tenant's link a join names (another tenant's state or URL is no link of this one)."""
        try:
            link_id = LinkRefItem.get(f"{tenant_id}#LINKREF", f"{platform}#{ref}").link_id
        except LinkRefItem.DoesNotExist:
            return None
        return self.get(tenant_id, link_id)

    def list(self, tenant_id: str) -> list[Link]:
        return [_link(i) for i in LinkItem.query(f"{tenant_id}#LINKS")]

    def chat_links(self, tenant_id: str, platform: str, chat_id: str) -> set[str]:
        try:
            return set(LinkChatItem.get(*_chat_key(tenant_id, platform, chat_id)).link_ids or ())
        except LinkChatItem.DoesNotExist:
            return set()

    def add_chat(self, link: Link, chat_id: str) -> None:
        """A group the platform made for the link (WeCom's auto_create_room) joins its chats."""
        with TransactWrite(connection=LinkItem._get_connection().connection) as tx:
            tx.update(LinkItem(f"{link.tenant_id}#LINKS", link.link_id),
                      actions=[LinkItem.chat_ids.set(LinkItem.chat_ids.append([chat_id]))],
                      condition=LinkItem.pk.exists())
            tx.update(LinkChatItem(*_chat_key(link.tenant_id, link.platform, chat_id)),
                      actions=[LinkChatItem.link_ids.add({link.link_id})])

    def revoke(self, tenant_id: str, link_id: str, at: datetime) -> None:
        LinkItem(f"{tenant_id}#LINKS", link_id).update(
            actions=[LinkItem.status.set("revoked"), LinkItem.revoked_at.set(at)],
            condition=LinkItem.pk.exists() & (LinkItem.status == "active"))
