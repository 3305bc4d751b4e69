"""`qunyun guard`: the group rules (API.md §7), checked whole before anything changes; the guard's log, its
operator tasks and their closing (done, pardon)."""

from __future__ import annotations

from pathlib import Path

import typer

from qunyun_ops.cli import stores
from qunyun_ops.cli.output import JsonOption, LocalOption, TenantOption, connect, out, print_json, reporting_errors

app = typer.Typer(no_args_is_help=True)


@app.command("set")
def set_(file: Path = typer.Argument(..., metavar="FILE.yaml", help="Group rules (API.md §7, docs/guard.md)."),
         tenant: str = TenantOption, local: bool = LocalOption) -> None:
    """Replaces the tenant's group rules with the file's; any error names its line and changes nothing."""
    from qunyun_ops.cli.yamlfile import load_model

    connect(local)
    from datetime import UTC, datetime

    from qunyun.adapters.guard_rules import GuardRulesStore
    from qunyun.domain.guard_rules import GroupRules
    from qunyun.services.guard_rules import set_rules

    with reporting_errors():
        rules = load_model(file, GroupRules)
        stores.tenant(tenant)
        version = set_rules(tenant, rules, datetime.now(UTC), store=GuardRulesStore())
    out.print(f"Group rules of {tenant} set (version {version}): {len(rules.guard.words)} words, "
              f"{len(rules.guard.patterns)} patterns, {len(rules.guard.allow_domains)} allowed domains, "
              f"{len(rules.overrides)} overrides.", highlight=False)


@app.command("show")
def show(tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """The rules in force (the defaults where none were set)."""
    connect(local)
    import yaml
    from qunyun.adapters.guard_rules import GuardRulesStore
    from qunyun.services.guard_rules import rules_in_force

    with reporting_errors():
        stores.tenant(tenant)
        rules = rules_in_force(tenant, store=GuardRulesStore()).model_dump(mode="json", by_alias=True)
    if json_:
        print_json(rules)
        return
    out.print(yaml.safe_dump(rules, allow_unicode=True, sort_keys=False), highlight=False, markup=False)


COLUMNS = ("id", "kind", "status", "group_id", "member_id", "rule", "at", "reason", "evidence")


def _table(title: str, rows: list[dict]) -> None:
    from rich.table import Table

    from qunyun_ops.cli.members import inert

    table = Table(title=title, title_justify="left")
    for column in COLUMNS:
        table.add_column(column)
    for row in rows:  # evidence and reasons are what members and platforms wrote: shown inert
        table.add_row(*(inert(row[c]) for c in COLUMNS))
    out.print(table)


@app.command("tasks")
def tasks(tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Removals an operator must make (no platform API, refused, or interrupted), with the evidence."""
    connect(local)
    from qunyun.adapters.guard_log import GuardLog
    from qunyun.services.guard_ops import tasks as open_tasks

    rows = open_tasks(tenant, log=GuardLog())
    print_json(rows) if json_ else _table(f"Guard tasks of {tenant}", rows)


@app.command("log")
def log(tenant: str = TenantOption, member: str = typer.Option(None, "--member", help="A member id."),
        json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Offences, deletions, warnings, removals and pardons, oldest first, each with its evidence."""
    connect(local)
    from qunyun.adapters.guard_log import GuardLog
    from qunyun.services.guard_ops import history

    rows = history(tenant, member, log=GuardLog())
    print_json(rows) if json_ else _table(f"Guard log of {tenant}", rows)


@app.command("done")
def done(task_id: str = typer.Argument(..., metavar="ID"), tenant: str = TenantOption,
         local: bool = LocalOption) -> None:
    """The removal was made by hand: the task is closed."""
    connect(local)
    from datetime import UTC, datetime

    from qunyun.adapters.guard_log import GuardLog
    from qunyun.services.guard_ops import done as close

    with reporting_errors():
        row = close(tenant, task_id, datetime.now(UTC), log=GuardLog())
    out.print(f"{task_id}: {row['status']}.", highlight=False, markup=False)


@app.command("pardon")
def pardon(task_id: str = typer.Argument(..., metavar="ID"), tenant: str = TenantOption,
           local: bool = LocalOption) -> None:
    """Clears the member's offences in the group; a removal made is reversed where the platform allows it."""
    connect(local)
    from datetime import UTC, datetime

    from qunyun.adapters.guard_groups import GuardGroups, GuardPlatforms
    from qunyun.adapters.guard_log import GuardLog
    from qunyun.adapters.secrets import secret_store
    from qunyun.services.guard_deps import moderation
    from qunyun.services.guard_ops import pardon as forgive
    from qunyun.settings import get_settings

    settings = get_settings()
    with reporting_errors():
        row = forgive(tenant, task_id, datetime.now(UTC), log=GuardLog(),
                      platforms=GuardPlatforms(moderation(settings)),
                      group=GuardGroups(secret_store(settings)))
    out.print(f"{task_id}: {row['status']} ({row['reason']}).", highlight=False, markup=False)


sweep_app = typer.Typer(no_args_is_help=True)
SWEEP_COLUMNS = ("group_id", "member_id", "name", "last_message_at", "messages_7d", "messages_30d", "why", "outcome",
                 "removal")


@sweep_app.command("list")
def sweep_list(tenant: str = TenantOption, group: str = typer.Option(None, "--group", help="One group's list."),
               json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """The latest sweep: who, last message, counts, removed or reported; a group not swept says why."""
    connect(local)
    from qunyun.adapters.guard_log import GuardLog
    from qunyun.adapters.sweep_runs import SweepRuns
    from qunyun.services.sweep import sweep_list as runs_of
    from rich.table import Table

    from qunyun_ops.cli.members import inert

    runs = runs_of(tenant, group, runs=SweepRuns(), log=GuardLog())
    if json_:
        print_json(runs)
        return
    for run in runs:
        if run["skipped"]:
            out.print(f"{inert(run['group_id'])} ({run['week']}): not swept: {inert(run['skipped'])}.")
            continue
        table = Table(title=f"Sweep of {inert(run['group_id'])}, {run['week']} ({run['mode']})", title_justify="left")
        for column in SWEEP_COLUMNS:
            table.add_column(column)
        for row in run["members"]:
            table.add_row(*(inert(row.get(c) if c != "group_id" else run["group_id"]) for c in SWEEP_COLUMNS))
        out.print(table)
