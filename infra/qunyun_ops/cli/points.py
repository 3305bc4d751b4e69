"""`qunyun points ...`: earning rules, a member's points, adjustments, leaderboards, reconcile."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

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
rules_app = typer.Typer(no_args_is_help=True, help="The tenant's earning rules.")
app.add_typer(rules_app, name="rules")


@rules_app.command("set")
def rules_set(
    file: Path = typer.Argument(..., metavar="FILE.yaml", help="Earning rules (docs/points.md)."),
    tenant: str = TenantOption,
    local: bool = LocalOption,
) -> None:
    """Replaces the tenant's earning rules with the file's, after checking every field."""
    from qunyun_ops.cli.yamlfile import load_model

    connect(local)
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.domain.rules import Rules

    with reporting_errors():
        rules = load_model(file, Rules)
        before = stores.tenant(tenant).rules
        TenantRepository().set_rules(tenant, rules)
    changed = _diff(before.model_dump(mode="json"), rules.model_dump(mode="json"))
    out.print(f"Rules of {tenant} updated: " + ("; ".join(changed) if changed else "no change."), highlight=False)


def _diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    changes = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            changes += _diff(x, y, f"{prefix}{key}.")
        elif x != y:
            changes.append(f"{prefix}{key} {x} → {y}")
    return changes


@rules_app.command("show")
def rules_show(tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Shows the tenant's earning rules (defaults until `rules set`)."""
    connect(local)
    with reporting_errors():
        rules = stores.tenant(tenant).rules.model_dump(mode="json")
    if json_:
        print_json(rules)
        return
    rows = [(f"{section}.{k}", v) for section, values in rules.items()
            for k, v in (values.items() if isinstance(values, dict) else [("", values)])]
    print_table(f"earning rules of {tenant}", ("rule", "value"), rows)


@app.command("adjust", context_settings={"ignore_unknown_options": True})
def adjust(
    member: str = typer.Argument(..., metavar="MEMBER"),
    points: str = typer.Argument(..., metavar="±N", help="Points to add (+50) or take away (-50)."),
    reason: str = typer.Option(..., "--reason", help="Why: recorded on the ledger entry."),
    tenant: str = TenantOption,
    json_: bool = JsonOption,
    local: bool = LocalOption,
) -> None:
    """A manual ledger entry by an operator (actor admin)."""
    try:
        amount = int(points)
    except ValueError:
        err.print(f"[red]error:[/red] {points!r} is not a whole number of points such as +50 or -50.",
                  highlight=False)
        raise typer.Exit(2) from None
    connect(local)
    from qunyun.services.adjust import adjust as do_adjust

    with reporting_errors():
        result = do_adjust(stores.tenant(tenant), member, amount, reason, ledger=stores.ledger(), now=datetime.now(UTC))
    if json_:
        print_json(result)
        return
    b = result["balance"]
    out.print(f"Adjusted {member} by {amount:+d} ({reason}); available {b['available']}, debt {b['debt']}.",
              highlight=False)


@app.command("show")
def show(member: str = typer.Argument(..., metavar="MEMBER"), tenant: str = TenantOption, json_: bool = JsonOption,
         local: bool = LocalOption) -> None:
    """A member's balance, streak and soon-expiring points."""
    connect(local)
    from qunyun.services.members import member_view

    with reporting_errors():
        view = member_view(tenant, member, ledger=stores.ledger(), now=datetime.now(UTC))
    if json_:
        print_json(view)
        return
    rows = [*view["balance"].items(), ("earned", view["earned"]), ("streak", f"{view['streak']['days']} days"),
            *((f"expires {e['expires_at']}", e["points"]) for e in view["expiring"])]
    print_table(f"{member} ({view['nickname'] or '-'}) of {tenant}", ("", "points"), rows)


@app.command("top")
def top(
    tenant: str = TenantOption,
    scope: str = typer.Option("tenant", "--scope", help="tenant or group:GROUP_ID"),
    period: str = typer.Option("month", "--period", help="day, week or month"),
    on: str = typer.Option(None, "--date", help="A day in the period (YYYY-MM-DD, default today)."),
    n: int = typer.Option(100, "--n", help="How many members (at most 500)."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV (rank,member_id,points)."),
    json_: bool = JsonOption,
    local: bool = LocalOption,
) -> None:
    """Members ranked on points earned in the period, e.g. the top 500 for a KOC campaign."""
    connect(local)
    from qunyun.services.boards import leaderboard

    with reporting_errors():
        t = stores.tenant(tenant)
        try:
            day = date.fromisoformat(on) if on else datetime.now(ZoneInfo(t.timezone)).date()
        except ValueError:
            from qunyun.domain.errors import InvalidRequest

            raise InvalidRequest(f"--date {on!r} is not YYYY-MM-DD.") from None
        board = leaderboard(tenant, scope, period, day, n, ledger=stores.ledger(), now=datetime.now(UTC))
    if json_:
        print_json(board)
    elif as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["rank", "member_id", "points"])
        writer.writerows([e["rank"], e["member_id"], e["points"]] for e in board["entries"])
    else:
        print_table(f"top {n} of {tenant}, {scope}, {period} of {day} (as of {board['as_of']})",
                    ("rank", "member", "points"), [(e["rank"], e["member_id"], e["points"]) for e in board["entries"]])


