"""Join links on the platforms, with the tenant's credentials: the WeCom corp of `tenants wecom`, the Telegram
group's bot token (its CSV `secret`)."""

from __future__ import annotations

from datetime import datetime

from qunyun.adapters.secrets import SecretStore, corp_ref
from qunyun.adapters.wecom_members import answer_of
from qunyun.channels.join_links import JoinLinkResult, TelegramInviteLinks, WecomJoinWays
from qunyun.channels.wecom_customer_group import Corp
from qunyun.channels.wecom_groupchat import GroupChat, WecomGroupChats
from qunyun.domain.groups import Group
from qunyun.domain.links import Link


class LinkPlatforms:
    def __init__(self, secrets: SecretStore, wecom_base_url: str, telegram_base_url: str):
        self.secrets, self.wecom_base_url = secrets, wecom_base_url
        self.telegram = TelegramInviteLinks(telegram_base_url)
        self._ways: WecomJoinWays | None = None
        self._chats: WecomGroupChats | None = None

    def _corp(self, tenant_id: str) -> Corp | None:
        corp_id = self.secrets.get(corp_ref(self.secrets, tenant_id, "corp_id"))
        secret = self.secrets.get(corp_ref(self.secrets, tenant_id, "corp_secret"))
        return Corp(corp_id, secret) if corp_id and secret else None

    def _wecom(self) -> WecomJoinWays:
        if self._ways is None:
            self._ways = WecomJoinWays(self.wecom_base_url)
        return self._ways

    def _bot_token(self, group: Group) -> str | None:
        return self.secrets.get(group.secret_ref) if group.secret_ref else None

    def create(self, group: Group, link_id: str, name: str, expires_at: datetime | None,
               limit: int | None) -> JoinLinkResult:
        if group.channel == "wecom_customer_group":
            corp = self._corp(group.tenant_id)
            if corp is None:
                return JoinLinkResult.refused("the tenant has no WeCom corp credentials; set them with "
                                              "`qunyun tenants wecom`")
            return self._wecom().add(corp, link_id, [group.chat_id], group.name, name)
        token = self._bot_token(group)
        if not token:
            return JoinLinkResult.refused("the group has no bot token (its CSV secret)")
        return self.telegram.create(token, group.chat_id, name, expires_at, limit)

    def revoke(self, link: Link, group: Group | None) -> JoinLinkResult:
        if link.platform == "wecom":
            corp = self._corp(link.tenant_id)
            if corp is None:
                return JoinLinkResult.refused("the tenant has no WeCom corp credentials")
            return self._wecom().delete(corp, link.config_id or "")
        token = self._bot_token(group) if group else None
        if not token:
            return JoinLinkResult.refused("the link's group or its bot token is gone")
        return self.telegram.revoke(token, link.chat_ids[0] if link.chat_ids else group.chat_id, link.url)

    def group_chat(self, tenant_id: str, chat_id: str) -> GroupChat | None:
        """A WeCom customer group as groupchat/get shows it (members with their join way's `state`); None when
        it cannot be read. WeCom being busy raises, so that the events are retried."""
        corp = self._corp(tenant_id)
        if corp is None:
            return None
        if self._chats is None:
            self._chats = WecomGroupChats(self.wecom_base_url)
        return answer_of(self._chats.group_chat(corp, chat_id))
