"""`qunyun rewards ...` and `qunyun orders ...`: the points mall's rewards and its orders."""

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
    err,
    out,
    print_json,
    print_table,
    reporting_errors,
)

app = typer.Typer(no_args_is_help=True)
orders_app = typer.Typer(no_args_is_help=True)


@app.command("add")
def add(file: Path = typer.Argument(..., metavar="FILE.yaml", help="Rewards file (API.md §3)."),
        tenant: str = TenantOption, local: bool = LocalOption) -> None:
    """Adds rewards with their stock, or updates the terms of existing ones."""
    from qunyun_ops.cli.yamlfile import load_model

    connect(local)
    from qunyun.domain.mall import RewardsFile
    from qunyun.services.mall import add_rewards

    with reporting_errors():
        rewards = load_model(file, RewardsFile).rewards
        t, ledger = stores.tenant(tenant), stores.ledger()
        lines = add_rewards(t, rewards, ledger=ledger, now=datetime.now(UTC))
    for line in lines:
        out.print(line, highlight=False)


@app.command("list")
def list_(tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """The tenant's rewards with stock left and its shard count."""
    connect(local)
    from qunyun.services.mall import list_rewards

    with reporting_errors():
        t, ledger = stores.tenant(tenant), stores.ledger()
        rewards = list_rewards(t, ledger=ledger, now=datetime.now(UTC))
    if json_:
        print_json(rewards)
        return
    print_table(f"{len(rewards)} rewards of {tenant}", ("reward", "name", "cost", "stock", "shards", "limit", "active"),
                [(r["reward_id"], r["name"], r["cost"], r["stock"], r["shards"],
                  f"{r['limit_per_member']}/{r['limit_period']}" if r["limit_per_member"] else "-",
                  "yes" if r["active"] else "no") for r in rewards])


@app.command("restock", context_settings={"ignore_unknown_options": True})
def restock(reward: str = typer.Argument(..., metavar="ID"),
            units: str = typer.Argument(..., metavar="±N", help="Units to add (+50) or remove (-5)."),
            tenant: str = TenantOption, local: bool = LocalOption) -> None:
    """Adds or removes stock, spread over the reward's shards."""
    try:
        n = int(units)
    except ValueError:
        err.print(f"[red]error:[/red] {units!r} is not a whole number of units such as +50 or -5.", highlight=False)
        raise typer.Exit(2) from None
    connect(local)
    from qunyun.services.mall import restock as do_restock

    with reporting_errors():
        t, ledger = stores.tenant(tenant), stores.ledger()
        left = do_restock(t, reward, n, ledger=ledger)
    out.print(f"Restocked {reward} by {n:+d}; {left} units in stock.", highlight=False)


@orders_app.command("list")
def orders_list(tenant: str = TenantOption,
                status: str = typer.Option("due", "--status", help="Fulfilment state: due or parked."),
                json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Orders waiting for their fulfilment webhook (due) or given up on after the last try (parked)."""
    connect(local)
    from qunyun.services.fulfil import orders_by_state

    with reporting_errors():
        t, ledger = stores.tenant(tenant), stores.ledger()
        orders = orders_by_state(t.tenant_id, status, ledger=ledger)
    if json_:
        print_json(orders)
        return
    print_table(f"{len(orders)} {status} orders of {tenant}", ("order", "reward", "member", "status", "attempts",
                                                              "error"),
                [(o["order_id"], o["reward_id"], o["member_id"], o["status"], o["fulfilment"]["attempts"],
                  o["fulfilment"]["error"]) for o in orders])
