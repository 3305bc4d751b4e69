"""The tenant's welcome file in the community table: one item, replaced whole when `welcome set` checks a file."""

from __future__ import annotations

from datetime import datetime

from qunyun.adapters.community_tables import WelcomeItem
from qunyun.domain.welcomes import WelcomeFile, WelcomeSettings

_SK = "FILE"


def _pk(tenant_id: str) -> str:
    return f"{tenant_id}#WELCOME"


class WelcomeStore:
    def get(self, tenant_id: str) -> WelcomeSettings | None:
        """The welcome as stored, or None where the tenant never set one."""
        try:
            item = WelcomeItem.get(_pk(tenant_id), _SK, consistent_read=True)
        except WelcomeItem.DoesNotExist:
            return None
        return WelcomeSettings(WelcomeFile.model_validate_json(item.file), int(item.version), item.set_at,
                               item.wecom_template_id, item.wecom_text)

    def put(self, tenant_id: str, file: WelcomeFile, at: datetime, wecom_template_id: str | None = None,
            wecom_text: str | None = None) -> int:
        current = self.get(tenant_id)
        version = (current.version if current else 0) + 1
        WelcomeItem(_pk(tenant_id), _SK, file=file.model_dump_json(by_alias=True), set_at=at, version=version,
                    wecom_template_id=wecom_template_id, wecom_text=wecom_text).save()
        return version
