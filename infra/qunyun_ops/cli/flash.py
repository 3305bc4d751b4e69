"""`qunyun flash ...`: flash groups, their terms and their final report (docs/operators.md "Flash groups")."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from qunyun_ops.cli import stores
from qunyun_ops.cli.output import JsonOption, LocalOption, TenantOption, connect, out, print_json, reporting_errors

app = typer.Typer(no_args_is_help=True)

FIGURES = (("members", "members who earned points"), ("checkins", "check-ins"), ("points_earned", "points earned"),
           ("redemptions", "redemptions by its members"), ("purchases", "purchases"),
           ("purchase_amount_fen", "purchase amount (fen)"))


@app.command("create")
def create(file: Path = typer.Argument(..., metavar="FILE.yaml", help="Flash groups and terms (docs/operators.md)."),
           tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Checks a flash file and creates or updates its groups and their terms; a file with any error writes
    nothing. A group that has ended already keeps its status and terms."""
    from qunyun_ops.cli.yamlfile import read_yaml

    connect(local)
    from qunyun.adapters.flash import FlashRepository
    from qunyun.adapters.groups import GroupRepository
    from qunyun.adapters.secrets import secret_store
    from qunyun.domain.flash import parse_flash_file
    from qunyun.services.flash import create_flash_groups

    with reporting_errors():
        data, line_of = read_yaml(file)
        found, groups = stores.tenant(tenant), GroupRepository()
        known = {g.group_id: g for g in groups.list(found.tenant_id)}
        checked = parse_flash_file(data, found, known, str(file), line_of)
        result = create_flash_groups(found, checked, groups=groups, secrets=secret_store(),
                                     flash=FlashRepository(), now=datetime.now(UTC))
    if json_:
        print_json(result)
        return
    out.print(f"Flash groups of {tenant}: {result['created']} created, {result['updated']} updated, "
              f"{result['secrets_stored']} credential(s) stored.", highlight=False)
    for group_id in result["ended_kept"]:
        out.print(f"  {group_id} has ended already: its status and terms were kept.", highlight=False)


@app.command("report")
def report(group_id: str = typer.Argument(..., metavar="ID", help="The flash group's id."),
           tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """A flash group's state and, once it has ended, its final figures (docs/operators.md "Flash groups")."""
    connect(local)
    from qunyun.adapters.flash import FlashRepository
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.services.flash import flash_report

    with reporting_errors():
        shown = flash_report(tenant, group_id, tenants=TenantRepository(), flash=FlashRepository())
    if json_:
        print_json(shown)
        return
    out.print(f"Flash group {group_id} of {tenant}: {shown['state']}, ends at {shown['ends_at']}", highlight=False)
    if shown["owner_must_dismiss"]:
        out.print(f"  WeCom customer group: its owner {shown['owner_must_dismiss']} must dismiss it in WeCom "
                  "(qunyun cannot).", highlight=False)
    figures = shown["figures"]
    if not figures:
        out.print("  No figures yet: they are stored when the group ends.", highlight=False)
        return
    for key, label in FIGURES:
        out.print(f"  {label}: {figures.get(key, 0)}", highlight=False)
    pushes = figures.get("pushes")
    if pushes:
        out.print("  pushes: " + ", ".join(f"{n} {s}" for s, n in pushes.items()), highlight=False)
        out.print(f"  farewell: {figures.get('farewell')}", highlight=False)
    for m in shown["top"]:
        out.print(f"  top {m['rank']}. {m['member_id']} · {m['points']} points", highlight=False)
