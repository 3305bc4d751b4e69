"""`qunyun console --tenant T`: a one-time login link to the web console (docs/console.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from qunyun_ops.cli import stores
from qunyun_ops.cli.output import JsonOption, LocalOption, TenantOption, err, out, print_json, reporting_errors


def _api_url(local: bool) -> str:
    """The HTTP API's base: the local stack's gateway, or the deployed stack's ApiUrl output."""
    if local:
        from qunyun_ops.env import read_state

        return f"http://127.0.0.1:{read_state()['port']}"
    import boto3
    from qunyun.settings import get_settings

    stack = get_settings().stack_name
    try:
        outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    except Exception as e:  # noqa: BLE001 - no credentials, no stack: say what to do instead
        err.print(f"[red]error:[/red] cannot read the stack {stack!r} ({e}); pass --url with the API's base URL.",
                  highlight=False)
        raise typer.Exit(1) from None
    found = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    if "ApiUrl" not in found:
        err.print(f"[red]error:[/red] the stack {stack!r} has no ApiUrl output; pass --url.", highlight=False)
        raise typer.Exit(1)
    return found["ApiUrl"]


def console(tenant: str = TenantOption,
            url: str = typer.Option(None, "--url", help="The HTTP API's base URL (default: the stack's ApiUrl)."),
            json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Prints a login link to the web console: valid 10 minutes, used once; it opens a 12-hour session of this
    tenant only."""
    from qunyun_ops.cli.output import connect

    connect(local)
    from qunyun.adapters.console_sessions import ConsoleKeys
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.services.console_auth import issue_link

    with reporting_errors():
        stores.tenant(tenant)
        token, expires = issue_link(tenant, datetime.now(UTC), tenants=TenantRepository(), keys=ConsoleKeys())
    login_url = f"{(url or _api_url(local)).rstrip('/')}/console/login?token={token}"
    if json_:
        print_json({"tenant_id": tenant, "login_url": login_url, "expires_at": expires.isoformat()})
        return
    out.print(f"Console login link for {tenant} (valid until {expires:%H:%M} UTC, works once):", highlight=False)
    out.print(login_url, highlight=False, markup=False, soft_wrap=True)
