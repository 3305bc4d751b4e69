"""Outcomes written together (DeliveryClaims.finish_all: PartiQL statements, 25 to a BatchExecuteStatement
request) on DynamoDB Local: the same records as `finish` one by one, the same refusals, and the item-size rule
the benchmarks bill the statements by (DynamoDB Local reports no capacity for PartiQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from botocore.exceptions import EndpointConnectionError
from qunyun.adapters.deliveries import DeliveryRepository, day_key, outcome_statement, record_field
from qunyun.adapters.deliveries_tables import DayItem
from qunyun.adapters.delivery_claims import DeliveryClaims, Outcome
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.quota import Push
from support import STACK, DynamoCalls, dynamodb_clients, write_units

DAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 0, 0, 5, tzinfo=UTC)
LATER = NOW + timedelta(seconds=3)
MORNING = Push.brief("morning")
CLAIMS = DeliveryClaims(timedelta(minutes=2))


@pytest.fixture
def tenant_id(ddb) -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def planned(tenant_id: str, group_id: str, token: str | None = "tok", push: Push = MORNING) -> Delivery:
    """A planned record of the push on the group's day, claimed with `token` (None: not claimed)."""
    record = Delivery.of(tenant_id, group_id, DAY, push, "wecom_robot", Status.planned, NOW)
    assert DeliveryRepository().add(record)
    if token is not None:
        assert CLAIMS.claim(record, token, NOW).state == "claimed"
    return record


def stored(record: Delivery) -> dict:
    return DeliveryRepository().day(record.tenant_id, record.group_id, record.date).records[record.push_id]


def sent(record: Delivery, n: int) -> Outcome:
    return Outcome(record, "tok", Status.sent, LATER, message_ids=(f"msg-{n}",))


def test_outcomes_written_together_are_those_written_one_by_one(tenant_id):
    # GIVEN 30 claimed records written together (sent, or failed with a reason and an error) and 30 alike
    # written one by one
    together = [planned(tenant_id, f"g{n}") for n in range(30)]
    alone = [planned(tenant_id, f"h{n}") for n in range(30)]

    def outcome(record: Delivery, n: int) -> Outcome:
        return sent(record, n) if n % 3 else Outcome(record, "tok", Status.failed, LATER, reason="channel_broken",
                                                     error="93000: invalid webhook url")

    # WHEN they are recorded
    with DynamoCalls(dynamodb_clients()) as seen:
        written = CLAIMS.finish_all([outcome(r, n) for n, r in enumerate(together)])
    one_by_one = [outcome(r, n).finish(CLAIMS) for n, r in enumerate(alone)]
    # THEN every claim was ours; the 30 took two requests (25 statements each at most) and no other write
    assert written == one_by_one == [True] * 30
    assert dict(seen.calls) == {"BatchExecuteStatement:deliveries": 2}, seen.calls
    # AND each record reads as its twin's: outcome, reason, error, ids, times, and the claim gone
    for a, b in zip(together, alone, strict=True):
        assert stored(a) == stored(b)
        assert "cl" not in stored(a) and "ct" not in stored(a)
    assert DeliveryRepository().get(tenant_id, "g1", DAY, MORNING.push_id).message_ids == ["msg-1"]


def test_an_outcome_whose_claim_is_not_ours_is_refused_and_the_rest_are_written(tenant_id):
    # GIVEN a record claimed by us, one claimed by another sender, one nobody claimed, one recorded already
    # and a push never planned
    ours, theirs, unclaimed, done = (planned(tenant_id, "a"), planned(tenant_id, "b", token="other"),
                                     planned(tenant_id, "c", token=None), planned(tenant_id, "d"))
    assert CLAIMS.finish(done, "tok", Status.sent, NOW, message_ids=["first"])
    never = Delivery.of(tenant_id, "e", DAY, MORNING, "wecom_robot", Status.planned, NOW)
    before = {r.group_id: stored(r) for r in (theirs, unclaimed, done)}
    # WHEN our sender records all five sent
    written = CLAIMS.finish_all([sent(r, n) for n, r in enumerate((ours, theirs, unclaimed, done, never))])
    # THEN only ours is written; the others are as they were, and the push never planned has no record
    assert written == [True, False, False, False, False]
    assert stored(ours)["s"] == "sent"
    assert {r.group_id: stored(r) for r in (theirs, unclaimed, done)} == before
    assert DeliveryRepository().get(tenant_id, "e", DAY, MORNING.push_id) is None


