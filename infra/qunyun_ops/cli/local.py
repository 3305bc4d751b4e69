"""`qunyun local ...`: the local stack of this checkout."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from qunyun_ops.cli.output import err, print_json

app = typer.Typer(no_args_is_help=True)


@app.command("setup")
def setup() -> None:
    """Fetches DynamoDB Local (once) and makes sure Java 17+ and Chromium (the console's browser tests) are present."""
    from qunyun_ops.browser import ensure_chromium
    from qunyun_ops.local.dynamodb import SetupError, ensure_jar, ensure_java

    try:
        ensure_java(log=err.print)
        where = ensure_jar(log=err.print)
        ensure_chromium(log=err.print)
    except SetupError as e:
        err.print(f"[red]error:[/red] {e}", highlight=False)
        raise typer.Exit(1) from None
    err.print(f"DynamoDB Local is ready in {where}", highlight=False)


@app.command("up")
def up(
    port: int = typer.Option(3000, "--port", help="Port of the webhook gateway on 127.0.0.1."),
    ddb_port: int = typer.Option(8000, "--ddb-port", help="Port of DynamoDB Local on 127.0.0.1."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Keep DynamoDB data in this folder (default: memory)."),
    no_schedule: bool = typer.Option(False, "--no-schedule", help="Fire scheduled functions only via `local run`."),
) -> None:
    """Starts DynamoDB Local and the SQS endpoint, creates the tables and queues, serves every webhook route,
    delivers queued messages to their consumers and fires every schedule."""
    from qunyun_ops.local.stack import Options
    from qunyun_ops.local.stack import up as run_up

    raise typer.Exit(run_up(Options(port=port, ddb_port=ddb_port, data_dir=data_dir, schedule=not no_schedule)))


def _parse_at(at: str | None) -> datetime:
    if not at:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        err.print(f"[red]error:[/red] --at {at!r} is not ISO 8601, e.g. 2026-11-25T08:00:00+08:00.", highlight=False)
        raise typer.Exit(2) from None
    if when.tzinfo is None:
        err.print("[red]error:[/red] --at needs a UTC offset, e.g. 2026-11-25T08:00:00+08:00.", highlight=False)
        raise typer.Exit(2)
    return when


def streams_caught_up(state: dict, template, refused: str) -> None:
    """What the local stack's stream consumers make of the records written so far (a day's earnings pages, the
    member pages) is there before a command reads it, as it would be on AWS a batching window later. When they do not
    catch up in time, prints the error and `refused` (what was not done) and exits 1."""
    if not state.get("streams_checkpoint"):
        return
    from qunyun_ops.local.streams import wait_caught_up

    try:
        wait_caught_up(state["ddb_endpoint"], template, state["stack_name"], Path(state["streams_checkpoint"]))
    except TimeoutError as e:  # the command would read what the consumers have not written yet
        err.print(f"[red]error:[/red] {e}; {refused}.", highlight=False)
        raise typer.Exit(1) from None


@app.command("run")
def run(
    function: str = typer.Argument(..., metavar="FUNCTION", help="Logical id of a scheduled function."),
    at: str = typer.Option(None, "--at", help="Fire as the scheduler would at this time (ISO 8601 with offset)."),
) -> None:
    """Fires one scheduled function once, as EventBridge Scheduler would at that time."""
    from qunyun_ops.env import STATE, StackNotRunning, stack_environment, use_local
    from qunyun_ops.local.scheduler import fire_once
    from qunyun_ops.local.template import Template
    from qunyun_ops.local.workers import FunctionPool, InvocationError
    from qunyun_ops.paths import TEMPLATE

    when = _parse_at(at)
    try:
        state = use_local()
    except StackNotRunning as e:
        err.print(f"[red]error:[/red] {e}", highlight=False)
        raise typer.Exit(1) from None
    # The stack's own template and environment: a job fired here behaves as the stack's scheduler fires it.
    path = Path(state.get("template") or TEMPLATE)
    template = Template.read(path)
    env, overrides = stack_environment(state)
    streams_caught_up(state, template, f"{function} was not fired")
    pool = FunctionPool(template, path.parent, state["stack_name"], env, overrides=overrides)
    try:
        result = fire_once(pool, template, function, when, dead_letter_dir=STATE / "dead-letters")
    except ValueError as e:
        err.print(f"[red]error:[/red] {e}", highlight=False)
        raise typer.Exit(2) from None
    except InvocationError as e:
        err.print(f"[red]error:[/red] {function} failed: {e}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        pool.close()
    print_json(result)
