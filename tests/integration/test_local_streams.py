"""The local stack's DynamoDB stream event sources (qunyun_ops/local/streams.py) against DynamoDB Local: the
template's filter lets through what Lambda's would, a batch that fails is delivered again, and a job fired with
`qunyun local run` waits until what was written has been delivered, or is not fired when that takes too long."""

from __future__ import annotations

import functools
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from qunyun.adapters import points_keys
from qunyun.adapters.points_tables import EntryItem
from qunyun_ops.local import streams as local_streams
from qunyun_ops.local import workers
from qunyun_ops.local.stack import ddb_client
from qunyun_ops.local.streams import (
    StreamRunner,
    caught_up,
    deliverable,
    drain,
    matches,
    streams_client,
    wait_caught_up,
)
from qunyun_ops.local.template import Template
from stream_support import deliver_streams, invoke_in_process
from support import STACK
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Template.read(ROOT / "template.yaml")
(SOURCE,) = TEMPLATE.stream_sources


def passes(record: dict) -> bool:
    """Whether the template's filters (any of them, as Lambda's) let a record through."""
    return bool(deliverable(SOURCE, [record]))


def _record(name: str, image: dict | None) -> dict:
    return {"eventName": name, "dynamodb": {"NewImage": image} if image is not None else {}}


def test_the_templates_filter_lets_through_what_lambdas_would():
    listed = {"pk": {"S": "t#m"}, "sk": {"S": "E#x"}, "board_pk": {"S": "t#2026-11-25"}}
    assert (SOURCE.function, SOURCE.table, SOURCE.batch_size) == ("PageEarnings", "PointsTable", 1000)
    assert passes(_record("INSERT", listed)) and passes(_record("MODIFY", listed))
    assert not passes(_record("REMOVE", None))
    # a member's item made (its line in the tenant's member pages); not one written again, nor one removed
    member = {"pk": {"S": "t#m"}, "sk": {"S": "#BALANCE"}, "version": {"N": "1"}}
    assert passes(_record("INSERT", member))
    assert not passes(_record("MODIFY", member)) and not passes(_record("INSERT", {**member, "sk": {"S": "L#x"}}))
    assert not passes(_record("INSERT", {**listed, "board_pk": {"N": "1"}}))
    # a write that gives a lot its due time (its line in the due pages), made or given anew; not a write that keeps
    # it (a spend: `due_new` removed), nor one that clears it
    at = {"S": "2026-12-08T16:00:00+00:00"}
    due = {"pk": {"S": "t#m"}, "sk": {"S": "P#purchase#o1"}, "due_at": at, "due_new": at}
    assert passes(_record("INSERT", due)) and passes(_record("MODIFY", due))
    assert not passes(_record("MODIFY", {k: v for k, v in due.items() if k != "due_new"}))
    assert not passes(_record("MODIFY", {k: v for k, v in due.items() if k not in ("due_at", "due_new")}))
    assert not passes(_record("REMOVE", None)) and not passes(_record("INSERT", {**due, "due_new": {"N": "1"}}))
    assert not matches({"a": [{"exists": False}]}, {"a": 1}) and matches({"a": [{"exists": False}]}, {"b": 1})


def _entry(tenant_id: str, n: int) -> None:
    at = datetime(2026, 11, 25, 1, n, tzinfo=UTC)
    EntryItem(points_keys.member_pk(tenant_id, f"m{n}"), points_keys.entry_sk(at, f"e{n}"),
              board_pk=points_keys.board_day_pk(tenant_id, "2026-11-25"), entry_id=f"e{n}", kind="earn",
              source_type="checkin", source_id="d", actor="member", points=5, created_at=at).save()


def _clients():
    endpoint = os.environ["DYNAMODB_ENDPOINT"]
    return ddb_client(endpoint), streams_client(endpoint)


def test_a_failed_batch_is_delivered_again(tenant):
    deliver_streams()
    readers: dict = {}
    ddb, streams = _clients()
    drain(ddb, streams, TEMPLATE, STACK, lambda *_: None, readers)  # this reader's place: the stream's end
    _entry(tenant.tenant_id, 1)
    got: list[list[dict]] = []

    def failing(function: str, event: dict):
        got.append(event["Records"])
        raise RuntimeError("the function timed out")

    with pytest.raises(RuntimeError):
        drain(ddb, streams, TEMPLATE, STACK, failing, readers)
    assert drain(ddb, streams, TEMPLATE, STACK, lambda _f, event: got.append(event["Records"]), readers) == 1
    assert [r["eventID"] for r in got[0]] == [r["eventID"] for r in got[1]] and len(got[0]) == 1
    assert ":table/qunyun-test-points/stream/" in got[0][0]["eventSourceARN"]
    assert drain(ddb, streams, TEMPLATE, STACK, lambda *_: None, readers) == 0  # nothing left


