"""A WeCom owner's day of customer-group statistics (`groupchat/statistic_group_by_day`), with the tenant's corp
credentials (`tenants wecom`): the only activity WeCom gives of customer groups without the paid archive."""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from qunyun.adapters.secrets import SecretStore, corp_ref
from qunyun.channels.result import Outcome
from qunyun.channels.wecom_customer_group import Corp
from qunyun.domain.metrics_day import OwnerDay

logger = logging.getLogger(__name__)
FIELDS = ("chat_has_msg", "member_has_msg", "msg_total", "new_member_cnt", "member_total")
# WeCom counts statistics' days in China Standard Time, whatever the group's timezone.
WECOM_TZ = ZoneInfo("Asia/Shanghai")


class WecomStatistics:
    def __init__(self, secrets: SecretStore, base_url: str):
        self.secrets, self.base_url = secrets, base_url
        self._client = None

    def __call__(self, tenant_id: str, owner: str, day: date) -> OwnerDay | None:
        """The owner's day; None without corp credentials or when WeCom refuses them (the day then counts
        check-ins). WeCom busy or unreachable raises: the tenant's day stays open and the next hour tries again."""
        corp_id = self.secrets.get(corp_ref(self.secrets, tenant_id, "corp_id"))
        secret = self.secrets.get(corp_ref(self.secrets, tenant_id, "corp_secret"))
        if not corp_id or not secret:
            return None
        if self._client is None:
            from qunyun.channels.wecom_groupchat import WecomGroupChats

            self._client = WecomGroupChats(self.base_url)
        start = int(datetime.combine(day, time(), WECOM_TZ).timestamp())
        result = self._client.owner_days(Corp(corp_id, secret), owner, start, start)
        if result.outcome is Outcome.transient:
            raise RuntimeError(f"statistic_group_by_day failed for now: {result.code}")
        if not result.ok:
            logger.warning("statistic_group_by_day refused", extra={"code": result.code, "detail": result.detail})
            return None
        data = (result.data or {}).get(start)
        return OwnerDay(**{f: int(data.get(f) or 0) for f in FIELDS}) if data is not None else OwnerDay()
