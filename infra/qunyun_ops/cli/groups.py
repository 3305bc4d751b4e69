"""`qunyun groups ...`: the group registry."""

from __future__ import annotations

from pathlib import Path

import typer

from qunyun_ops.cli.output import (
    JsonOption,
    LocalOption,
    TenantOption,
    connect,
    out,
    print_json,
    print_table,
    progress_printer,
    reporting_errors,
)

app = typer.Typer(no_args_is_help=True)

LIST_COLUMNS = ("group_id", "name", "kind", "channel", "timezone", "morning", "evening", "tags", "status")


def _repos():
    from qunyun.adapters.groups import GroupRepository
    from qunyun.adapters.tenants import TenantRepository

    return TenantRepository(), GroupRepository()


def _public(group) -> dict:
    """A group as operators see it: credentials only as where they are kept, never their values."""
    return group.model_dump(mode="json")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., metavar="FILE.csv", help="CSV with a header row (API.md §4), UTF-8 or GB18030."),
    tenant: str = TenantOption,
    json_: bool = JsonOption,
    local: bool = LocalOption,
) -> None:
    """Imports groups from a CSV; checks every row first and imports nothing if any row is bad."""
    from qunyun_ops.cli.textfile import read_text

    with reporting_errors():
        text = read_text(file).text
    connect(local)
    from qunyun.adapters.secrets import secret_store
    from qunyun.services.groups import import_groups

    tenants, groups = _repos()
    rows = max(text.count("\n") - 1, 1)
    with reporting_errors():
        report = import_groups(tenant, text, tenants=tenants, groups=groups, secrets=secret_store(),
                               progress=progress_printer(rows, "writing") if rows >= 2000 else None)
    if json_:
        print_json(report.__dict__)
        return
    out.print(
        f"Imported {report.created + report.updated} groups into {tenant}: {report.created} new, "
        f"{report.updated} updated; {report.secrets_stored} channel credentials stored as secrets.",
        highlight=False,
    )


@app.command("list")
def list_(tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Lists the tenant's groups."""
    connect(local)
    from qunyun.services.groups import list_groups

    tenants, groups = _repos()
    with reporting_errors():
        found = list_groups(tenant, tenants=tenants, groups=groups)
    if json_:
        print_json([_public(g) for g in found])
        return
    rows = [
        (g.group_id, g.name, g.kind.value, g.channel.value, g.timezone or "(tenant)", g.morning or "-",
         g.evening or "-", ";".join(g.tags), g.status.value)
        for g in found
    ]
    print_table(f"{len(found)} groups of {tenant}", LIST_COLUMNS, rows)


@app.command("show")
def show(
    group_id: str = typer.Argument(..., metavar="ID"),
    tenant: str = TenantOption,
    json_: bool = JsonOption,
    local: bool = LocalOption,
) -> None:
    """Shows one group, with where its channel credentials are kept."""
    connect(local)
    from qunyun.services.groups import show_group

    tenants, groups = _repos()
    with reporting_errors():
        group = show_group(tenant, group_id, tenants=tenants, groups=groups)
    data = _public(group)
    if json_:
        print_json(data)
        return
    print_table(f"group {group_id} of {tenant}", ("field", "value"),
                [(k, ";".join(v) if isinstance(v, list) else v) for k, v in data.items() if k != "tenant_id"])
