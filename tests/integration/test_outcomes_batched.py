"""Outcomes written together on DynamoDB Local: as PartiQL statements, 25 to a BatchExecuteStatement request
(DeliveryClaims.finish_all), and on a sender's outcome pages (DeliveryClaims.finish_on_page): the same records as
`finish` one by one, the same refusals, and the item-size rule the benchmarks bill the statements by (DynamoDB
Local reports no capacity for PartiQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from botocore.exceptions import EndpointConnectionError
from qunyun.adapters.deliveries import (
    PAGE_SK,
    DeliveryRepository,
    day_key,
    outcome_statement,
    page_pk,
    record_field,
)
from qunyun.adapters.deliveries_tables import DayItem, OutcomePageItem
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
    """The record as it reads (its outcome page resolved)."""
    return DeliveryRepository().day(record.tenant_id, record.group_id, record.date).records[record.push_id]


def as_stored(record: Delivery) -> dict:
    """The record as its day item holds it."""
    return DeliveryRepository().day(record.tenant_id, record.group_id, record.date,
                                    as_stored=True).records[record.push_id]


@contextmanager
def refusing(model: type, operation: str) -> Iterator[None]:
    """The connection of `model`'s client failing for `operation` calls only."""
    client = model._get_connection().connection.client

    def refuse(**_):
        raise EndpointConnectionError(endpoint_url="http://dynamodb")

    client.meta.events.register(f"before-call.dynamodb.{operation}", refuse)
    try:
        yield
    finally:
        client.meta.events.unregister(f"before-call.dynamodb.{operation}", refuse)


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
    with refusing(DayItem, "BatchExecuteStatement"):
        # WHEN three outcomes are recorded together
        written = CLAIMS.finish_all([sent(r, n) for n, r in enumerate(records)])
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


# ---- outcome pages ---------------------------------------------------------------------------------------


def varied(record: Delivery, n: int) -> Outcome:
    """Sent with an id, or failed with a reason and an error."""
    return sent(record, n) if n % 3 else Outcome(record, "tok", Status.failed, LATER, reason="channel_broken",
                                                 error="93000: invalid webhook url")


def test_outcomes_on_a_page_read_as_those_written_one_by_one(tenant_id):
    # GIVEN 25 claimed records recorded on a page, one of them an event reminder whose id a statement cannot
    # quote and one holding a message id already, and 25 alike written one by one
    pushes = [Push.reminder('ev"1', "1h") if n == 7 else MORNING for n in range(25)]
    on_page = [planned(tenant_id, f"g{n}", push=p) for n, p in enumerate(pushes)]
    alone = [planned(tenant_id, f"h{n}", push=p) for n, p in enumerate(pushes)]
    for r in (on_page[4], alone[4]):
        DayItem(*day_key(r.tenant_id, r.date, r.group_id)).update(
            actions=[record_field(r.push_id, "message_ids").set(["earlier"])])
    # WHEN they are recorded
    with DynamoCalls(dynamodb_clients()) as seen:
        CLAIMS.finish_on_page([varied(r, n) for n, r in enumerate(on_page)])
    assert [varied(r, n).finish(CLAIMS) for n, r in enumerate(alone)] == [True] * 25
    # THEN the 25 took one put, and each record's day was left as it was: planned and claimed
    assert dict(seen.calls) == {"PutItem:deliveries": 1}, seen.calls
    assert all(as_stored(r)["s"] == "planned" and as_stored(r)["cl"] == "tok" for r in on_page)
    # AND each reads as its twin: outcome, reason, error, ids (added to the one there), times, the claim gone
    for a, b in zip(on_page, alone, strict=True):
        assert stored(a) == stored(b)
        assert "cl" not in stored(a) and "ct" not in stored(a)
    assert stored(on_page[4])["m"] == ["earlier", "msg-4"]
    # AND so do the listings: the tenant's day, and the group's records
    repo = DeliveryRepository()
    listed = {r.group_id: r for r in repo.on_day(tenant_id, DAY)}
    assert [listed[f"g{n}"].model_dump(exclude={"group_id"}) for n in range(25)] \
        == [listed[f"h{n}"].model_dump(exclude={"group_id"}) for n in range(25)]
    assert [r.status for r in repo.of_group(tenant_id, "g1", since=DAY, until=DAY)] == [Status.sent]
    assert repo.days(tenant_id, [("g2", DAY)])[("g2", DAY)].records == repo.day(tenant_id, "h2", DAY).records


