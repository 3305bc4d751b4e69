"""BriefDispatch split across invocations on DynamoDB Local: the scheduled run plans a slot's groups as dispatch
pages (at most 200 groups each) and each page's invocation queues its pushes; a page handled twice, or planned
again by a rerun, queues nothing the second time (its page checkpoint), and every group gets its one message.

Slot time 05:10 Shanghai, which no other test uses (the slot indexes span every tenant of the test run)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

from brief_dispatch import default_deps, process
from qunyun.adapters.dispatch_checkpoint import PageCheckpoint
from qunyun.domain.dispatch_pages import PAGE_GROUPS, DispatchPage
from test_brief_dispatch import DAY, ListQueue, add, fresh_checkpoint, row, write_brief

AT_0510 = datetime(2026, 11, 25, 21, 10, tzinfo=UTC)  # 05:10 in Asia/Shanghai on DAY
GROUPS = 2 * PAGE_GROUPS + 50  # three pages


class PageQueue:
    """The dispatch page queue as the planner sees it (`send`), keeping the bodies as they go on the queue."""

    def __init__(self):
        self.bodies: list[str] = []

    def send(self, pages) -> int:
        bodies = [page.to_json() for page in pages]
        self.bodies += bodies
        return len(bodies)


def deps(pushes: ListQueue, pages: PageQueue, done: PageCheckpoint, checkpoint=None):
    return dataclasses.replace(default_deps(), queue=pushes, pages=pages, pages_done=done,
                               checkpoint=checkpoint or fresh_checkpoint())


def consume(bodies: list[str], d) -> list[dict]:
    """Each page as its own invocation, as the queue's event source delivers it (one record a batch)."""
    return [process({"Records": [{"messageId": str(i), "body": b}]}, deps=d) for i, b in enumerate(bodies)]


def mine(pages: PageQueue, tenant_id: str) -> list[DispatchPage]:
    out = [DispatchPage.from_json(b) for b in pages.bodies]
    return [p for p in out if any(m.tenant_id == tenant_id for m in p.members)]


def test_a_slot_larger_than_a_page_is_planned_as_pages_whose_invocations_queue_every_group(tenant):
    # GIVEN 450 groups of a tenant due at 05:10 and their morning brief
    ids = [f"g{i:04d}" for i in range(GROUPS)]
    add(tenant.tenant_id, [row(g, morning="05:10") for g in ids])
    write_brief(tenant.tenant_id)
    pushes, pages = ListQueue(), PageQueue()
    d = deps(pushes, pages, PageCheckpoint(f"~pages-{uuid.uuid4().hex[:8]}#"))
    # WHEN the scheduled run plans the slot
    summary = process({"scheduled_time": AT_0510.isoformat()}, deps=d)
    # THEN it queues no push itself, only pages of at most PAGE_GROUPS groups, the tenant's in three of them
    assert pushes.bodies == [] and summary["pages"] == len(pages.bodies) and summary["planned"] >= GROUPS
    planned = mine(pages, tenant.tenant_id)
    assert len(planned) >= 3 and all(len(p.members) <= PAGE_GROUPS for p in planned)
    assert sorted(m.group_id for p in planned for m in p.members if m.tenant_id == tenant.tenant_id) == ids
    # AND each page's invocation queues its groups' pushes: every group gets exactly one, for its date
    results = consume(pages.bodies, d)
    assert all(r["pages"] == 1 for r in results)
    queued = pushes.of(tenant.tenant_id)
    assert sorted(b["group_ids"][0] for b in queued) == ids
    assert all(b["edition"] == "morning" and b["date"] == str(DAY) for b in queued)


def test_a_page_handled_twice_queues_its_pushes_once(tenant):
    # GIVEN a planned slot whose pages were all handled once
    add(tenant.tenant_id, [row(f"t{i:04d}", morning="05:10") for i in range(PAGE_GROUPS + 10)])
    write_brief(tenant.tenant_id)
    pushes, pages = ListQueue(), PageQueue()
    d = deps(pushes, pages, PageCheckpoint(f"~pages-{uuid.uuid4().hex[:8]}#"))
    process({"scheduled_time": AT_0510.isoformat()}, deps=d)
    consume(pages.bodies, d)
    first = len(pushes.of(tenant.tenant_id))
    # WHEN the queue delivers every page again (a retry after a lost acknowledgement)
    again = consume(pages.bodies, d)
    # THEN no page queues a push the second time
    assert first == PAGE_GROUPS + 10
    assert len(pushes.of(tenant.tenant_id)) == first
    assert all(r == {"pages_done_before": 1} for r in again)


def test_a_rerun_of_the_schedule_plans_the_same_pages_and_queues_nothing_more(tenant):
    # GIVEN a slot planned and its pages handled
    add(tenant.tenant_id, [row(f"r{i:04d}", morning="05:10") for i in range(PAGE_GROUPS + 30)])
    write_brief(tenant.tenant_id)
    done, checkpoint = PageCheckpoint(f"~pages-{uuid.uuid4().hex[:8]}#"), fresh_checkpoint()
    pushes, first_pages = ListQueue(), PageQueue()
    process({"scheduled_time": AT_0510.isoformat()}, deps=deps(pushes, first_pages, done, checkpoint))
    consume(first_pages.bodies, deps(pushes, first_pages, done, checkpoint))
    queued = len(pushes.of(tenant.tenant_id))
    # WHEN the scheduler runs the same time again (its retry)
    second_pages = PageQueue()
    d = deps(pushes, second_pages, done, checkpoint)
    process({"scheduled_time": AT_0510.isoformat()}, deps=d)
    # THEN it plans the same pages (named alike), and handling them queues no push again
    assert [p.digest for p in mine(second_pages, tenant.tenant_id)] == \
        [p.digest for p in mine(first_pages, tenant.tenant_id)]
    consume(second_pages.bodies, d)
    assert queued == PAGE_GROUPS + 30 and len(pushes.of(tenant.tenant_id)) == queued
