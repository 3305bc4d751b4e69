"""The tenants repository: PynamoDB behind domain objects."""

from __future__ import annotations

from pynamodb.exceptions import PutError

from qunyun.adapters.tables import TenantItem, conditional_failed
from qunyun.domain.errors import Conflict
from qunyun.domain.rules import Rules
from qunyun.domain.tenants import Tenant, TenantPolicy


class TenantRepository:
    def get(self, tenant_id: str) -> Tenant | None:
        try:
            item = TenantItem.get(tenant_id)
        except TenantItem.DoesNotExist:
            return None
        return Tenant(
            tenant_id=item.tenant_id,
            name=item.name,
            timezone=item.timezone,
            secret_ref=item.secret_ref,
            policy=TenantPolicy.model_validate(item.policy.as_dict() if item.policy else {}),
            rules=Rules.model_validate(item.rules or {}),
            created_at=item.created_at,
        )

    def set_rules(self, tenant_id: str, rules: Rules) -> None:
        TenantItem(tenant_id).update(actions=[TenantItem.rules.set(rules.model_dump(mode="json"))],
                                     condition=TenantItem.tenant_id.exists())

    def set_policy(self, tenant_id: str, policy: TenantPolicy) -> None:
        TenantItem(tenant_id).update(actions=[TenantItem.policy.set(policy.model_dump(mode="json"))],
                                     condition=TenantItem.tenant_id.exists())

    def ids(self) -> list[str]:
        return [item.tenant_id for item in TenantItem.all.query("tenant")]

    def add(self, tenant: Tenant) -> None:
        """Creates the tenant; an existing id is a conflict, never an overwrite."""
        item = TenantItem(
            tenant.tenant_id,
            name=tenant.name,
            timezone=tenant.timezone,
            secret_ref=tenant.secret_ref,
            policy=tenant.policy.model_dump(),
            created_at=tenant.created_at,
        )
        try:
            item.save(condition=TenantItem.tenant_id.does_not_exist())
        except PutError as e:
            if conditional_failed(e):
                raise Conflict(f"Tenant {tenant.tenant_id!r} already exists.", code="tenant_exists") from None
            raise