def test_a_page_costs_a_put_billed_by_its_size(tenant_id, ddb):
    # GIVEN 25 claimed records
    records = [planned(tenant_id, f"group-{n:04d}") for n in range(25)]
    # WHEN their outcomes go on a page, DynamoDB asked for its capacity
    units: list[float] = []

    def ask(params, **_):
        params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def seen(parsed, **_):
        units.append(parsed["ConsumedCapacity"]["CapacityUnits"])

    client = OutcomePageItem._get_connection().connection.client
    client.meta.events.register("provide-client-params.dynamodb.PutItem", ask)
    client.meta.events.register("after-call.dynamodb.PutItem", seen)
    try:
        CLAIMS.finish_on_page([sent(r, n) for n, r in enumerate(records)])
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.PutItem", ask)
        client.meta.events.unregister("after-call.dynamodb.PutItem", seen)
    # THEN it was one put of a few units: under a fifth of a unit an outcome, where a write on each day costs one
    page = ddb.get_item(TableName=f"{STACK}-deliveries",
                        Key={"pk": {"S": page_pk(tenant_id, "tok")}, "sk": {"S": PAGE_SK}})["Item"]
    assert units == [write_units(page)] and units[0] <= 4, units


def test_a_page_entry_counts_only_while_its_claim_is_the_pages_token(tenant_id):
    # GIVEN records our sender claimed: one then given back, one taken over by another sender, one moved to
    # skipped by another job, one claimed by another sender all along, and one left as it was
    given_back, taken_over, moved, ours = (planned(tenant_id, g) for g in "abce")
    theirs = planned(tenant_id, "d", token="other")
    assert CLAIMS.release(given_back, "tok", NOW, parts_sent=0, error="45009")
    stale = CLAIMS.claim(taken_over, "another", NOW + timedelta(minutes=5))
    assert stale.state == "stale" and CLAIMS.take_over(taken_over, stale, "another", NOW).state == "claimed"
    assert DeliveryRepository().move(moved, Status.skipped, NOW, reason="no_brief") is not None
    before = {r.group_id: stored(r) for r in (given_back, taken_over, moved, theirs)}
    # WHEN our sender records all five sent on its page
    CLAIMS.finish_on_page([sent(r, n) for n, r in enumerate((given_back, taken_over, moved, theirs, ours))])
    # THEN only ours reads sent; the others read as they were
    assert stored(ours)["s"] == "sent"
    assert {r.group_id: stored(r) for r in (given_back, taken_over, moved, theirs)} == before
    assert stored(given_back)["s"] == stored(taken_over)["s"] == "planned" and stored(moved)["s"] == "skipped"


def test_a_claim_on_a_record_whose_outcome_is_on_a_page_finds_it_done(tenant_id):
    # GIVEN a record sent and recorded on its sender's page
    record = planned(tenant_id, "a")
    CLAIMS.finish_on_page([sent(record, 1)])
    # WHEN another sender (a duplicate message) tries to claim it, long after the first sender's lease
    state = CLAIMS.claim(record, "another", NOW + timedelta(hours=1))
    # THEN it is done (never stale: the sender is not taken for one that stopped mid-send), and nothing changed
    assert (state.state, state.status) == ("done", "sent")
    assert as_stored(record)["cl"] == "tok"


