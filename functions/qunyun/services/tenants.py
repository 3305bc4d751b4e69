"""Creating tenants and checking who is calling."""

from __future__ import annotations

import secrets as token
from datetime import UTC, datetime

from pydantic import ValidationError

from qunyun.adapters.secrets import SecretStore
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.errors import Conflict, InvalidRequest, NotFound
from qunyun.domain.tenants import DEFAULT_TIMEZONE, Tenant, TenantPolicy, check_tenant_id, check_timezone


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


def _value(key: str, text: str):
    """A setting as written on the command line: lists are comma-separated, empty is unset."""
    field = TenantPolicy.model_fields[key]
    if "list" in str(field.annotation):
        return [part.strip() for part in text.split(",") if part.strip()]
    return text.strip() or None


def change_policy(tenant_id: str, settings: list[str], *, tenants: TenantRepository) -> tuple[dict, dict]:
    """Applies `key=value` settings to the tenant's policy, all or none; returns the policy before and after."""
    tenant = tenants.get(tenant_id)
    if tenant is None:
        raise NotFound(f"There is no tenant {tenant_id!r}; create it with `qunyun tenants create`.",
                       code="unknown_tenant")
    before = tenant.policy.model_dump(mode="json")
    changes: dict = {}
    for setting in settings:
        key, sep, text = setting.partition("=")
        key = key.strip()
        if not sep or key not in TenantPolicy.model_fields:
            known = ", ".join(TenantPolicy.model_fields)
            raise InvalidRequest(f"{setting!r}: write KEY=VALUE with KEY one of {known}.", field=key or "setting")
        changes[key] = _value(key, text)
    try:
        after = TenantPolicy.model_validate({**before, **changes})
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidRequest(f"{field}: {str(first['msg']).removeprefix('Value error, ')}; nothing was changed.",
                             field=field) from None
    if changes:
        tenants.set_policy(tenant_id, after)
    return before, after.model_dump(mode="json")
