"""ProcessGroupEvents: consumes the group event queue; each batch is recorded together (services/group_events.py)
and the records whose events could not be recorded come back as partial batch failures."""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import UTC, datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.batches import group_events, partial_failures
from qunyun.services.group_events import GroupEventDeps, process_batch
from qunyun.services.guard import GuardDeps, guard_messages
from qunyun.services.guard_deps import guard_deps, tenant_timezones
from qunyun.services.link_joins import LinkJoinDeps, LinkJoins
from qunyun.settings import get_settings

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


class NotRecorded(Exception):
    pass


@functools.cache
def default_deps() -> GroupEventDeps:
    """Built once per execution environment: the WeCom client keeps its connections and tokens warm."""
    from qunyun.adapters.activity import ActivityStore
    from qunyun.adapters.chats import ChatDirectory
    from qunyun.adapters.connections import ConnectionStore
    from qunyun.adapters.points_ledger import PointsLedger
    from qunyun.adapters.push_queue import PushQueue
    from qunyun.adapters.roster import RosterStore
    from qunyun.adapters.secrets import secret_store
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.adapters.unmapped import UnmappedStore
    from qunyun.adapters.wecom_members import WecomMembers
    from qunyun.adapters.welcomes import WelcomeStore
    from qunyun.services.group_checkins import CheckinDeps
    from qunyun.services.welcome_settings import WelcomeWindows

    settings = get_settings()
    tenants = TenantRepository()
    timezone = tenant_timezones(tenants.get)
    directory = ChatDirectory()
    ledger = PointsLedger()
    return GroupEventDeps(directory=directory, roster=RosterStore(), activity=ActivityStore(),
                          unmapped=UnmappedStore(), connections=ConnectionStore(), timezone=timezone,
                          wecom_members=WecomMembers(secret_store(settings), settings.wecom_base_url),
                          clock=lambda: datetime.now(UTC), welcome_window=WelcomeWindows(WelcomeStore()),
                          guard=guard(settings, guard_deps(directory, timezone)),
                          # The tenant as stored now, so a change of its check-in keywords applies at once.
                          checkins=CheckinDeps(tenant=tenants.get, ledger=ledger,
                                               reply=PushQueue(settings.push_queue_url).send_later
                                               if settings.push_queue_url else None),
                          links=link_joins(tenants, ledger))


def guard(settings, deps: GuardDeps):
    """The batch's messages matched against the group rules here and those that match handed to GuardOffences
    through the guard's queue (template.yaml), which records and acts on them; without a queue, the guard's
    whole work in the batch itself."""
    if settings.guard_queue_url:
        from qunyun.adapters.guard_queue import GuardQueue
        from qunyun.services.guard_handoff import hand_over

        return functools.partial(hand_over, deps=deps, send=GuardQueue(settings.guard_queue_url).send)
    return functools.partial(guard_messages, deps=deps)


def link_joins(tenants, ledger) -> LinkJoins:
    """Join links' side of group events: attribution, held invite points, groups WeCom opens for a full link."""
    from qunyun.adapters.flash import FlashRepository
    from qunyun.adapters.groups import GroupRepository
    from qunyun.adapters.link_platforms import LinkPlatforms
    from qunyun.adapters.links import LinkStore
    from qunyun.adapters.secrets import secret_store

    settings = get_settings()
    platforms = LinkPlatforms(secret_store(settings), settings.wecom_base_url, settings.telegram_base_url)
    flash = FlashRepository()
    return LinkJoins(LinkJoinDeps(
        links=LinkStore(), wecom_chat=platforms.group_chat, tenant=tenants.get, ledger=ledger,
        groups=GroupRepository(), clock=lambda: datetime.now(UTC),
        flash_ends=lambda t, g, ends_at, now: flash.add_new(t, [(g, ends_at)], now)))


def for_batch(deps: GroupEventDeps) -> GroupEventDeps:
    """The tenant read once a batch (the check-ins' keywords, as stored now), not once a chat."""
    if deps.checkins is None:
        return deps
    return replace(deps, checkins=replace(deps.checkins, tenant=functools.cache(deps.checkins.tenant)))


def process(event: dict, context: LambdaContext | None = None, deps: GroupEventDeps | None = None) -> dict:
    parsed, unreadable = group_events(event)
    failed = process_batch(parsed, for_batch(deps or default_deps())) | unreadable
    metrics.add_metric(name="GroupEvents", unit=MetricUnit.Count, value=len(parsed))
    return partial_failures(event, failed, processor, context, NotRecorded)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
