"""Fulfilment webhooks: each placed or cancelled order of a reward with a fulfilment URL is POSTed there,
signed like API.md §1 with the tenant's secret, retried with backoff, and parked with the reason after
the last try.

The notice owed is written in the same transaction as the order (a transactional outbox), so an order
can never be placed without its notice; `FulfilOrders` finds due notices through the `fulfil` index.
Parked orders stay listed under their tenant (`qunyun orders list --status parked`): that partition of
the index is the dead-letter queue.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from qunyun.adapters.secrets import SecretStore
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain import signing
from qunyun.domain.errors import InvalidRequest
from qunyun.domain.ledger import Contention, Plan, RecordWrite
from qunyun.domain.mall import Redemption
from qunyun.services.ledger_ports import MallUnitOfWork as Ledger
from qunyun.services.mall import order_of, order_view

MAX_ATTEMPTS = 6
BACKOFF = timedelta(minutes=1)  # 1, 2, 4, 8, 16 minutes between tries

Post = Callable[[str, bytes, dict[str, str]], int]


def http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310 - operator-configured https URL
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def _notice(tenant_id: str, secret: str, url: str, event: str, view: dict, now: datetime) -> tuple[bytes, dict]:
    body = json.dumps({"event": f"order.{event}", "tenant_id": tenant_id, "order": view}, ensure_ascii=False,
                      separators=(",", ":")).encode()
    parts = urlsplit(url)
    path = parts.path or "/"
    path_and_query = path + (f"?{parts.query}" if parts.query else "")
    headers = {"content-type": "application/json",
               **signing.headers(tenant_id, secret, int(now.timestamp()), "POST", path_and_query, body)}
    return body, headers


def _deliver(order: Redemption, tenant_id: str, secret: str, now: datetime, post: Post) -> tuple[list[str], str]:
    """Sends the owed notices in order; returns those still owed and the last error."""
    view = order_view(order)
    owed = list(order.fulfil_events)
    while owed:
        body, headers = _notice(tenant_id, secret, order.fulfilment_url, owed[0], view, now)
        try:
            status = post(order.fulfilment_url, body, headers)
        except (OSError, TimeoutError) as e:
            return owed, f"{type(e).__name__}: {e}"[:300]
        if not 200 <= status < 300:
            return owed, f"HTTP {status} for order.{owed[0]}"
        owed.pop(0)
    return owed, ""


def _outcome(order: Redemption, owed: list[str], error: str, now: datetime) -> tuple[str, dict]:
    """Delivered, parked after the last try, or retried after a backoff that doubles each time."""
    attempts = order.fulfil_attempts + (1 if owed else 0)
    if not owed:
        return "delivered", {"fulfil_state": "delivered", "fulfil_events": [], "fulfil_error": None, "fulfil_at": None}
    if attempts >= MAX_ATTEMPTS:
        return "parked", {"fulfil_state": "parked", "fulfil_events": owed, "fulfil_attempts": attempts,
                          "fulfil_error": error, "fulfil_at": now.isoformat()}
    retry_at = now + BACKOFF * 2 ** (attempts - 1)
    return "retrying", {"fulfil_events": owed, "fulfil_attempts": attempts, "fulfil_error": error,
                        "fulfil_at": retry_at.isoformat()}


def deliver_due(now: datetime, *, ledger: Ledger, tenants: TenantRepository, secrets: SecretStore,
                post: Post = http_post) -> dict[str, int]:
    """One pass over every due notice; each order's outcome is written with a condition on its version."""
    summary = {"delivered": 0, "retrying": 0, "parked": 0}
    cache: dict[str, str | None] = {}
    for tenant_id, oid in ledger.notices(now.isoformat()):
        order = ledger.redemption(tenant_id, oid)
        if order is None or order.fulfil_state != "due":
            continue
        if tenant_id not in cache:
            tenant = tenants.get(tenant_id)
            cache[tenant_id] = secrets.get(tenant.secret_ref) if tenant else None
        secret = cache[tenant_id]
        owed, error = _deliver(order, tenant_id, secret, now, post) if secret else (
            list(order.fulfil_events), "the tenant's webhook secret is missing")
        outcome, update = _outcome(order, owed, error, now)
        plan = Plan(tenant_id, redemption=RecordWrite(oid, update, version=order.version))
        try:
            ledger.commit(plan, now)
            summary[outcome] += 1
        except Contention:
            continue  # the order changed meanwhile (a cancellation): the next pass sees it fresh
    return summary


def orders_by_state(tenant_id: str, state: str, *, ledger: Ledger) -> list[dict]:
    """The tenant's orders whose notices are due, or parked after the last try (the dead letters)."""
    if state not in ("due", "parked"):
        raise InvalidRequest("--status must be due or parked.", field="status")
    if state == "parked":
        found = ledger.notices("9999", tenant_id, page=1000)
    else:
        found = ((t, oid) for t, oid in ledger.notices("9999", page=1000) if t == tenant_id)
    return [order_of(tenant_id, oid, ledger=ledger) for _, oid in found]