def test_moving_a_record_whose_outcome_is_on_a_page_moves_it_from_that_outcome(tenant_id):
    # GIVEN a record recorded sent on a page, and one recorded failed (a transient failure's last receive)
    sent_one, failed_one = planned(tenant_id, "a"), planned(tenant_id, "b")
    CLAIMS.finish_on_page([sent(sent_one, 1), Outcome(failed_one, "tok", Status.failed, LATER,
                                                        reason="retries_exhausted", error="45009")])
    repo = DeliveryRepository()
    # WHEN another job would move the first to skipped, and the second to failed again with an attempt counted
    refused = repo.move(sent_one, Status.skipped, LATER, reason="no_brief")
    moved = repo.move(failed_one, Status.failed, LATER, reason="render_error", error="x", attempt=True)
    # THEN the sent one stays sent (a sent record moves no more), as stored too
    assert refused is None and stored(sent_one)["s"] == "sent" and as_stored(sent_one)["s"] == "planned"
    # AND the failed one moved from its outcome: written whole, its claim ended, one more attempt
    assert moved is not None and (moved.status, moved.reason, moved.attempts) == (Status.failed, "render_error", 2)
    assert as_stored(failed_one) == stored(failed_one) and "cl" not in as_stored(failed_one)


def test_moving_a_claimed_record_without_an_outcome_ends_the_claim(tenant_id):
    # GIVEN a record a sender claimed and never recorded (it stopped mid-send), and a page of its token
    # holding another group's outcome
    record, other = planned(tenant_id, "a"), planned(tenant_id, "b")
    CLAIMS.finish_on_page([sent(other, 1)])
    # WHEN another job moves it to skipped
    moved = DeliveryRepository().move(record, Status.skipped, LATER, reason="group_ended")
    # THEN it is skipped and no longer claimed: the sender's late outcome would not count
    assert moved is not None and (moved.status, moved.reason) == (Status.skipped, "group_ended")
    assert "cl" not in as_stored(record) and "ct" not in as_stored(record)
    CLAIMS.finish_on_page([sent(record, 2)])
    assert stored(record)["s"] == "skipped"


def test_a_page_that_cannot_be_written_leaves_each_outcome_to_the_statements(tenant_id):
    # GIVEN the connection failing for puts only
    records = [planned(tenant_id, f"g{n}") for n in range(3)]
    with refusing(OutcomePageItem, "PutItem"), DynamoCalls(dynamodb_clients()) as seen:
        # WHEN three outcomes are recorded on a page
        CLAIMS.finish_on_page([sent(r, n) for n, r in enumerate(records)])
    # THEN they were written on their days instead, in one request
    assert seen.calls["BatchExecuteStatement:deliveries"] == 1, seen.calls
    assert [as_stored(r)["s"] for r in records] == ["sent"] * 3


def test_pages_of_two_tenants_are_written_apart(tenant_id):
    # GIVEN claimed records of two tenants
    other = f"t-{uuid.uuid4().hex[:8]}"
    mine, theirs = planned(tenant_id, "a"), planned(other, "a")
    # WHEN one sender records both on one page
    CLAIMS.finish_on_page([sent(mine, 1), sent(theirs, 2)])
    # THEN each tenant's page holds its own record only, and each record reads sent
    pages = {t: [i.outcomes.as_dict() for i in OutcomePageItem.query(page_pk(t, "tok"))] for t in (tenant_id, other)}
    entry = f"a#{DAY.isoformat()}#{MORNING.push_id}"
    assert [list(p) for p in pages[tenant_id]] == [list(p) for p in pages[other]] == [[entry]]
    assert pages[tenant_id][0][entry]["m"] == ["msg-1"] and pages[other][0][entry]["m"] == ["msg-2"]
    assert stored(mine)["m"] == ["msg-1"] and stored(theirs)["m"] == ["msg-2"]


def test_a_tokens_page_written_again_keeps_what_it_held(tenant_id):
    # GIVEN a token's page holding one record's outcome (a message whose groups' outcomes straddled two flushes)
    first, second = planned(tenant_id, "a"), planned(tenant_id, "b")
    CLAIMS.finish_on_page([sent(first, 1)])
    # WHEN the token's next outcomes are recorded
    with DynamoCalls(dynamodb_clients()) as seen:
        CLAIMS.finish_on_page([sent(second, 2)])
    # THEN they were added to the page (the put refused, an update), and both records read sent
    assert dict(seen.calls) == {"PutItem:deliveries": 1, "UpdateItem:deliveries": 1}, seen.calls
    assert [len(i.outcomes.as_dict()) for i in OutcomePageItem.query(page_pk(tenant_id, "tok"))] == [2]
    assert stored(first)["m"] == ["msg-1"] and stored(second)["m"] == ["msg-2"]
