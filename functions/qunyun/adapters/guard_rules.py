"""The tenant's group rules in the community table: one item, replaced whole when `guard set` checks a file."""

from __future__ import annotations

from datetime import datetime

from qunyun.adapters.community_tables import GuardRulesItem
from qunyun.domain.guard_rules import GroupRules

_SK = "RULES"


def _pk(tenant_id: str) -> str:
    return f"{tenant_id}#GUARD"


class GuardRulesStore:
    def get(self, tenant_id: str) -> tuple[GroupRules, int] | None:
        """The rules and their version, or None where the tenant never set any."""
        try:
            item = GuardRulesItem.get(_pk(tenant_id), _SK, consistent_read=True)
        except GuardRulesItem.DoesNotExist:
            return None
        return GroupRules.model_validate_json(item.rules), int(item.version)

    def put(self, tenant_id: str, rules: GroupRules, at: datetime) -> int:
        current = self.get(tenant_id)
        version = (current[1] if current else 0) + 1
        GuardRulesItem(_pk(tenant_id), _SK, rules=rules.model_dump_json(by_alias=True), set_at=at,
                       version=version).save()
        return version
