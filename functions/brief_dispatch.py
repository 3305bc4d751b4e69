"""BriefDispatch: every 5 minutes, finds the groups whose morning or evening brief is due now in their own
timezone (or was missed within the grace period) and queues them in pages on its dispatch page queue; as that
queue's consumer, queues one push message per group of a page and records the groups it skips."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.content import ContentRepository
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.dispatch_checkpoint import DispatchCheckpoint, PageCheckpoint
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.push_queue import PushQueue
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.dispatch_pages import DispatchPage
from qunyun.jobs import report_run, scheduled_now
from qunyun.services.brief_dispatch import dispatch, dispatch_page
from qunyun.settings import get_settings

logger = Logger()
metrics = Metrics()


@dataclass(frozen=True)
class Deps:
    groups: GroupRepository
    tenants: TenantRepository
    content: ContentRepository
    deliveries: DeliveryRepository
    queue: PushQueue
    checkpoint: DispatchCheckpoint
    pages: PushQueue | None  # the dispatch page queue; None queues every push in the scheduled run itself
    pages_done: PageCheckpoint


@functools.cache
def default_deps() -> Deps:
    """Built once per execution environment (the queues' SQS clients are made on their first send)."""
    settings = get_settings()
    pages = PushQueue(settings.dispatch_page_queue_url) if settings.dispatch_page_queue_url else None
    return Deps(GroupRepository(), TenantRepository(), ContentRepository(), DeliveryRepository(),
                PushQueue(settings.push_queue_url), DispatchCheckpoint(), pages, PageCheckpoint())


def process(event: dict, context: LambdaContext | None = None, deps: Deps | None = None) -> dict:
    deps = deps or default_deps()
    if "Records" in event:  # dispatch pages from its own queue (one a batch: template.yaml)
        return _pages(event, deps)
    summary = dispatch(scheduled_now(event), groups=deps.groups, tenants=deps.tenants, content=deps.content,
                       deliveries=deps.deliveries, queue=deps.queue, checkpoint=deps.checkpoint, pages=deps.pages)
    return report_run(logger, metrics, "BriefDispatch", "briefs dispatched", event, summary)


def _pages(event: dict, deps: Deps) -> dict:
    """Each page's pushes; a page that fails raises, so the queue hands it back (and parks it after 5 tries)."""
    summary: dict[str, int] = {}
    for record in event["Records"]:
        counts = dispatch_page(DispatchPage.from_json(record["body"]), tenants=deps.tenants, content=deps.content,
                               deliveries=deps.deliveries, queue=deps.queue, done=deps.pages_done)
        for key, n in counts.items():
            summary[key] = summary.get(key, 0) + n
    logger.info("dispatch pages", extra=summary)
    for name, value in summary.items():
        metrics.add_metric(name=f"BriefDispatch_{name}", unit=MetricUnit.Count, value=value)
    return summary


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
