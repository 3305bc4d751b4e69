"""Creating tenants and checking who is calling."""

from __future__ import annotations

import re
import secrets as token
from datetime import UTC, datetime

from pydantic import ValidationError

from qunyun.adapters.secrets import SecretStore, webhook_secret_name, wecom_corp_name
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
    secret_name = webhook_secret_name(tenant_id)
    ref = secrets.put_many({secret_name: secret})[secret_name]
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


_CORP_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CORP_SECRET = re.compile(r"[\x21-\x7e]{8,128}")


def set_wecom_corp(tenant_id: str, corp_id: str, corp_secret: str, *, tenants: TenantRepository,
                   secrets: SecretStore) -> None:
    """Stores the tenant's WeCom corp id and 客户联系 secret, which customer groups' mass sends and their
    follow-up use. Both are checked before either is stored; the secret is never echoed."""
    if tenants.get(tenant_id) is None:
        raise NotFound(f"There is no tenant {tenant_id!r}; create it with `qunyun tenants create`.",
                       code="unknown_tenant")
    corp_id, corp_secret = (corp_id or "").strip(), (corp_secret or "").strip()
    if not _CORP_ID.fullmatch(corp_id):
        raise InvalidRequest("The corp id (我的企业 → 企业ID, e.g. ww0123456789abcdef) is 1 to 64 letters, digits, "
                             "- or _.", field="corp_id")
    if not _CORP_SECRET.fullmatch(corp_secret):
        raise InvalidRequest("The secret (客户联系 → API → Secret) is 8 to 128 printable characters without spaces.",
                             field="corp_secret")
    secrets.put_many({wecom_corp_name(tenant_id, "corp_id"): corp_id,
                      wecom_corp_name(tenant_id, "corp_secret"): corp_secret})
