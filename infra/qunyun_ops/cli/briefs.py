"""`qunyun briefs ...`: brief content, the tenant's own templates, and exactly what a group would receive."""

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
    reporting_errors,
)

app = typer.Typer(no_args_is_help=True)
template_app = typer.Typer(no_args_is_help=True, help="The tenant's own brief templates (rendered in a sandbox).")
app.add_typer(template_app, name="template")

EditionOption = typer.Option(..., "--edition", help="morning or evening.")
DialectOption = typer.Option(..., "--dialect", help="wecom_markdown, feishu_post, dingtalk_markdown, "
                                                     "slack_mrkdwn, telegram_html or text.")


def _content():
    from qunyun.adapters.content import ContentRepository

    return ContentRepository()


@app.command("add")
def add(file: Path = typer.Argument(..., metavar="FILE.yaml", help="Brief file (docs/briefs.md)."),
        tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Checks a brief file and stores it; the same date and edition again replaces the stored one."""
    from qunyun_ops.cli.yamlfile import read_yaml

    connect(local)
    from qunyun.domain.briefs import parse_brief
    from qunyun.services.briefs import add_brief

    with reporting_errors():
        data, line_of = read_yaml(file)
        brief = parse_brief(data, str(file), line_of)
        result = add_brief(stores.tenant(tenant), brief, content=_content(), now=datetime.now(UTC))
    if json_:
        print_json(result)
        return
    what = "replaced the one stored before" if result["status"] == "replaced" else "added"
    out.print(f"Brief {result['date']} {result['edition']} of {tenant} {what}: {result['sections']} section(s), "
              f"{result['targeted']} aimed at some groups only.", highlight=False)


@app.command("preview")
def preview(group: str = typer.Option(..., "--group", help="The group id."), edition: str = EditionOption,
            on: str = typer.Option(..., "--date", help="The brief's date, YYYY-MM-DD."),
            tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Prints exactly the text the group's channel would receive for that brief."""
    connect(local)
    from qunyun.adapters.groups import GroupRepository
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.domain.briefs import parse_day
    from qunyun.domain.errors import InvalidRequest
    from qunyun.services.briefs import preview as do_preview

    with reporting_errors():
        try:
            day = parse_day(on)
        except ValueError as e:
            raise InvalidRequest(f"--date {e}.", field="date") from None
        groups = GroupRepository()
        rendered = do_preview(tenant, group, edition, day, tenants=TenantRepository(), groups=groups,
                              content=_content(), ledger=stores.ledger(), now=datetime.now(UTC))
        found = groups.get(tenant, group)
    if json_:
        print_json(rendered.view())
        return
    if getattr(found, edition) is None:
        err.print(f"note: group {group} takes no {edition} brief (its CSV says -); it would receive this "
                  "if it did.", highlight=False)
    # The message itself on stdout, byte for byte; what it is about on stderr.
    size = len(rendered.text.encode())
    err.print(f"{rendered.channel} ({rendered.dialect}), title {rendered.title!r}, {size} bytes:", highlight=False)
    typer.echo(rendered.text)


@template_app.command("set")
def template_set(file: Path = typer.Argument(..., metavar="FILE.j2", help="A Jinja2 template (docs/briefs.md)."),
                 edition: str = EditionOption, dialect: str = DialectOption, tenant: str = TenantOption,
                 local: bool = LocalOption) -> None:
    """Uses this template for the tenant's briefs of one edition and dialect, after trying it on a sample."""
    from qunyun.domain.errors import InvalidRequest

    from qunyun_ops.cli.textfile import read_text

    with reporting_errors():
        source = read_text(file).text
    connect(local)
    from qunyun.services.briefs import set_template

    with reporting_errors():
        try:
            set_template(stores.tenant(tenant), edition, dialect, source, content=_content(), now=datetime.now(UTC))
        except InvalidRequest as e:
            e.message = f"{file}: {e.message}"
            raise
    out.print(f"Template for {edition} briefs in {dialect} of {tenant} set from {file}.", highlight=False)


@template_app.command("remove")
def template_remove(edition: str = EditionOption, dialect: str = DialectOption, tenant: str = TenantOption,
                    local: bool = LocalOption) -> None:
    """Goes back to the shipped template for one edition and dialect."""
    connect(local)
    with reporting_errors():
        removed = _content().remove_template(stores.tenant(tenant).tenant_id, edition, dialect)
    out.print(f"Template for {edition} briefs in {dialect} of {tenant} "
              + ("removed; the shipped one is used again." if removed else "was not set; nothing changed."),
              highlight=False)