def test_two_pushes_of_one_group_and_day_go_in_separate_requests(tenant_id):
    # GIVEN one group's morning brief and an event reminder, both claimed: one item, two records
    morning = planned(tenant_id, "a")
    reminder = planned(tenant_id, "a", push=Push.reminder("ev-1", "1h"))
    # WHEN both outcomes are recorded together (BatchExecuteStatement refuses one item twice in a request)
    with DynamoCalls(dynamodb_clients()) as seen:
        written = CLAIMS.finish_all([sent(morning, 1), sent(reminder, 2)])
    # THEN both are written, in two requests, with nothing written one by one
    assert written == [True, True]
    assert dict(seen.calls) == {"BatchExecuteStatement:deliveries": 2}, seen.calls
    assert stored(morning)["m"] == ["msg-1"] and stored(reminder)["m"] == ["msg-2"]


def test_a_record_holding_message_ids_already_gets_the_new_ones_added(tenant_id):
    # GIVEN a claimed record that holds a platform message id already (its statement requires none)
    record = planned(tenant_id, "a")
    DayItem(*day_key(record.tenant_id, record.date, record.group_id)).update(
        actions=[record_field(record.push_id, "message_ids").set(["earlier"])])
    # WHEN its outcome is recorded with the batch
    with DynamoCalls(dynamodb_clients()) as seen:
        written = CLAIMS.finish_all([sent(record, 1)])
    # THEN the statement was refused and the single write added the id to the one there
    assert written == [True]
    assert seen.calls["BatchExecuteStatement:deliveries"] == 1 and seen.calls["UpdateItem:deliveries"] == 1
    assert stored(record)["m"] == ["earlier", "msg-1"] and stored(record)["s"] == "sent"


def test_a_push_id_a_statement_cannot_quote_is_written_alone(tenant_id):
    # GIVEN an event reminder whose event id holds a double quote (it would end the quoted name in PartiQL)
    push = Push.reminder('ev"1', "1h")
    record = planned(tenant_id, "a", push=push)
    assert outcome_statement(record, "tok", Status.sent, LATER) is None
    # WHEN its outcome is recorded with another group's
    other = planned(tenant_id, "b")
    with DynamoCalls(dynamodb_clients()) as seen:
        written = CLAIMS.finish_all([sent(record, 1), sent(other, 2)])
    # THEN the other went in a statement and this one in a write of its own
    assert written == [True, True]
    assert dict(seen.calls) == {"BatchExecuteStatement:deliveries": 1, "UpdateItem:deliveries": 1}, seen.calls
    assert stored(record)["s"] == stored(other)["s"] == "sent"


def test_a_request_that_fails_leaves_each_outcome_to_its_own_write(tenant_id):
    # GIVEN the connection failing for BatchExecuteStatement requests only
    records = [planned(tenant_id, f"g{n}") for n in range(3)]
    client = DayItem._get_connection().connection.client

    def refuse(**_):
        raise EndpointConnectionError(endpoint_url="http://dynamodb")

    client.meta.events.register("before-call.dynamodb.BatchExecuteStatement", refuse)
    try:
        # WHEN three outcomes are recorded together
        written = CLAIMS.finish_all([sent(r, n) for n, r in enumerate(records)])
    finally:
        client.meta.events.unregister("before-call.dynamodb.BatchExecuteStatement", refuse)
    # THEN each was written alone
    assert written == [True] * 3
    assert [stored(r)["s"] for r in records] == ["sent"] * 3


@pytest.mark.parametrize("pad", [0, 600, 940, 980, 1000, 1030, 2000, 2060, 3500])
def test_the_item_size_rule_bills_as_dynamodb_local_does(ddb, pad):
    # GIVEN an item of strings, numbers, a string set, a list and nested maps, padded to straddle 1 and 2 KB
    item = {"pk": {"S": f"size-{uuid.uuid4().hex}"}, "sk": {"S": "組-1"}, "spent": {"N": "12"},
            "pushes": {"SS": ["brief.morning", "farewell"]},
            "records": {"M": {"brief.morning": {"M": {"s": {"S": "sent"}, "t": {"N": "1764460805000000"},
                                                      "m": {"L": [{"S": "msg-1"}, {"S": "x" * pad}]}}}}}}
    # WHEN DynamoDB Local bills a put of it
    consumed = ddb.put_item(TableName=f"{STACK}-deliveries", Item=item, ReturnConsumedCapacity="TOTAL")
    # THEN the rule gives the same write units
    assert write_units(item) == consumed["ConsumedCapacity"]["CapacityUnits"]
