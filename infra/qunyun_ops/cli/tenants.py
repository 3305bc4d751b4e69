"""`qunyun tenants ...`"""

from __future__ import annotations

import sys

import typer

from qunyun_ops.cli.output import JsonOption, LocalOption, connect, out, print_json, reporting_errors

app = typer.Typer(no_args_is_help=True)


@app.command("create")
def create(
    tenant_id: str = typer.Argument(..., metavar="ID", help="Tenant id: lowercase letters, digits, - and _."),
    name: str = typer.Option(..., "--name", help="The tenant's display name."),
    timezone: str = typer.Option(None, "--timezone", help="IANA timezone (default Asia/Shanghai)."),
    json_: bool = JsonOption,
    local: bool = LocalOption,
) -> None:
    """Creates a tenant and prints its webhook secret (shown this once)."""
    connect(local)
    from qunyun.adapters.secrets import secret_store
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.services.tenants import create_tenant

    with reporting_errors():
        tenant, secret = create_tenant(tenant_id, name, timezone, tenants=TenantRepository(), secrets=secret_store())
    if json_:
        print_json({**tenant.public(), "webhook_secret": secret})
        return
    out.print(f"Created tenant [bold]{tenant.tenant_id}[/bold] ({tenant.name}, {tenant.timezone}).", highlight=False)
    out.print(f"Webhook secret (sign requests with it; it is not shown again): {secret}", highlight=False)


@app.command("policy")
def policy(
    tenant_id: str = typer.Argument(..., metavar="ID"),
    settings: list[str] = typer.Option(None, "--set", metavar="KEY=VALUE",
                                       help="Change a setting (repeatable); lists are comma-separated."),
    json_: bool = JsonOption,
    local: bool = LocalOption,
) -> None:
    """Shows the tenant's policy (daily push cap, quota period, grace, quiet hours, reminder ladder, ...) and,
    with --set, changes it: every setting is checked first and nothing changes unless all are valid."""
    connect(local)
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.services.tenants import change_policy

    with reporting_errors():
        before, after = change_policy(tenant_id, settings or [], tenants=TenantRepository())
    if json_:
        print_json(after)
        return
    for key, value in after.items():
        mark = f"  (was {before[key]})" if before[key] != value else ""
        out.print(f"{key} = {value}{mark}", highlight=False)


@app.command("wecom")
def wecom(
    tenant_id: str = typer.Argument(..., metavar="ID"),
    corp_id: str = typer.Option(..., "--corp-id", help="The corp id (我的企业 → 企业ID)."),
    secret_stdin: bool = typer.Option(False, "--corp-secret-stdin",
                                      help="Read the 客户联系 secret from standard input (else asked, hidden)."),
    local: bool = LocalOption,
) -> None:
    """Stores the tenant's WeCom corp id and 客户联系 secret, which customer-group mass sends use. The secret
    is never a command-line argument (shell history), never printed and never logged."""
    secret = sys.stdin.readline() if secret_stdin else typer.prompt("客户联系 secret", hide_input=True)
    connect(local)
    from qunyun.adapters.secrets import secret_store
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.services.tenants import set_wecom_corp

    with reporting_errors():
        set_wecom_corp(tenant_id, corp_id, secret, tenants=TenantRepository(), secrets=secret_store())
    out.print(f"Stored the WeCom corp credentials of [bold]{tenant_id}[/bold] (corp id {corp_id.strip()}); "
              "its customer groups' mass sends use them from the next message.", highlight=False)
