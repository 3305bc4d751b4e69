"""The group registry: importing the operator's CSV and reading groups back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from qunyun.adapters.flash import FlashRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.secrets import SecretStore, group_secret_name
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.errors import InvalidRequest, NotFound
from qunyun.domain.group_csv import RowError, parse_group_csv
from qunyun.domain.groups import Group, GroupRow, Kind, Status
from qunyun.domain.tenants import Tenant


class InvalidGroupFile(InvalidRequest):
    code = "invalid_group_file"

    def __init__(self, errors: list[RowError]):
        lines = sorted({e.line for e in errors})
        super().__init__(
            f"{len(lines)} row(s) of the file are not valid; nothing was imported. Fix them and import again.",
            errors=[{"line": e.line, "field": e.field, "message": e.message} for e in errors],
        )
        self.errors = errors


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    secrets_stored: int


def require_tenant(tenant_id: str, tenants: TenantRepository) -> Tenant:
    tenant = tenants.get(tenant_id)
    if tenant is None:
        raise NotFound(
            f"There is no tenant {tenant_id!r}; create it with `qunyun tenants create`.", code="unknown_tenant"
        )
    return tenant


def _to_group(tenant_id: str, row: GroupRow, refs: dict[str, str], known: tuple[str, datetime] | None,
              now: datetime) -> Group:
    data = row.model_dump(exclude={"webhook_url", "secret"})
    status, created = known or (Status.active, now)
    return Group(
        tenant_id=tenant_id,
        **data,
        webhook_ref=refs.get(group_secret_name(tenant_id, row.group_id, "webhook_url")),
        webhook_host=urlsplit(row.webhook_url).netloc if row.webhook_url else None,
        secret_ref=refs.get(group_secret_name(tenant_id, row.group_id, "secret")),
        status=status,
        created_at=created,
        updated_at=now,
    )


def import_groups(
    tenant_id: str, csv_text: str, *, tenants: TenantRepository, groups: GroupRepository, secrets: SecretStore,
    progress=None, flash: FlashRepository | None = None,
) -> ImportReport:
    """Checks every row first; writes nothing unless all are valid. Re-importing a file is an upsert that
    keeps each group's status and creation time, so it can be run again after a failure. A flash group gets its
    end stored (with the tenant's default terms) so that it ends too."""
    tenant = require_tenant(tenant_id, tenants)
    rows, errors = parse_group_csv(csv_text)
    if errors:
        raise InvalidGroupFile(errors)
    if not rows:
        raise InvalidRequest("The file has a header but no groups; nothing was imported.", code="invalid_group_file")
    return import_rows(tenant, rows, groups=groups, secrets=secrets, flash=flash or FlashRepository(),
                       progress=progress)


def import_rows(tenant: Tenant, rows: list[GroupRow], *, groups: GroupRepository, secrets: SecretStore,
                flash: FlashRepository | None, progress=None) -> ImportReport:
    """Stores checked rows: credentials to the secret store, then the groups; with `flash`, each flash group's
    end (its terms are kept, or the tenant's defaults until `qunyun flash create` sets them)."""
    tenant_id = tenant.tenant_id
    credentials = {}
    for row in rows:
        for name in ("webhook_url", "secret"):
            if getattr(row, name):
                credentials[group_secret_name(tenant_id, row.group_id, name)] = getattr(row, name)
    refs = secrets.put_many(credentials) if credentials else {}
    known = groups.created_at(tenant_id)
    now = datetime.now(UTC)
    saved = groups.save_many((_to_group(tenant_id, r, refs, known.get(r.group_id), now) for r in rows), progress,
                             default_timezone=tenant.timezone)
    if flash is not None:
        ends = [(r.group_id, r.ends_at) for r in rows if r.kind is Kind.flash]
        # New groups' items in batches; a group that existed may have ended, which only a conditional write
        # (one UpdateItem each) can respect.
        flash.add_new(tenant_id, [e for e in ends if e[0] not in known], now)
        for group_id, ends_at in (e for e in ends if e[0] in known):
            flash.upsert(tenant_id, group_id, ends_at, None, now)
    updated = sum(1 for r in rows if r.group_id in known)
    return ImportReport(created=saved - updated, updated=updated, secrets_stored=len(credentials))


def list_groups(tenant_id: str, *, tenants: TenantRepository, groups: GroupRepository) -> list[Group]:
    require_tenant(tenant_id, tenants)
    return list(groups.list(tenant_id))


def show_group(tenant_id: str, group_id: str, *, tenants: TenantRepository, groups: GroupRepository) -> Group:
    require_tenant(tenant_id, tenants)
    group = groups.get(tenant_id, group_id)
    if group is None:
        raise NotFound(f"Tenant {tenant_id!r} has no group {group_id!r}.", code="unknown_group")
    return group
