"""`qunyun events ...`: events and their reminder ladders (API.md §4 and §5)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from qunyun_ops.cli import stores
from qunyun_ops.cli.output import (
    JsonOption,
    LocalOption,
    TenantOption,
    connect,
    out,
    print_json,
    print_table,
    reporting_errors,
)

app = typer.Typer(no_args_is_help=True)


def _repos():
    from qunyun.adapters.deliveries import DeliveryRepository
    from qunyun.adapters.events import EventRepository
    from qunyun.adapters.groups import GroupRepository

    return {"events": EventRepository(), "groups": GroupRepository(), "deliveries": DeliveryRepository()}


@app.command("add")
def add(file: Path = typer.Argument(..., metavar="FILE.yaml", help="Events file (API.md §4)."),
        tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Checks every event of the file, then stores and plans them; an id stored before is planned again."""
    from qunyun_ops.cli.yamlfile import read_yaml

    connect(local)
    from qunyun.domain.event_reminders import parse_events
    from qunyun.services.events import add_events

    with reporting_errors():
        data, line_of = read_yaml(file)
        parsed = parse_events(data, str(file), line_of)
        result = add_events(stores.tenant(tenant), parsed, **_repos(), now=datetime.now(UTC))
    if json_:
        print_json(result)
        return
    for r in result:
        out.print(f"Event {r['id']} of {tenant} {r['status']}: {r['groups']} group(s), next reminder "
                  f"{r['next_due'] or 'none'}.", highlight=False)


@app.command("move")
def move(event_id: str = typer.Argument(..., metavar="ID"),
         to: str = typer.Option(..., "--to", help="The new start, ISO 8601 with its offset."),
         tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Moves the event and plans its reminders again from now: rungs already past are skipped, not sent late."""
    connect(local)
    from qunyun.domain.errors import InvalidRequest
    from qunyun.domain.event_reminders import parse_instant
    from qunyun.services.events import move_event

    with reporting_errors():
        try:
            starts_at = parse_instant(to, "--to")
        except ValueError as e:
            raise InvalidRequest(f"{e}.", field="to") from None
        result = move_event(stores.tenant(tenant), event_id, starts_at, **_repos(), now=datetime.now(UTC))
    if json_:
        print_json(result)
        return
    out.print(f"Event {event_id} of {tenant} moved to {result['starts_at']}: {result['groups']} group(s), next "
              f"reminder {result['next_due'] or 'none'}.", highlight=False)


@app.command("cancel")
def cancel(event_id: str = typer.Argument(..., metavar="ID"),
           notify: bool = typer.Option(False, "--notify", help="Send each targeted group one cancellation notice."),
           tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Cancels the event: no more reminders; with --notify, the next SendReminders run sends the notices."""
    connect(local)
    from qunyun.adapters.events import EventRepository
    from qunyun.services.events import cancel_event

    with reporting_errors():
        result = cancel_event(stores.tenant(tenant), event_id, notify, events=EventRepository(),
                              now=datetime.now(UTC))
    if json_:
        print_json(result)
        return
    if result["status"] == "already_cancelled":
        out.print(f"Event {event_id} of {tenant} was cancelled already; nothing changed.", highlight=False)
        return
    out.print(f"Event {event_id} of {tenant} cancelled; no more reminders"
              + (f", and a cancellation notice to each of {result['groups']} group(s) within 5 minutes."
                 if notify else "."), highlight=False)


COLUMNS = ("group", "timezone", "rung", "local time", "plan", "delivery", "reason")


@app.command("plan")
def plan(event_id: str = typer.Argument(..., metavar="ID"), tenant: str = TenantOption, json_: bool = JsonOption,
         local: bool = LocalOption) -> None:
    """The event's reminder ladder per group: each rung's local time, due or skipped and why, and its delivery."""
    connect(local)
    from qunyun.adapters.deliveries import DeliveryRepository
    from qunyun.adapters.events import EventRepository
    from qunyun.services.events import event_plan

    with reporting_errors():
        result = event_plan(stores.tenant(tenant), event_id, events=EventRepository(),
                            deliveries=DeliveryRepository())
    if json_:
        print_json(result)
        return
    rows = []
    for g in result["groups"]:
        for r in g["rungs"]:
            state = "due" if r["due"] else f"skipped: {r['skip']}"
            state += " (after quiet hours)" if r["moved_out_of_quiet_hours"] and r["due"] else ""
            rows.append((g["group_id"], g["timezone"], r["rung"], r["local_time"], state, r["delivery"] or "",
                         r["delivery_reason"] or ""))
    print_table(f"Event {result['id']} ({result['title']}), starts {result['starts_at']}, {result['status']}, "
                f"planned at {result['planned_at']}", COLUMNS, rows)
