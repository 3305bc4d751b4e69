"""Fulfilment webhooks against a local receiver on loopback that checks the signature like a partner would."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.mall import CancelRequest, RedemptionRequest, Reward
from qunyun.services.adjust import adjust
from qunyun.services.fulfil import MAX_ATTEMPTS, deliver_due, orders_by_state
from qunyun.services.mall import add_rewards, cancel, get_order, redeem

T0 = datetime.now(UTC).replace(microsecond=0)


class Receiver:
    """Answers `fail_first` requests with 503, then 200; records what arrived and whether it was signed."""

    def __init__(self, secret: str, fail_first: int = 0):
        self.secret, self.fail_first, self.received = secret, fail_first, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["content-length"]))
                ts = self.headers["x-qunyun-timestamp"]
                expected = "sha256=" + hmac.new(receiver.secret.encode(), f"{ts}.POST.{self.path}.".encode() + body,
                                                hashlib.sha256).hexdigest()
                receiver.received.append((json.loads(body), self.headers["x-qunyun-signature"] == expected))
                code = 503 if len(receiver.received) <= receiver.fail_first else 200
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/qunyun?shop=1"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def setup(tenant):
    def make(fail_first: int = 0, url: str | None = None):
        receiver = Receiver(tenant.secret, fail_first)
        t = TenantRepository().get(tenant.tenant_id)
        ledger = PointsLedger()
        add_rewards(t, [Reward(id="tea", name="Tea", cost=10, stock=5, fulfilment_url=url or receiver.url)],
                    ledger=ledger, now=T0)
        adjust(t, "u1", 100, "grant", ledger=ledger, now=T0)
        answer = redeem(t, RedemptionRequest(request_id="r1", member_id="u1", reward_id="tea"), ledger=ledger, now=T0)
        return t, ledger, receiver, answer.body["order_id"]

    made = []
    yield lambda **kw: made.append(make(**kw)) or made[-1]
    for _, _, receiver, _ in made:
        receiver.close()


def run(ledger, at):
    return deliver_due(at, ledger=ledger, tenants=TenantRepository(), secrets=secret_store())


def test_placed_and_cancelled_notices_arrive_signed_and_in_order(setup):
    t, ledger, receiver, oid = setup()
    assert run(ledger, T0 + timedelta(seconds=1)) == {"delivered": 1, "retrying": 0, "parked": 0}
    cancel(t, oid, CancelRequest(request_id="c1", reason="x"), ledger=ledger, now=T0 + timedelta(minutes=1))
    assert run(ledger, T0 + timedelta(minutes=2))["delivered"] == 1
    assert [(b["event"], b["order"]["order_id"], signed) for b, signed in receiver.received] == [
        ("order.placed", oid, True), ("order.cancelled", oid, True)]
    # nothing more is owed: another pass sends nothing
    assert run(ledger, T0 + timedelta(minutes=3)) == {"delivered": 0, "retrying": 0, "parked": 0}
    assert len(receiver.received) == 2


def test_transient_failures_retry_with_backoff(setup):
    t, ledger, receiver, oid = setup(fail_first=2)
    assert run(ledger, T0 + timedelta(seconds=1))["retrying"] == 1
    assert run(ledger, T0 + timedelta(seconds=30))["retrying"] == 0  # not yet: the next try is a minute later
    assert run(ledger, T0 + timedelta(minutes=1, seconds=2))["retrying"] == 1
    assert run(ledger, T0 + timedelta(minutes=4))["delivered"] == 1
    assert get_order(t, oid, ledger=ledger)["fulfilment"] == {"state": "delivered", "attempts": 2, "error": None}


def test_after_the_last_try_the_order_is_parked_with_the_reason(setup):
    t, ledger, receiver, oid = setup(fail_first=100)
    at = T0
    for _ in range(MAX_ATTEMPTS):
        at += timedelta(hours=1)
        run(ledger, at)
    view = get_order(t, oid, ledger=ledger)
    assert view["fulfilment"]["state"] == "parked" and view["fulfilment"]["attempts"] == MAX_ATTEMPTS
    assert "HTTP 503" in view["fulfilment"]["error"]
    assert [o["order_id"] for o in orders_by_state(t.tenant_id, "parked", ledger=ledger)] == [oid]
    assert orders_by_state(t.tenant_id, "due", ledger=ledger) == []
    assert run(ledger, at + timedelta(days=1)) == {"delivered": 0, "retrying": 0, "parked": 0}
    assert len(receiver.received) == MAX_ATTEMPTS


def test_unreachable_partner_is_retried_with_the_error_recorded(setup):
    t, ledger, _, oid = setup(url="http://127.0.0.1:9/closed")
    run(ledger, T0 + timedelta(seconds=1))
    view = get_order(t, oid, ledger=ledger)["fulfilment"]
    assert view["state"] == "due" and view["attempts"] == 1 and "Error" in view["error"]
    assert [o["order_id"] for o in orders_by_state(t.tenant_id, "due", ledger=ledger)] == [oid]
