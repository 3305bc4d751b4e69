"""InboundApi's rules (API.md §6): a platform callback is verified with the tenant's connection, answered as
the platform expects and its group events queued; nothing else. A refusal is counted on the connection by its
reason and queues nothing. An unknown tenant or a platform not connected goes through the same verification
with a stand-in connection, makes the same conditional write of a refusal (on a connection that cannot exist, so
it records nothing) and is answered with the body of a bad signature, so neither is told apart, by body or time."""

from __future__ import annotations

import secrets as random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from qunyun.domain.group_events import PLATFORMS, GroupEvent
from qunyun.inbound.dispatch import Callback, handle
from qunyun.inbound.refusal import CallbackRefused

SIGNATURE_MESSAGE = "The callback does not verify with this tenant's connection."
# Where an unknown connection's refusal is counted: no tenant id is empty, so no connection is ever found there.
NO_CONNECTION = ("", "none")


class Credentials(Protocol):
    def get(self, tenant_id: str, platform: str) -> dict[str, str] | None:
        """The connection's secrets by name, or None for a tenant or platform not connected."""


class EventQueue(Protocol):
    def send(self, events: Iterable[GroupEvent]) -> int: ...


class RefusalLog(Protocol):
    def refused(self, tenant_id: str, platform: str, reason: str) -> None:
        """Counts a refusal on the connection, and records nothing where there is no connection."""


@dataclass(frozen=True)
class InboundDeps:
    credentials: Credentials
    queue: EventQueue
    refusals: RefusalLog
    clock: Callable[[], float]
    max_body_bytes: int = 64 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    body: str | dict  # text/plain, or JSON


def _stand_in(platform: str) -> dict[str, str]:
    """Secrets of the right shapes that verify nothing: an unknown connection costs what a known one does."""
    key = random.token_urlsafe(32)[:43].replace("-", "A").replace("_", "B")
    return {"token": key, "aes_key": key, "corp_id": key, "app_key": key, "app_secret": key,
            "encrypt_key": key, "verification_token": key, "signing_secret": key, "secret_token": key,
            "bot_token": key}


def refusal(reason: str, detail: str, status: int) -> Answer:
    if reason in ("signature_invalid", "not_connected"):
        return Answer(status, {"error": {"code": "signature_invalid", "message": SIGNATURE_MESSAGE}})
    return Answer(status, {"error": {"code": reason, "message": detail}})


def _count(deps: InboundDeps, tenant_id: str, platform: str, reason: str, connected: bool) -> None:
    deps.refusals.refused(*((tenant_id, platform) if connected else NO_CONNECTION), reason)


def receive(platform: str, tenant_id: str, callback: Callback, deps: InboundDeps) -> Answer:
    """The answer to one callback; its events are queued only when it verifies."""
    known = platform in PLATFORMS and len(tenant_id) <= 64
    secrets = deps.credentials.get(tenant_id, platform) if known else None
    if len(callback.body) > deps.max_body_bytes:
        _count(deps, tenant_id, platform, "too_large", secrets is not None)
        return refusal("too_large", f"The body is over {deps.max_body_bytes} bytes.", 413)
    try:
        handled = handle(platform if known else "telegram", tenant_id, secrets or _stand_in(platform), callback,
                         deps.clock())
    except CallbackRefused as refused:
        _count(deps, tenant_id, platform, refused.reason, secrets is not None)
        if secrets is None:
            return refusal("not_connected", "", 404)
        return refusal(refused.reason, refused.detail, refused.status)
    if secrets is None:  # a stand-in never verifies; should one, it still speaks for no connection
        return refusal("not_connected", "", 404)
    if handled.events:
        deps.queue.send(handled.events)
    return Answer(200, handled.answer)
