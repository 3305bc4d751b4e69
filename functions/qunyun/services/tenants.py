"""Creating tenants and checking who is calling."""

from __future__ import annotations

import secrets as token
from datetime import UTC, datetime

from qunyun.adapters.secrets import SecretStore
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.errors import Conflict, InvalidRequest
from qunyun.domain.tenants import DEFAULT_TIMEZONE, Tenant, check_tenant_id, check_timezone


def create_tenant(
    tenant_id: str, name: str, timezone: str | None, *, tenants: TenantRepository, secrets: SecretStore
) -> tuple[Tenant, str]:
    """Creates a tenant with a fresh webhook secret; returns the tenant and the secret (shown once)."""
    check_tenant_id(tenant_id)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidRequest("A tenant needs a name of 1 to 200 characters.", field="name")
    timezone = check_timezone(timezone or DEFAULT_TIMEZONE)
    if tenants.get(tenant_id) is not None:
        raise Conflict(f"Tenant {tenant_id!r} already exists.", code="tenant_exists")
    secret = token.token_urlsafe(32)
    ref = secrets.put_many({f"{tenant_id}/webhook_secret": secret})[f"{tenant_id}/webhook_secret"]
    tenant = Tenant(tenant_id=tenant_id, name=name, timezone=timezone, secret_ref=ref, created_at=datetime.now(UTC))
    tenants.add(tenant)
    return tenant, secret
