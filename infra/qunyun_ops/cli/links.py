"""`qunyun links create|list|revoke|bulk`: join links that remember who brought whom (API.md §9)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from qunyun_ops.cli.output import (
    JsonOption,
    LocalOption,
    TenantOption,
    connect,
    err,
    out,
    print_json,
    print_table,
    progress_printer,
    reporting_errors,
)

app = typer.Typer(no_args_is_help=True)
COLUMNS = ("link_id", "group_id", "platform", "for", "name", "status", "groups", "joins", "still_members", "url")


def _deps():
    from qunyun.adapters.groups import GroupRepository
    from qunyun.adapters.link_platforms import LinkPlatforms
    from qunyun.adapters.links import LinkStore
    from qunyun.adapters.roster import RosterStore
    from qunyun.adapters.secrets import secret_store
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.services.links import LinkDeps
    from qunyun.settings import get_settings

    settings, tenants = get_settings(), TenantRepository()
    return LinkDeps(tenant_exists=lambda t: tenants.get(t) is not None, groups=GroupRepository(), links=LinkStore(),
                    platforms=LinkPlatforms(secret_store(settings), settings.wecom_base_url,
                                            settings.telegram_base_url),
                    roster=RosterStore().entries, clock=lambda: datetime.now(UTC))


def _public(link) -> dict:
    return {"link_id": link.link_id, "group_id": link.group_id, "platform": link.platform, "for": str(link.for_),
            "name": link.name, "url": link.url, "status": link.status,
            "expires_at": link.expires_at.isoformat() if link.expires_at else None, "limit": link.limit}


def _expires(text: str | None) -> datetime | None:
    if text is None:
        return None
    from qunyun.domain.errors import InvalidRequest

    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"--expires {text!r} is not ISO 8601 such as 2026-12-31T23:59:00+08:00.") from None


@app.command("create")
def create(group: str = typer.Option(..., "--group", help="The group the link leads into."),
           for_: str = typer.Option(..., "--for", help="store:ID, rep:ID, member:ID or campaign:NAME."),
           name: str = typer.Option(None, "--name", help="The link's name on the platform."),
           expires: str = typer.Option(None, "--expires", help="ISO 8601 with an offset (Telegram only)."),
           limit: int = typer.Option(None, "--limit", help="Members who may join through it (Telegram only)."),
           tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Creates a join link on the group's platform that remembers what it is for."""
    connect(local)
    from qunyun.services.links import create_link

    with reporting_errors():
        link = create_link(tenant, group, for_, name=name, expires_at=_expires(expires), limit=limit, deps=_deps())
    if json_:
        print_json(_public(link))
        return
    out.print(f"Created link {link.link_id} into {group} for {link.for_} on {link.platform}: {link.url}",
              highlight=False)


@app.command("list")
def list_(tenant: str = TenantOption, group: str = typer.Option(None, "--group", help="Only this group's links."),
          json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """The tenant's links, each with the members its joins brought and how many of them are still there."""
    connect(local)
    from qunyun.services.links import list_links

    with reporting_errors():
        rows = list_links(tenant, group, deps=_deps())
    if json_:
        print_json(rows)
        return
    print_table(f"Join links of {tenant}", COLUMNS, ([r[c] for c in COLUMNS] for r in rows))


@app.command("revoke")
def revoke(link_id: str = typer.Argument(..., metavar="ID"), tenant: str = TenantOption, json_: bool = JsonOption,
           local: bool = LocalOption) -> None:
    """Stops the link on the platform; joins through it are credited to nobody from now on."""
    connect(local)
    from qunyun.services.links import revoke_link

    with reporting_errors():
        link = revoke_link(tenant, link_id, deps=_deps())
    if json_:
        print_json(_public(link))
        return
    out.print(f"Revoked link {link.link_id} ({link.for_}, group {link.group_id}).", highlight=False)


@app.command("bulk")
def bulk(file: Path = typer.Argument(..., metavar="FILE.csv", help="Header group_id,for,name; UTF-8 or GB18030."),
         tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Creates a link for each row; checks every row first and creates none if any row is bad."""
    from qunyun_ops.cli.textfile import read_text

    with reporting_errors():
        text = read_text(file).text
    connect(local)
    from qunyun.services.links import bulk_links

    rows = max(text.count("\n") - 1, 1)
    with reporting_errors():
        made = bulk_links(tenant, text, deps=_deps(),
                          progress=progress_printer(rows, "links") if rows >= 200 else None)
    if json_:
        print_json([_public(link) for link in made])
        return
    err.print(f"Created {len(made)} links.", highlight=False)
    print_table(f"Links created for {tenant}", ("link_id", "group_id", "for", "url"),
                ((x.link_id, x.group_id, x.for_, x.url) for x in made))