class InProcess:
    """The pool's `invoke`, run here (stream_support.invoke_in_process), counted."""

    def __init__(self) -> None:
        self.calls = 0

    def invoke(self, function: str, event: dict):
        self.calls += 1
        return invoke_in_process(function, event)


def test_the_wait_before_a_local_job_returns_once_the_stack_delivered_the_stream(tenant, tmp_path):
    deliver_streams()
    checkpoint = tmp_path / "streams.json"
    runner = StreamRunner(TEMPLATE, InProcess(), os.environ["DYNAMODB_ENDPOINT"], STACK, checkpoint,
                          log=lambda _m: None)
    # GIVEN a runner that has not started: whatever the stream holds is not delivered yet
    _entry(tenant.tenant_id, 2)
    assert not caught_up(os.environ["DYNAMODB_ENDPOINT"], TEMPLATE, STACK, checkpoint)
    # WHEN it runs, the wait returns once it has delivered the entry
    runner.start()
    try:
        wait_caught_up(os.environ["DYNAMODB_ENDPOINT"], TEMPLATE, STACK, checkpoint, timeout=30)
    finally:
        runner.stop()
    assert runner.pool.calls >= 1 and checkpoint.exists()
    pages = list(EntryItem._get_connection().query(
        points_keys.pages_pk(points_keys.board_day_pk(tenant.tenant_id, "2026-11-25")))["Items"])
    assert len(pages) == 1


def _stack_behind(tenant, tmp_path, monkeypatch) -> None:
    """A running stack (this process) whose stream consumers have read nothing, an entry to deliver, and a wait of
    1 s instead of 60."""
    from qunyun_ops import env

    state = {"pid": os.getpid(), "ddb_endpoint": os.environ["DYNAMODB_ENDPOINT"], "stack_name": STACK,
             "secrets_file": os.environ["QUNYUN_SECRETS_FILE"], "template": str(ROOT / "template.yaml"),
             "streams_checkpoint": str(tmp_path / "streams.json")}
    (tmp_path / "local.json").write_text(json.dumps(state))
    monkeypatch.setattr(env, "STATE_FILE", tmp_path / "local.json")
    _entry(tenant.tenant_id, 3)
    monkeypatch.setattr(local_streams, "wait_caught_up", functools.partial(wait_caught_up, timeout=1.0))


def test_a_local_job_is_not_fired_while_the_stream_stays_behind(tenant, tmp_path, monkeypatch):
    from qunyun_ops.cli import app

    # GIVEN a running stack whose stream consumers stay behind
    _stack_behind(tenant, tmp_path, monkeypatch)
    # AND the pool's invocations recorded instead of run
    invoked: list[str] = []
    monkeypatch.setattr(workers.FunctionPool, "invoke", lambda _pool, function, _event: invoked.append(function))
    # WHEN a job is fired with `qunyun local run`
    ran = CliRunner().invoke(app, ["local", "run", "SettlePoints", "--at", "2026-11-25T02:00:00+08:00"])
    # THEN the command says the consumers are behind and exits 1, and the job was not fired
    assert (ran.exit_code, type(ran.exception)) == (1, SystemExit), ran.output
    assert "error: stream consumers still behind after 1 s; SettlePoints was not fired." in ran.output
    assert invoked == []


def test_a_local_reconcile_does_not_run_while_the_stream_stays_behind(tenant, tmp_path, monkeypatch):
    from qunyun_ops.cli import app

    # GIVEN a running stack whose stream consumers stay behind (the member pages may not list a newcomer yet)
    _stack_behind(tenant, tmp_path, monkeypatch)
    # WHEN the tenant is reconciled with `qunyun points reconcile --local`
    ran = CliRunner().invoke(app, ["points", "reconcile", "--tenant", tenant.tenant_id, "--local"])
    # THEN the command says the consumers are behind and exits 1, reconciling no one
    assert (ran.exit_code, type(ran.exception)) == (1, SystemExit), ran.output
    assert "error: stream consumers still behind after 1 s; nothing was reconciled." in ran.output
    assert "Reconciled" not in ran.output
