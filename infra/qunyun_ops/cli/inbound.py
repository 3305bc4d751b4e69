"""`qunyun inbound unmapped`: chats that send callbacks but that no group's chat_id names yet."""

from __future__ import annotations

import typer

from qunyun_ops.cli.members import inert
from qunyun_ops.cli.output import JsonOption, LocalOption, TenantOption, connect, out, print_json

app = typer.Typer(no_args_is_help=True)


@app.command("unmapped")
def unmapped(tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Each such chat: platform, chat id, first and last seen, events; import a group with its chat_id to map
    it (its events from then on are recorded)."""
    connect(local)
    from datetime import UTC, datetime

    from qunyun.adapters.unmapped import UnmappedStore
    from rich.table import Table

    store, now = UnmappedStore(), datetime.now(UTC)
    rows = []
    for chat in sorted(store.chats(tenant, now), key=lambda c: c.last_seen, reverse=True):
        kinds: dict[str, int] = {}
        for event in store.events(tenant, chat.platform, chat.chat_id, now):
            kinds[event.kind] = kinds.get(event.kind, 0) + 1
        rows.append({"platform": chat.platform, "chat_id": chat.chat_id, "first_seen": chat.first_seen.isoformat(),
                     "last_seen": chat.last_seen.isoformat(), "events": chat.event_count, "kept": kinds})
    if json_:
        print_json(rows)
        return
    table = Table(title=f"Unmapped chats of {inert(tenant)}", title_justify="left")
    for column in ("platform", "chat_id", "first_seen", "last_seen", "events", "kept"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["platform"], inert(r["chat_id"]), r["first_seen"], r["last_seen"], str(r["events"]),
                      inert(", ".join(f"{k} {v}" for k, v in r["kept"].items())))
    out.print(table)
