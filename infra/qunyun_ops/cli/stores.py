"""What commands act on, opened after `connect` has chosen the local stack or AWS."""

from __future__ import annotations


def tenant(tenant_id: str):
    """The tenant, or a NotFound that names the command creating it."""
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.services.groups import require_tenant

    return require_tenant(tenant_id, TenantRepository())


def ledger():
    from qunyun.adapters.points_ledger import PointsLedger

    return PointsLedger()
