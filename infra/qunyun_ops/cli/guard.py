"""`qunyun guard set|show`: the group rules (API.md §7), checked whole before anything changes."""

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
