"""PageEarnings in a benchmark's process: the pages that a phase's entries make, and what writing them costs.

Benchmarks time with the points table's stream off (DynamoDB Local slows every write to a table that keeps one;
AWS does not: qunyun_ops/local/tables.py `create_tables`). Where a phase's entries must be paged (a day's
earnings that the rollup reads) or priced (the pages an ingest or a redemption costs), the stream is on for that
untimed pass and `Pager.run()` hands its records to PageEarnings' handler, filtered and batched as template.yaml
says, metering the write units of the pages."""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import STACK, CapacityMeter, pynamodb_client  # noqa: E402
from names import PAGES_MODULE  # noqa: E402


def _source():
    from qunyun_ops.local.template import Template
    from qunyun_ops.paths import TEMPLATE

    (source,) = Template.read(TEMPLATE).stream_sources
    return source


def streams_client(client):
    from qunyun_ops.local.streams import streams_client as make

    return make(client.meta.endpoint_url)


class Pager:
    """Reads a stream of the points table from its start and pages what it holds, a call at a time."""

    def __init__(self, client, arn: str) -> None:
        from qunyun_ops.local.streams import StreamReader

        self.reader, self.source = StreamReader(streams_client(client), arn), _source()
        self.meter = CapacityMeter()
        for page_client in _page_clients():
            self.meter.attach(page_client)
        self.totals = {"entries": 0, "pages": 0, "write_units": 0.0, "batches": 0, "cpu_seconds": 0.0}

    def run(self) -> dict:
        """Pages the records written since the last call; returns what this call wrote (its entries, pages,
        write units, invocations and the handler's CPU seconds), and adds them to `totals`."""
        from qunyun_ops.local.streams import deliverable

        handler = importlib.import_module(PAGES_MODULE)
        records, place = self.reader.read()
        self.meter.reset()
        done = {"entries": 0, "pages": 0, "batches": 0, "cpu_seconds": 0.0}
        for batch in deliverable(self.source, records):
            cpu = time.process_time()
            summary = handler.process({"Records": batch})
            done["cpu_seconds"] += time.process_time() - cpu
            done["entries"] += summary["entries"]
            done["pages"] += summary["pages"]
            done["batches"] += 1
        self.reader.commit(place)
        done["write_units"] = self.meter.write
        for key, value in done.items():
            self.totals[key] += value
        return done

    def close(self) -> None:
        for page_client in _page_clients():
            self.meter.detach(page_client)


def _page_clients() -> list:
    """The clients PageEarnings writes its pages with (the day lists', the due lots' and the members'), each once."""
    from qunyun.adapters.points_tables import DuePageItem, EarningPageItem, MemberPageItem

    return list({id(c): c for c in (pynamodb_client(EarningPageItem), pynamodb_client(DuePageItem),
                                    pynamodb_client(MemberPageItem))}.values())


def page_due_lots(client, stack: str = STACK) -> int:
    """The due pages PageEarnings would have written of every lot that carries a due time, written from a Scan of the
    points table, untimed: the benchmarks time with the stream off (their counting pass, with it on, prices the
    pages). Lot items and orders carry `due_at`; a member item lists each lot it holds, due at its expiry (the
    record of the write that made it held named it). Returns how many lots it listed."""
    from qunyun.adapters.due_pages import DuePages, due_line

    store = DuePages()
    items = _page_scan(client, stack, "attribute_exists(due_at)", {},
                       lambda item: [{**item, "due_new": item["due_at"]}], due_line, store)
    members = {":balance": {"S": "#BALANCE"}}
    return items + _page_scan(client, stack, "sk = :balance AND attribute_exists(lots)", members, _held_lot_images,
                              due_line, store)


def _held_lot_images(item: dict) -> list[dict]:
    from qunyun.adapters.held_lots import lots_read
    from qunyun.domain.points import NEVER

    return [{"pk": item["pk"], "sk": item["sk"], "due_new": {"S": lot.name}}
            for lot, n in lots_read(json.loads(item["lots"]["S"])).items() if n > 0 and lot.name != NEVER]


def page_members(client, stack: str = STACK) -> int:
    """The member pages PageEarnings would have written of every member, from a Scan, untimed (as `page_due_lots`):
    what `qunyun points reconcile` lists a tenant's members by. Returns how many members it listed."""
    from qunyun.adapters.member_pages import MemberPages, member_line

    return _page_scan(client, stack, "sk = :balance", {":balance": {"S": "#BALANCE"}}, lambda item: [item],
                      member_line, MemberPages())


def _page_scan(client, stack: str, where: str, values: dict, image, line, store) -> int:
    """Pages the items a Scan's filter finds, each as the INSERT records of the images `image(item)` lists, with
    PageEarnings' own `line` and `store`; returns how many lines."""
    from qunyun.services.earning_pages import page_batch

    n, cursor = 0, None
    while True:
        page = client.scan(TableName=f"{stack}-points", FilterExpression=where,
                           **({"ExpressionAttributeValues": values} if values else {}),
                           **({"ExclusiveStartKey": cursor} if cursor else {}))
        records = [{"eventName": "INSERT", "dynamodb": {"NewImage": img}}
                   for item in page["Items"] for img in image(item)]
        n += page_batch(records, line, store)["entries"]
        cursor = page.get("LastEvaluatedKey")
        if not cursor:
            return n


@contextlib.contextmanager
def paging(client, stack: str = STACK):
    """The points table's stream on (as the template declares it) for the block's writes, which are paged when
    the block ends; then off again, before anything is timed."""
    table = f"{stack}-points"
    arn = client.update_table(TableName=table, StreamSpecification={"StreamEnabled": True,
                                                                    "StreamViewType": "NEW_IMAGE"}
                              )["TableDescription"]["LatestStreamArn"]
    pager = Pager(client, arn)
    try:
        yield pager
        pager.run()
    finally:
        pager.close()
        client.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})
