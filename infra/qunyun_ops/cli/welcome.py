"""`qunyun welcome set|show`: the tenant's welcome file (API.md §6), checked whole before anything changes, and
its WeCom group welcome template."""

from __future__ import annotations

from pathlib import Path

import typer

from qunyun_ops.cli import stores
from qunyun_ops.cli.output import JsonOption, LocalOption, TenantOption, connect, out, print_json, reporting_errors

app = typer.Typer(no_args_is_help=True)


def _first_lines(path: Path) -> dict[tuple, int]:
    """Where each template's own first line is in the file: the line after `text: |`, or the key's own line."""
    import yaml

    from qunyun_ops.cli.textfile import read_text

    found: dict[tuple, int] = {}

    def value(node, key: str):
        if isinstance(node, yaml.MappingNode):
            return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
        return None

    def first(node) -> int | None:
        if not isinstance(node, yaml.ScalarNode):
            return None
        return node.start_mark.line + (2 if node.style in ("|", ">") else 1)

    root = yaml.compose(read_text(path, say=False).text, Loader=yaml.SafeLoader)
    found[("text",)] = first(value(root, "text"))
    overrides = value(root, "overrides")
    for i, item in enumerate(overrides.value if isinstance(overrides, yaml.SequenceNode) else []):
        found[("overrides", i, "text")] = first(value(item, "text"))
    return {k: v for k, v in found.items() if v is not None}


def _refuse(path: Path, problems) -> None:
    from qunyun.domain.errors import InvalidRequest

    lines, said = _first_lines(path), []
    for p in problems:
        start = lines.get(p.where)
        line = start + p.line - 1 if start and p.line else start
        said.append(f"{f'line {line}, ' if line else ''}{'.'.join(str(w) for w in p.where)}: {p.message}")
    raise InvalidRequest(f"{path}: " + "; ".join(said) + ". Nothing was changed.")


@app.command("set")
def set_(file: Path = typer.Argument(..., metavar="FILE.yaml", help="The welcome (API.md §6, docs/inbound.md)."),
         tenant: str = TenantOption, local: bool = LocalOption,
         new_wecom_template: bool = typer.Option(False, "--new-wecom-template", help=(
             "Add a new WeCom group welcome template rather than edit the one added before (deleted in WeCom)."))
         ) -> None:
    """Replaces the tenant's welcome with the file's, and adds or edits its WeCom group welcome template; any
    error names its line and changes nothing."""
    from qunyun_ops.cli.yamlfile import load_model

    connect(local)
    from datetime import UTC, datetime

    from qunyun.adapters.guard_rules import GuardRulesStore
    from qunyun.adapters.secrets import secret_store
    from qunyun.adapters.wecom_welcome import WecomWelcomes
    from qunyun.adapters.welcomes import WelcomeStore
    from qunyun.domain.welcomes import WelcomeFile
    from qunyun.services.guard_rules import rules_in_force
    from qunyun.services.welcome_settings import check_welcome, set_welcome
    from qunyun.settings import get_settings

    with reporting_errors():
        welcome = load_model(file, WelcomeFile)
        found = stores.tenant(tenant)
        rules = rules_in_force(tenant, store=GuardRulesStore())
        problems = check_welcome(welcome, found, rules)
        if problems:
            _refuse(file, problems)
        settings = get_settings()
        version, stored = set_welcome(found, welcome, datetime.now(UTC), store=WelcomeStore(), rules=rules,
                                      wecom=WecomWelcomes(secret_store(settings), settings.wecom_base_url),
                                      new_template=new_wecom_template)
    wecom = (f"; WeCom group welcome template {stored.wecom_template_id}" if stored.wecom_template_id
             else "; no WeCom credentials, so no WeCom group welcome template")
    out.print(f"Welcome of {tenant} set (version {version}): window {welcome.window_seconds} s, "
              f"{len(welcome.overrides)} overrides{wecom}.", highlight=False, markup=False)


@app.command("show")
def show(tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """The welcome in force (the default of the tenant's locale where none was set) and its WeCom template."""
    connect(local)
    import yaml
    from qunyun.adapters.welcomes import WelcomeStore
    from qunyun.services.welcome_settings import welcome_in_force

    with reporting_errors():
        shown = welcome_in_force(stores.tenant(tenant), store=WelcomeStore())
    if json_:
        print_json(shown)
        return
    out.print(yaml.safe_dump(shown, allow_unicode=True, sort_keys=False), highlight=False, markup=False)
