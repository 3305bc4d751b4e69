"""ProcessGroupEvents' side of the guard: each batch's messages matched against their groups' rules (compiled once
per tenant and rules version), and those that match handed to the guard's own queue, where GuardOffences records
them as offences and acts (services/guard.py). The batch itself never waits on an offence's writes or a
platform's moderation calls, and a rate-limited chat's actions wait without holding anyone's events."""

from __future__ import annotations

import logging
from collections.abc import Callable

from qunyun.domain.group_events import Message
from qunyun.services.guard import GuardDeps, offending

logger = logging.getLogger(__name__)
Keyed = list[tuple[str, Message]]  # (record id, message)


def hand_over(messages: Keyed, deps: GuardDeps, send: Callable[[Keyed], set[str]]) -> set[str]:
    """Queues the batch's messages that match a rule; returns the record ids to retry (their chat's rules could
    not be read, or their message not queued)."""
    found, failed = offending(messages, deps)
    if found:
        try:
            failed |= send(found)
        except Exception:
            logger.exception("the guard's queue took none of the batch's matching messages")
            failed |= {key for key, _ in found}
    return failed
