"""Welcomes: a batch that records joins in a group queues the welcome of each window they fall in (windows of
the tenant's `window_seconds`, 60 by default, on a grid from the epoch, so every batch agrees on them), delayed
until the window has closed (services/welcome_push.py). The welcome's push id names the window, so the window's
later batches, a retried batch or 10,000 joins in a minute still give the group one welcome a window: the
delivery record decides. WeCom customer groups are greeted by WeCom's own group welcome template, never per
join."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from qunyun.domain.group_events import GroupEvent, MemberJoined
from qunyun.domain.welcomes import WELCOME_WINDOW

if TYPE_CHECKING:
    from qunyun.domain.push_messages import PushMessage

SETTLE = 2  # seconds after a window closes: a join of its last moment is on the roster by then
MAX_DELAY = 900  # SQS's longest DelaySeconds
NO_PER_JOIN = ("wecom_customer_group",)


def queue_welcomes(tenant_id: str, group_id: str, channel: str, zone: ZoneInfo, events: list[GroupEvent],
                   send: Callable[[PushMessage, int], None], now: datetime, seconds: int = WELCOME_WINDOW) -> int:
    """Queues the welcome of every window (`seconds` long) with a join among `events`; returns how many."""
    if channel in NO_PER_JOIN:
        return 0
    windows = {int(e.occurred_at.timestamp()) // seconds * seconds for e in events if isinstance(e, MemberJoined)}
    if windows:  # the push messages' models load with the first join: a cold start of messages does without them
        from qunyun.domain.push_messages import WelcomeMessage
    for window in sorted(windows):
        delay = min(MAX_DELAY, max(0, int(window + seconds - now.timestamp()) + SETTLE))
        send(WelcomeMessage(tenant_id=tenant_id, date=datetime.fromtimestamp(window, zone).date(),
                            group_ids=(group_id,), window=window, seconds=seconds), delay)
    return len(windows)
