"""`qunyun deliveries ...`: every push to a group, what became of it and why."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from qunyun_ops.cli.output import (
    JsonOption,
    LocalOption,
    TenantOption,
    connect,
    print_json,
    print_table,
    reporting_errors,
)

app = typer.Typer(no_args_is_help=True)

COLUMNS = ("date", "group", "kind", "edition", "push", "status", "reason", "channel", "attempts", "updated", "error")


@app.command("list")
def list_(tenant: str = TenantOption,
          on: str = typer.Option(None, "--date", help="The groups' local date, YYYY-MM-DD (default: today in the "
                                                      "tenant's timezone; with --group alone, its latest 100)."),
          group: str = typer.Option(None, "--group", help="Only this group's pushes."),
          json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Lists pushes: group, kind (brief, reminder, farewell), edition, status and the reason of a skip."""
    connect(local)
    from qunyun.adapters.deliveries import DeliveryRepository
    from qunyun.adapters.groups import GroupRepository
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.domain.briefs import parse_day
    from qunyun.domain.errors import InvalidRequest
    from qunyun.services.deliveries import list_deliveries

    with reporting_errors():
        try:
            day = parse_day(on) if on is not None else None
        except ValueError as e:
            raise InvalidRequest(f"--date {e}.", field="date") from None
        listed, found = list_deliveries(tenant, day, group, tenants=TenantRepository(), groups=GroupRepository(),
                                        deliveries=DeliveryRepository(), now=datetime.now(UTC))
    if json_:
        print_json([d.model_dump(mode="json") for d in found])
        return
    rows = [(d.date, d.group_id, d.kind, d.edition or "", d.push_id, d.status.value, d.reason, d.channel, d.attempts,
             d.updated_at.strftime("%Y-%m-%d %H:%M:%SZ"), d.error) for d in found]
    scope = f"group {group} of {tenant}" if group else tenant
    print_table(f"{len(found)} deliveries of {scope}" + (f" on {listed}" if listed else " (latest first)"),
                COLUMNS, rows)
