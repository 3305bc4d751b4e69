"""POST /v1/points/events and the member, entries and leaderboard routes, through the real handler.

Bad input of every kind answers 4xx with a code and writes nothing; tenants never see each other.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import points_api
import pytest
from qunyun.adapters.points_keys import stored_key
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.events import PointsEvent
from qunyun.services.points import reads_of
from stream_support import deliver_streams
from support import STACK, DynamoCalls, signed_event


def call(tenant, method: str, path: str, body=None, context=None, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    resp = points_api.lambda_handler(signed_event(tenant.tenant_id, tenant.secret, method, path, data), context)
    return resp["statusCode"], json.loads(resp["body"])


def now() -> datetime:
    return datetime.now(UTC)


def checkin(event_id: str, member: str = "u1", at: datetime | None = None, **extra) -> dict:
    return {"event_id": event_id, "type": "checkin", "member_id": member, "occurred_at": (at or now()).isoformat(),
            **extra}


def points_items(ddb, tenant_id: str) -> int:
    """Every item of the tenant in the points table (members, entries, lots, guards, events, orders)."""
    total, start = 0, None
    while True:
        kw = {"ExclusiveStartKey": start} if start else {}
        page = ddb.scan(TableName=f"{STACK}-points", Select="ALL_ATTRIBUTES", **kw)
        total += sum(1 for i in page["Items"] if i["pk"]["S"].startswith(tenant_id + "#"))
        start = page.get("LastEvaluatedKey")
        if not start:
            return total


def test_checkin_grants_once_and_replays(tenant, context):
    at = now()
    status, first = call(tenant, "POST", "/v1/points/events", checkin("e1", at=at, nickname="小明"), context)
    assert (status, first["status"], first["granted"], first["balance"]["available"]) == (200, "applied", 5, 5)
    status, again = call(tenant, "POST", "/v1/points/events", checkin("e1", at=at, nickname="小明"), context)
    assert (status, again["status"], again["granted"]) == (200, "duplicate", 5)
    status, other = call(tenant, "POST", "/v1/points/events", checkin("e2"), context)
    assert (status, other["granted"], other["reason"]) == (200, 0, "already_checked_in")


def test_same_event_id_with_other_content_is_409(tenant, context):
    at = now()
    call(tenant, "POST", "/v1/points/events", checkin("e1", at=at), context)
    status, body = call(tenant, "POST", "/v1/points/events", checkin("e1", member="u2", at=at), context)
    assert (status, body["error"]["code"]) == (409, "idempotency_conflict")


@pytest.mark.parametrize(
    "event, field",
    [
        ({"type": "checkin", "member_id": "u1", "occurred_at": "2026-11-24T09:30:00+08:00"}, "event_id"),
        ({"event_id": "x", "type": "teleport", "member_id": "u1", "occurred_at": "2026-11-24T09:30:00+08:00"}, "type"),
        ({"event_id": "x", "type": "checkin", "member_id": "u 1", "occurred_at": "2026-11-24T09:30:00+08:00"},
         "member_id"),
        ({"event_id": "x", "type": "checkin", "member_id": "u1", "occurred_at": "yesterday"}, "occurred_at"),
        ({"event_id": "x", "type": "checkin", "member_id": "u1", "occurred_at": "2026-11-24T09:30:00"}, "body"),
        ({"event_id": "x", "type": "purchase", "member_id": "u1", "occurred_at": "2026-11-24T09:30:00+08:00",
          "order_id": "o1", "amount_fen": "12900"}, "amount_fen"),
        ({"event_id": "x", "type": "purchase", "member_id": "u1", "occurred_at": "2026-11-24T09:30:00+08:00",
          "order_id": "o1", "amount_fen": -5}, "amount_fen"),
        ({"event_id": "x", "type": "purchase", "member_id": "u1", "occurred_at": "2026-11-24T09:30:00+08:00",
          "amount_fen": 100}, "body"),
        ({"event_id": "x", "type": "quiz_answer", "member_id": "u1", "occurred_at": "2026-11-24T09:30:00+08:00",
          "quiz_id": "q", "question_id": "1", "correct": "yes"}, "correct"),
        ({"event_id": "x", "type": "checkin", "member_id": "u1", "occurred_at": "2026-11-24T09:30:00+08:00",
          "colour": "red"}, "colour"),
        ({"event_id": "x", "type": "invite", "member_id": "u1", "occurred_at": "2026-11-24T09:30:00+08:00",
          "invitee_id": "u1"}, "body"),
        ({"events": []}, "events"),
        ({"events": [{"event_id": f"e{i}", "type": "checkin", "member_id": "u1",
                      "occurred_at": "2026-11-24T09:30:00+08:00"} for i in range(101)]}, "events"),
    ],
    ids=["no-event-id", "unknown-type", "bad-member-id", "bad-time", "naive-time", "amount-as-string",
         "negative-amount", "purchase-without-order", "correct-not-bool", "unknown-field", "self-invite",
         "empty-batch", "batch-of-101"],
)
def test_malformed_events_answer_400_naming_the_field_and_write_nothing(tenant, context, ddb, event, field):
    status, body = call(tenant, "POST", "/v1/points/events", event, context)
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert body["error"]["field"].split(".")[0] == field or (field == "body" and body["error"]["field"])
    assert points_items(ddb, tenant.tenant_id) == 0


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'"checkin"', b"", "\xff".encode("latin-1")],
                         ids=["broken", "array", "string", "empty", "not-utf8"])
def test_bodies_that_are_not_an_event_object(tenant, context, ddb, raw):
    status, body = call(tenant, "POST", "/v1/points/events", context=context, raw=raw)
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert points_items(ddb, tenant.tenant_id) == 0


def test_a_70_kb_body_answers_413_and_writes_nothing(tenant, context, ddb):
    event = checkin("big", nickname="x")
    raw = json.dumps({**event, "padding": "x" * 70_000}).encode()
    status, body = call(tenant, "POST", "/v1/points/events", context=context, raw=raw)
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    assert points_items(ddb, tenant.tenant_id) == 0


def test_time_window_of_events(tenant, context, ddb):
    stale = checkin("old", at=now() - timedelta(days=7, minutes=1))
    status, body = call(tenant, "POST", "/v1/points/events", stale, context)
    assert (status, body["error"]["code"]) == (422, "stale_event")
    future = checkin("soon", at=now() + timedelta(minutes=6))
    status, body = call(tenant, "POST", "/v1/points/events", future, context)
    assert (status, body["error"]["code"], body["error"]["field"]) == (400, "invalid_request", "occurred_at")
    assert points_items(ddb, tenant.tenant_id) == 0
    ok = checkin("ok", at=now() - timedelta(days=6, hours=23))
    assert call(tenant, "POST", "/v1/points/events", ok, context)[0] == 200


def test_batch_applies_each_event_and_reports_each_failure(tenant, context):
    at = now()
    batch = {"events": [
        checkin("b1", member="u1", at=at),
        checkin("b2", member="u2", at=at),
        {"event_id": "b3", "type": "purchase_refund", "member_id": "u1", "order_id": "nope", "refund_id": "r",
         "amount_fen": 100, "occurred_at": at.isoformat()},
    ]}
    status, body = call(tenant, "POST", "/v1/points/events", batch, context)
    assert status == 200
    assert [r["status"] for r in body["results"]] == ["applied", "applied", "rejected"]
    assert body["results"][2]["error"]["code"] == "unknown_order"


def test_member_entries_and_leaderboard(tenant, context):
    at = now()
    call(tenant, "POST", "/v1/points/events", checkin("c1", member="u1", at=at, group_id="g1", nickname="A"), context)
    call(tenant, "POST", "/v1/points/events", checkin("c2", member="u2", at=at, group_id="g2"), context)
    call(tenant, "POST", "/v1/points/events", {"event_id": "q1", "type": "quiz_answer", "member_id": "u2",
                                               "quiz_id": "night", "question_id": "1", "correct": True,
                                               "occurred_at": at.isoformat(), "group_id": "g2"}, context)
    status, member = call(tenant, "GET", "/v1/members/u2", context=context)
    assert status == 200 and member["balance"]["available"] == 15 and member["streak"]["days"] == 1
    assert set(member["balance"]) == {"available", "pending", "spent", "expired", "cancelled", "written_off", "debt"}
    status, page = call(tenant, "GET", "/v1/members/u2/entries?limit=1", context=context)
    assert status == 200 and len(page["entries"]) == 1 and page["next_cursor"]
    status, rest = call(tenant, "GET", f"/v1/members/u2/entries?limit=5&cursor={page['next_cursor']}",
                        context=context)
    assert status == 200 and len(rest["entries"]) == 1 and rest["next_cursor"] is None
    assert {page["entries"][0]["entry_id"], rest["entries"][0]["entry_id"]} == {"c2", "q1"}
    day = at.astimezone(ZoneInfo(tenant.timezone)).date().isoformat()  # the tenant's day, whatever the machine's
    deliver_streams()  # the day's pages, as PageEarnings writes them a batching window later
    status, board = call(tenant, "GET", f"/v1/leaderboards?scope=tenant&period=day&date={day}", context=context)
    assert status == 200
    assert [(e["rank"], e["member_id"], e["points"]) for e in board["entries"]] == [(1, "u2", 15), (2, "u1", 5)]
    status, board = call(tenant, "GET", f"/v1/leaderboards?scope=group:g1&period=week&date={day}", context=context)
    assert [(e["member_id"], e["points"]) for e in board["entries"]] == [("u1", 5)]


@pytest.mark.parametrize("path, code, status", [
    ("/v1/members/ghost", "unknown_member", 404),
    ("/v1/members/ghost/entries", "unknown_member", 404),
    ("/v1/members/u1/entries?limit=0", "invalid_request", 400),
    ("/v1/members/u1/entries?limit=abc", "invalid_request", 400),
    ("/v1/members/u1/entries?cursor=bm90LWEtY3Vyc29y", "invalid_request", 400),
    ("/v1/leaderboards?period=year", "invalid_request", 400),
    ("/v1/leaderboards?scope=planet", "invalid_request", 400),
    ("/v1/leaderboards?date=2026-13-01", "invalid_request", 400),
    ("/v1/leaderboards?limit=501", "invalid_request", 400),
])
def test_query_errors(tenant, context, path, code, status):
    call(tenant, "POST", "/v1/points/events", checkin("seed"), context)
    got, body = call(tenant, "GET", path, context=context)
    assert (got, body["error"]["code"]) == (status, code)


def test_tenants_never_see_each_others_members(make_tenant, context):
    a, b = make_tenant(), make_tenant()
    call(a, "POST", "/v1/points/events", checkin("x1", member="shared-id"), context)
    status, body = call(b, "GET", "/v1/members/shared-id", context=context)
    assert (status, body["error"]["code"]) == (404, "unknown_member")
    # the same event id in tenant B is a new event there, not a replay of A's
    status, body = call(b, "POST", "/v1/points/events", checkin("x1", member="shared-id"), context)
    assert (status, body["status"], body["balance"]["available"]) == (200, "applied", 5)
    deliver_streams()
    status, board = call(b, "GET", "/v1/leaderboards", context=context)
    assert [e["member_id"] for e in board["entries"]] == ["shared-id"]
    status, a_view = call(a, "GET", "/v1/members/shared-id", context=context)
    assert a_view["balance"]["available"] == 5


def test_a_cursor_from_another_member_is_refused(tenant, context):
    for i in range(3):
        call(tenant, "POST", "/v1/points/events", {"event_id": f"q{i}", "type": "quiz_answer", "member_id": "u1",
                                                   "quiz_id": "z", "question_id": str(i), "correct": True,
                                                   "occurred_at": now().isoformat()}, context)
    call(tenant, "POST", "/v1/points/events", checkin("k", member="u2"), context)
    _, page = call(tenant, "GET", "/v1/members/u1/entries?limit=1", context=context)
    status, body = call(tenant, "GET", f"/v1/members/u2/entries?cursor={page['next_cursor']}", context=context)
    assert (status, body["error"]["code"]) == (400, "invalid_request")


def test_a_batch_reads_ahead_and_answers_as_the_same_events_sent_one_by_one(make_tenant, context):
    # GIVEN 60 members checking in, and events of three members that build on each other: u1 buys and then
    # refunds a third and checks in twice; u2 buys, checks in and invites u3, who checks in
    at = now()
    iso = at.isoformat()
    dependent = [
        {"event_id": "p1", "type": "purchase", "member_id": "u1", "order_id": "o1", "amount_fen": 9900,
         "occurred_at": iso},
        {"event_id": "r1", "type": "purchase_refund", "member_id": "u1", "order_id": "o1", "refund_id": "r1",
         "amount_fen": 3300, "occurred_at": iso},
        checkin("c1", member="u1", at=at), checkin("c1-again", member="u1", at=at),
        {"event_id": "p2", "type": "purchase", "member_id": "u2", "order_id": "o2", "amount_fen": 5000,
         "occurred_at": iso},
        checkin("c2", member="u2", at=at),
        {"event_id": "i2", "type": "invite", "member_id": "u2", "invitee_id": "u3", "occurred_at": iso},
        checkin("c3", member="u3", at=at),
    ]
    events = [checkin(f"m{i}", member=f"m{i}", at=at) for i in range(60)] + dependent
    batched, alone = make_tenant(), make_tenant()
    # WHEN one tenant sends them as one batch and the other one by one
    clients = [points_api.default_deps().ledger._connection.client]
    with DynamoCalls(clients) as seen:
        status, body = call(batched, "POST", "/v1/points/events", {"events": events}, context)
    one_by_one = [call(alone, "POST", "/v1/points/events", e, context)[1] for e in events]
    # THEN every answer is the same: the refund saw the purchase, the second check-in the first, the invite
    # made u3's check-in its own member
    assert status == 200
    assert body["results"] == one_by_one
    assert [r["status"] for r in body["results"]][-8:] == ["applied"] * 8
    assert body["results"][61]["reversed"] == 33 and body["results"][63]["reason"] == "already_checked_in"
    # AND the batch read everything in BatchGetItems of 100 keys, plus one of its own for each of the six
    # events whose items an earlier event of the batch had read (they may have changed)
    tenant = TenantRepository().get(batched.tenant_id)
    # (the items, not the reads: a member's check-in mark and day caps are read with its member item)
    keys = {stored_key(r) for e in events for r in reads_of(tenant, PointsEvent.model_validate(e))}
    assert seen.calls["BatchGetItem:points"] == math.ceil(len(keys) / 100) + 6, (seen.calls, len(keys))
