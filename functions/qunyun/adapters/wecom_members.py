"""A WeCom customer group's members through groupchat/get, with the tenant's corp credentials (`tenants wecom`)."""

from __future__ import annotations

import logging

from qunyun.adapters.secrets import SecretStore, corp_ref
from qunyun.channels.result import Outcome
from qunyun.channels.wecom_customer_group import Corp
from qunyun.domain.roster import PlatformMember

logger = logging.getLogger(__name__)


class WecomMembers:
    def __init__(self, secrets: SecretStore, base_url: str):
        self.secrets, self.base_url = secrets, base_url
        self._client = None

    def __call__(self, tenant_id: str, chat_id: str) -> tuple[str, list[PlatformMember]] | None:
        corp_id = self.secrets.get(corp_ref(self.secrets, tenant_id, "corp_id"))
        secret = self.secrets.get(corp_ref(self.secrets, tenant_id, "corp_secret"))
        if not corp_id or not secret:
            logger.warning("no WeCom corp credentials to reconcile a roster", extra={"tenant_id": tenant_id})
            return None
        if self._client is None:
            from qunyun.channels.wecom_groupchat import WecomGroupChats

            self._client = WecomGroupChats(self.base_url)
        return answer_of(self._client.group_members(Corp(corp_id, secret), chat_id))


def answer_of(result):
    """groupchat/get's data, or None when WeCom refused (logged); WeCom busy or unreachable raises, so that the
    chat's events are retried and what they were to reconcile is not forgotten."""
    if result.outcome is Outcome.transient:
        raise RuntimeError(f"groupchat/get failed for now: {result.code}")
    if not result.ok:
        logger.warning("groupchat/get refused", extra={"code": result.code, "detail": result.detail})
        return None
    return result.data