def _local_streams_caught_up(refused: str) -> None:
    from qunyun_ops.cli.local import streams_caught_up
    from qunyun_ops.env import use_local
    from qunyun_ops.local.template import Template
    from qunyun_ops.paths import TEMPLATE

    state = use_local()
    streams_caught_up(state, Template.read(Path(state.get("template") or TEMPLATE)), refused)


@app.command("reconcile")
def reconcile(tenant: str = typer.Option(None, "--tenant", help="One tenant (default: every tenant)."),
              local: bool = LocalOption) -> None:
    """Rebuilds every balance from its entries and lots; exits 1 on any mismatch."""
    connect(local)
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.services.adjust import reconcile_tenant

    with reporting_errors():
        tenant_ids = [stores.tenant(tenant).tenant_id] if tenant else TenantRepository().ids()
    if local:  # a member made a moment ago is listed once PageEarnings has paged it (on AWS: ~30 s later)
        _local_streams_caught_up("nothing was reconciled")
    ledger, members, bad = stores.ledger(), 0, 0
    for tid in tenant_ids:
        for member_id, problems in reconcile_tenant(tid, ledger=ledger):
            members += 1
            if members % 1000 == 0:
                err.print(f"  checked {members} members ...", highlight=False)
            for p in problems:
                bad += 1
                out.print(f"MISMATCH {tid}/{member_id}: {p}", highlight=False)
    out.print(f"Reconciled {members} members of {len(tenant_ids)} tenant(s): "
              + ("every balance matches its entries." if not bad else f"{bad} mismatch(es)."), highlight=False)
    raise typer.Exit(1 if bad else 0)


@app.command("migrate")
def migrate(tenant: str = TenantOption, local: bool = LocalOption) -> None:
    """Moves the tenant's check-in marks, day caps and reward limits into its members' items, pages the entries
    written before the points table's stream began, the lots that fall due and the members made before the member
    pages, and moves each purchase's pending points into its order (docs/ledger.md); running it again changes
    nothing, and a points table without a stream yet is refused before anything moves."""
    connect(local)
    from qunyun.adapters.due_pages_migrate import page_old_due
    from qunyun.adapters.earning_pages_migrate import NoStream, page_old_entries, stream_began
    from qunyun.adapters.member_pages_migrate import page_old_members
    from qunyun.adapters.order_lots_migrate import move_order_lots
    from qunyun.adapters.points_migrate import migrate_tenant

    with reporting_errors():
        tenant_id = stores.tenant(tenant).tenant_id
    try:  # the paging needs the stream's start: without a stream, refuse before the guards move
        before = stream_began()
    except NoStream as e:
        err.print(f"[red]error:[/red] {e}", highlight=False)
        raise typer.Exit(1) from None
    if local:  # the tenant's members are listed from pages PageEarnings writes (as for reconcile)
        _local_streams_caught_up("nothing was migrated")
    moved = migrate_tenant(tenant_id, datetime.now(UTC), ledger=stores.ledger())
    out.print(f"Migrated {moved.members} member(s) of {tenant_id}: {moved.guards} guard item(s) moved into their "
              f"member ({moved.dropped} of them too old to keep); {moved.skipped} already migrated.",
              highlight=False)
    paged = page_old_entries(tenant_id, before, ledger=stores.ledger())
    out.print(f"Paged {paged.entries} earning and redemption entries written before the points table's stream "
              f"began ({paged.before}) into {paged.pages} page(s) of their days.", highlight=False)
    lots, pages = page_old_due(tenant_id, ledger=stores.ledger())
    out.print(f"Paged {lots} lot(s) that fall due into {pages} page(s) of their hours.", highlight=False)
    members, pages = page_old_members(tenant_id)
    out.print(f"Paged {members} member(s) the members index lists into {pages} page(s) of the tenant's members.",
              highlight=False)
    moved_lots = move_order_lots(tenant_id, ledger=stores.ledger())
    out.print(f"Moved {moved_lots} purchase lot(s) into their orders.", highlight=False)
