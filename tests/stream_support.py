"""The points table's stream delivered in process: what Lambda's event source mapping hands PageEarnings a
batching window after the entries were written. A test that reads a day's earnings (leaderboards, flash groups'
figures, RollupMetrics) calls `deliver_streams()` first, as on AWS it would read them half a minute later."""

from __future__ import annotations

import functools
import importlib
import os
from pathlib import Path

from support import STACK, FakeContext

ROOT = Path(__file__).resolve().parents[1]
_READERS: dict = {}  # one place in the stream for the whole run, as one event source mapping keeps


@functools.cache
def template():
    from qunyun_ops.local.template import Template

    return Template.read(ROOT / "template.yaml")


def invoke_in_process(function: str, event: dict):
    """What the local stack's pool does with an invocation, done here: the handler the template names, called
    with a fake context."""
    module, name = template().functions[function].handler.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(event, FakeContext())


def deliver_streams() -> int:
    """Hands every stream record written since the last call to its function (filtered and batched as the
    template says); returns how many batches."""
    return _drain(invoke_in_process)


def _drain(invoke) -> int:
    from qunyun_ops.local.stack import ddb_client
    from qunyun_ops.local.streams import drain, streams_client

    endpoint = os.environ["DYNAMODB_ENDPOINT"]
    return drain(ddb_client(endpoint), streams_client(endpoint), template(), STACK, invoke, _READERS)


def settle(now, **kwargs) -> dict:
    """SettlePoints' run at `now`, as it finds things on AWS: the stream delivered first, so the due pages list the
    lots written before it (a lot falls due days after it is written, long after the batching window)."""
    from qunyun.services.settle import settle as run

    deliver_streams()
    return run(now, **kwargs)


def skip_streams() -> int:
    """Drops the stream records written since the last delivery, undelivered: what a stack without the stream's
    consumer (the code before it) left behind. Returns how many batches were dropped."""
    return _drain(lambda *_: None)


def reconciled(tenant_id: str) -> dict[str, list[str]]:
    """`qunyun points reconcile` of one tenant, member by member, as it finds things on AWS: the stream delivered
    first, so the member pages list every member made (PageEarnings pages a newcomer a batching window after it)."""
    from qunyun.adapters.points_ledger import PointsLedger
    from qunyun.services.adjust import reconcile_tenant

    deliver_streams()
    return dict(reconcile_tenant(tenant_id, ledger=PointsLedger()))
