"""How commands talk to people and scripts: a table or --json, and errors that say what to fix."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

# Piped output (scripts, CI logs) gets wide tables instead of rich's 80-column default.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)

LocalOption = typer.Option(False, "--local", help="Use the stack `qunyun local up` runs in this checkout.")
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts instead of a table.")
TenantOption = typer.Option(..., "--tenant", help="The tenant id.")


def connect(local: bool) -> None:
    from qunyun_ops.env import StackNotRunning, use_aws, use_local

    if not local:
        use_aws()
        return
    try:
        use_local()
    except StackNotRunning as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(1) from None


@contextmanager
def reporting_errors():
    """Turns domain errors into a sentence on stderr and exit status 2 (bad input) or 1."""
    from qunyun.domain.errors import QunyunError

    try:
        yield
    except QunyunError as e:
        err.print(f"[red]error:[/red] {e.message}", highlight=False)
        for row in e.details.get("errors", []):
            where = [f"line {row['line']}"] if row.get("line") else []
            where += [row["field"]] if row.get("field") else []
            err.print(f"  {', '.join(where)}: {row['message']}", highlight=False)
        raise typer.Exit(2 if e.status < 500 else 1) from None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*("" if v is None else str(v) for v in r))
    out.print(table)


def progress_printer(total: int, what: str) -> Callable[[int], None]:
    def show(done: int) -> None:
        err.print(f"  {what}: {done}/{total}", highlight=False)

    return show
