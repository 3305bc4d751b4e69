"""`qunyun members list`: a group's roster and its members' activity (API.md §6).

Names are what members chose: they are shown inert, with markup escaped and control characters made visible."""

from __future__ import annotations

import typer
from rich.markup import escape

from qunyun_ops.cli.output import JsonOption, LocalOption, TenantOption, connect, err, out, print_json

app = typer.Typer(no_args_is_help=True)


def inert(value: object) -> str:
    """Text a member wrote, for a terminal: control characters as escapes, rich markup escaped."""
    if value is None:
        return ""
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(value))
    return escape(text)


@app.command("list")
def list_(group: str = typer.Option(..., "--group", help="The group id."), tenant: str = TenantOption,
          json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Members of a group: joined and left (when and how), messages in 7 and 30 days, last message."""
    connect(local)
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from qunyun.adapters.activity import ActivityStore
    from qunyun.adapters.groups import GroupRepository
    from qunyun.adapters.roster import RosterStore
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.services.roster_view import COLUMNS, members
    from rich.table import Table

    found, owner = GroupRepository().get(tenant, group), TenantRepository().get(tenant)
    if found is None or owner is None:
        err.print(f"[red]error:[/red] There is no group {escape(group)!r} of tenant {escape(tenant)!r}.")
        raise typer.Exit(2)
    today = datetime.now(UTC).astimezone(ZoneInfo(found.timezone or owner.timezone)).date()
    rows = members(tenant, group, today, roster=RosterStore(), activity=ActivityStore())
    if json_:
        print_json(rows)
        return
    table = Table(title=f"Members of {escape(group)}", title_justify="left")
    for column in COLUMNS:
        table.add_column(column)
    for row in rows:
        table.add_row(*(inert(row[c]) for c in COLUMNS))
    out.print(table)
