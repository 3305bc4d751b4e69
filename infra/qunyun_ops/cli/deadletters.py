"""`qunyun deadletters ...`: messages parked after failing too often, listed and sent back (docs/deadletters.md)."""

from __future__ import annotations

import typer

from qunyun_ops.cli.output import JsonOption, LocalOption, connect, err, out, print_json, print_table

app = typer.Typer(no_args_is_help=True)

QueueOption = typer.Option(None, "--queue", help="A queue's logical id in template.yaml, or its dead-letter "
                                                 "queue's (default: every dead-letter queue).")
COLUMNS = ("queue", "id", "kind", "tenant", "group", "push", "first failure", "receives")


def _queues(local: bool):
    """The template's queues on the local stack (its own template and endpoint) or in the AWS stack."""
    import os
    from pathlib import Path

    from qunyun_ops.deadletters import Queues
    from qunyun_ops.local.template import Template
    from qunyun_ops.paths import TEMPLATE

    connect(local)
    if local:
        from qunyun_ops.env import read_state
        from qunyun_ops.local.sqs import sqs_client

        state = read_state()
        if not state.get("sqs_endpoint"):
            err.print("[red]error:[/red] the local stack runs no queues (its template declares none).")
            raise typer.Exit(1)
        urls = state["queues"]
        return Queues(Template.read(Path(state.get("template") or TEMPLATE)), sqs_client(state["sqs_endpoint"]),
                      lambda lid: urls[lid])
    import boto3

    stack, cfn = os.environ["STACK_NAME"], boto3.client("cloudformation")

    def url(lid: str) -> str:  # an AWS::SQS::Queue's physical id is its URL
        found = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=lid)
        return found["StackResourceDetail"]["PhysicalResourceId"]

    return Queues(Template.read(TEMPLATE), boto3.client("sqs"), url)


def _chosen(queues, queue: str | None) -> list[str]:
    from qunyun_ops.deadletters import UnknownQueue

    try:
        return queues.dead_letter_queues(queue)
    except UnknownQueue as e:
        err.print(f"[red]error:[/red] {e}", highlight=False)
        raise typer.Exit(2) from None


def _group(p) -> str:
    shown = ", ".join(p.groups[:3]) + (f" +{len(p.groups) - 3} more" if len(p.groups) > 3 else "")
    return f"{shown} (owner {p.owner})" if p.owner else shown


@app.command("list")
def list_(queue: str = QueueOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Lists every parked message: its kind, tenant, group, push, first failure and receive count."""
    from qunyun_ops.deadletters import list_parked

    queues = _queues(local)
    found = list_parked(queues, _chosen(queues, queue))
    if json_:
        print_json([p.view() for p in found])
        return
    rows = [(f"{p.queue} (from {p.source})", p.message_id, p.kind, p.tenant, _group(p), p.push,
             p.first_failure.strftime("%Y-%m-%d %H:%M:%SZ") if p.first_failure else "", p.receives) for p in found]
    print_table(f"{len(found)} dead letter(s)", COLUMNS, rows)


@app.command("redrive")
def redrive(queue: str = QueueOption,
            message_id: str = typer.Option(None, "--id", help="Only this message (its id from `deadletters list`)."),
            json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Sends parked messages back to the queue they failed in. A push sent meanwhile is not sent again: its
    delivery record decides."""
    from qunyun_ops import deadletters

    queues = _queues(local)
    chosen = _chosen(queues, queue)
    if not local and message_id is None:  # SQS moves whole queues itself, at its own pace
        tasks = [deadletters.start_move_task(queues, dlq) for dlq in chosen]
        if json_:
            print_json(tasks)
            return
        for task in tasks:
            out.print(f"Started moving every message of {task['queue']} back to its source queue "
                      f"(SQS move task {task['task_handle']}).", highlight=False)
        return
    moved = [p for dlq in chosen for p in deadletters.redrive(queues, dlq, message_id)]
    if message_id is not None and not moved:
        err.print(f"[red]error:[/red] no parked message {message_id} in {', '.join(chosen)}; "
                  "see `qunyun deadletters list`.", highlight=False)
        raise typer.Exit(2)
    if json_:
        print_json([p.view() for p in moved])
        return
    out.print(f"Redrove {len(moved)} message(s).", highlight=False)
    for p in moved:
        out.print(f"  {p.message_id}: {p.kind} {p.push} of {p.tenant}, {_group(p)} → {p.source}", highlight=False)
