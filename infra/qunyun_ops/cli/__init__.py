"""The `qunyun` command: operators' CLI over the same services the Lambda functions use."""

from __future__ import annotations

import typer

from qunyun_ops.cli import (
    briefs,
    connect,
    console,
    deadletters,
    deliveries,
    events,
    flash,
    groups,
    guard,
    inbound,
    links,
    local,
    members,
    metrics,
    points,
    rewards,
    tenants,
    welcome,
)

app = typer.Typer(no_args_is_help=True, add_completion=False, help="qunyun: private-domain community operations.")
app.add_typer(tenants.app, name="tenants", help="Tenants: operator organisations and their webhook secrets.")
app.add_typer(groups.app, name="groups", help="The group registry (CSV import, list, show).")
app.add_typer(points.app, name="points", help="Points: rules, balances, adjustments, leaderboards, reconcile.")
app.add_typer(rewards.app, name="rewards", help="The points mall's rewards: add, list, restock.")
app.add_typer(rewards.orders_app, name="orders", help="Mall orders waiting for or given up on by fulfilment.")
app.add_typer(briefs.app, name="briefs", help="Morning and evening briefs: content, templates, previews.")
app.add_typer(events.app, name="events", help="Events and their reminder ladders: add, move, cancel, plan.")
app.add_typer(flash.app, name="flash", help="Flash groups: their terms, their end and farewell, their report.")
app.add_typer(deliveries.app, name="deliveries", help="Every push to a group: sent, skipped and why, failed.")
app.add_typer(deadletters.app, name="deadletters", help="Messages parked after failing too often: list, redrive.")
app.add_typer(connect.app, name="connect", help="Platform apps whose group callbacks qunyun hears.")
app.add_typer(inbound.app, name="inbound", help="Platform callbacks: chats no group names yet.")
app.add_typer(members.app, name="members", help="Group rosters: who joined, who left, who speaks.")
app.add_typer(guard.app, name="guard", help="Group rules: the guard's offences, warnings, removals and tasks.")
app.add_typer(guard.sweep_app, name="sweep", help="The inactivity sweep: the latest list of the silent.")
app.command("metrics")(metrics.metrics)
app.add_typer(links.app, name="links", help="Join links that remember who brought whom: create, list, revoke, bulk.")
app.add_typer(local.app, name="local", help="The local stack: DynamoDB Local, webhooks and schedules.")
app.add_typer(welcome.app, name="welcome", help="The welcome to newcomers, and the WeCom group welcome template.")
app.command("console", help="A one-time login link to the web console.")(console.console)


def main() -> None:
    app()
