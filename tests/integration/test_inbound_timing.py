"""InboundApi on DynamoDB Local: an unknown tenant is answered in the time of a bad signature on a known one
(API.md §6), measured in the process with the real connection cache and refusal counter. The two are timed in
turns and compared by their medians, so a busy machine slows both alike; skipping the verification or the
refusal's write for an unknown tenant makes its median a fraction of the other's."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

import inbound_api
from fakes.callbacks import SlackCallbacks
from qunyun.adapters.connections import ConnectionStore
from qunyun.adapters.credentials import CachedCredentials
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.services.connections import connect
from qunyun.services.inbound import InboundDeps
from support import http_event

ROUNDS = 41


class NoQueue:
    def send(self, events):
        raise AssertionError("a refused callback queues nothing")


def test_an_unknown_tenant_takes_as_long_as_a_bad_signature(tenant):
    connect(tenant.tenant_id, "slack", {"bot_token": "xoxb-1", "signing_secret": "the-signing-secret"},
            tenants=TenantRepository(), connections=ConnectionStore(), secrets=secret_store(), now=datetime.now(UTC))
    store = ConnectionStore()
    deps = InboundDeps(credentials=CachedCredentials(store, secret_store(), 600), queue=NoQueue(), refusals=store,
                       clock=time.time)
    forged = SlackCallbacks("a-guess").call({"type": "event_callback", "event_id": "E1", "event": {}})

    def answer(tenant_id: str) -> tuple[float, dict]:
        event = http_event(forged.method, forged.path("slack", tenant_id), forged.body, forged.headers)
        event["pathParameters"] = {"platform": "slack", "tenant": tenant_id}
        start = time.perf_counter()
        answered = inbound_api.process(event, None, deps)
        return time.perf_counter() - start, answered

    unknown_id = tenant.tenant_id + "-nobody"
    for _ in range(3):  # both connections cached, both code paths warm
        answer(tenant.tenant_id), answer(unknown_id)
    bad, unknown, answers = [], [], {}
    for i in range(ROUNDS):  # in turns, each first half the time
        pair = [(bad, tenant.tenant_id), (unknown, unknown_id)]
        for times, tenant_id in pair if i % 2 else pair[::-1]:
            took, answers[tenant_id] = answer(tenant_id)
            times.append(took)
    # THEN the two answers differ by status alone, and their medians by less than a factor of 3 (skipping the
    # refusal's write for the unknown tenant made its median about a thirtieth of the other's)
    assert (answers[tenant.tenant_id]["statusCode"], answers[unknown_id]["statusCode"]) == (401, 404)
    assert answers[tenant.tenant_id]["body"] == answers[unknown_id]["body"]
    ratio = statistics.median(unknown) / statistics.median(bad)
    assert 1 / 3 < ratio < 3, (ratio, sorted(bad), sorted(unknown))
    assert ConnectionStore().get(tenant.tenant_id, "slack").refusals == {"signature_invalid": 3 + ROUNDS}
