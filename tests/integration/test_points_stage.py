"""A check-in of an existing member as single writes (adapters/points_stage.py), stopped or raced at every step.

What must hold (docs/ledger.md, "The way to the targets"): the member staged, then the claim on the event id,
then the lot and the entry. A writer that dies after any step leaves a ledger that the next reader finishes or
puts back, never half of it; a twin that claims the event id first gets the event, and the stage is undone; a
writer stalled past STALE finds its stage voided and the event applies once on retry; every balance
reconciles with its entries and lots afterwards.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from qunyun.adapters import member_write, points_stage
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.errors import Conflict
from qunyun.domain.events import PointsEvent
from qunyun.domain.rules import ExpiryRule, Rules
from qunyun.services.adjust import reconcile_member
from qunyun.services.points import apply_event
from stream_support import deliver_streams
from test_points_races import send, together

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
DAY2 = T0 + timedelta(days=1)


class Crash(Exception):
    """The process writing the check-in died."""


def shop(make_tenant):
    fx = make_tenant()
    TenantRepository().set_rules(fx.tenant_id, Rules(expiry=ExpiryRule(policy="rolling_days", days=60)))
    return TenantRepository().get(fx.tenant_id)


def checkin(member: str, at: datetime, event_id: str | None = None) -> PointsEvent:
    return PointsEvent(event_id=event_id or f"c-{uuid.uuid4().hex[:10]}", type="checkin", member_id=member,
                       occurred_at=at)


def member_of(t, member_id: str):
    """A member as the services see it: read, and so settled."""
    return PointsLedger().member(t.tenant_id, member_id)


def raw_member(t, member_id: str) -> dict:
    from qunyun.adapters import points_keys as keys
    from qunyun.adapters.points_tables import TABLE
    pk, sk = keys.member_key(t.tenant_id, member_id)
    return PointsLedger()._connection.client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                                      ConsistentRead=True)["Item"]


def a_member(t, member_id: str = "u1") -> dict:
    """A member who checked in yesterday (its first change, staged as well)."""
    return apply_event(t, checkin(member_id, T0), ledger=PointsLedger(), now=T0)


def entries(t, member_id: str) -> list:
    return [e.kind for e in PointsLedger().all_entries(t.tenant_id, member_id)]


def exact(t, member_id: str) -> None:
    assert reconcile_member(t.tenant_id, member_id, ledger=PointsLedger()) == []


def crash_once(monkeypatch, name: str) -> list:
    """Makes points_stage.`name` die on its first call; returns the calls it died in."""
    real, died = getattr(points_stage, name), []

    def dying(*args, **kwargs):
        if not died:
            died.append(name)
            raise Crash(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(points_stage, name, dying)
    return died


def answer_lost_once(monkeypatch, lost_on) -> list:
    """Makes the first write whose item's sort key `lost_on` accepts land but lose its answer, and be retried, as
    botocore retries a call whose connection dropped: the retry is refused by the write's own condition. No reader
    may wait meanwhile. Returns the sort keys it was lost on."""
    real, lost = points_stage.written, []

    def answer_lost(call, **params):
        landed = real(call, **params)
        if landed and not lost and lost_on((params.get("Item") or params["Key"])["sk"]["S"]):
            lost.append((params.get("Item") or params["Key"])["sk"]["S"])
            return real(call, **params)  # the retry, refused
        return landed

    def no_waiting(seconds):
        raise AssertionError("a reader waited on a stage that should have gone on")

    monkeypatch.setattr(points_stage, "written", answer_lost)
    monkeypatch.setattr(member_write, "written", answer_lost)  # the member's stage
    monkeypatch.setattr(points_stage.time, "sleep", no_waiting)
    return lost


def test_a_check_in_of_a_member_is_staged_and_costs_single_writes(make_tenant):
    # GIVEN a member, and today's check-in
    t = shop(make_tenant)
    a_member(t)
    # WHEN it is applied
    answer = apply_event(t, checkin("u1", DAY2, "c-2"), ledger=PointsLedger(), now=DAY2)
    # THEN it was staged (the member item names its token), granted once, and the ledger is exact
    assert answer["status"] == "applied" and answer["granted"] > 0 and answer["streak"] == 2
    assert "stage" in raw_member(t, "u1")
    assert entries(t, "u1") == ["earn", "earn"]
    exact(t, "u1")
    # AND a replay answers the same, as a duplicate
    again = apply_event(t, checkin("u1", DAY2, "c-2"), ledger=PointsLedger(), now=DAY2)
    assert again == {**answer, "status": "duplicate"}


def test_a_writer_that_died_after_the_stage_is_undone_once_stale_and_the_retry_applies_once(make_tenant,
                                                                                             monkeypatch):
    # GIVEN a member, and a writer that dies between staging today's check-in and claiming its event id
    t = shop(make_tenant)
    a_member(t)
    before = member_of(t, "u1")
    died = crash_once(monkeypatch, "_claim")
    with pytest.raises(Crash):
        apply_event(t, checkin("u1", DAY2, "c-2"), ledger=PointsLedger(), now=DAY2)
    assert died and "stage" in raw_member(t, "u1")
    # WHEN the stage is older than STALE and the member is read
    monkeypatch.setattr(points_stage, "STALE", timedelta(0))
    after = member_of(t, "u1")
    # THEN the stage was voided and undone: the balance, the streak and the day's mark are as before
    assert after.balance == before.balance and after.earned == before.earned
    assert (after.streak_days, after.last_checkin, after.held) == (before.streak_days, before.last_checkin,
                                                                    before.held)
    assert after.held_lots == before.held_lots  # the new day's lot, held in the member item, undone with it
    assert "stage" not in raw_member(t, "u1") and entries(t, "u1") == ["earn"]
    # AND the client's retry of the same event applies it, once
    answer = apply_event(t, checkin("u1", DAY2, "c-2"), ledger=PointsLedger(), now=DAY2)
    assert answer["status"] == "applied" and answer["granted"] > 0
    assert entries(t, "u1") == ["earn", "earn"]
    exact(t, "u1")


@pytest.mark.parametrize("dies_in", ["roll_forward", "_put_entries"])
def test_a_writer_that_died_after_the_claim_is_rolled_forward_by_the_replay(make_tenant, monkeypatch, dies_in):
    # GIVEN a member, and a writer that dies after claiming the event id: before writing the lot
    # (roll_forward), or after the lot and before the entry (_put_entries)
    t = shop(make_tenant)
    a_member(t)
    died = crash_once(monkeypatch, dies_in)
    with pytest.raises(Crash):
        apply_event(t, checkin("u1", DAY2, "c-2"), ledger=PointsLedger(), now=DAY2)
    assert died
    # WHEN the client retries the event
    answer = apply_event(t, checkin("u1", DAY2, "c-2"), ledger=PointsLedger(), now=DAY2)
    # THEN it answers as a duplicate of the claimed answer, with the lot and the entry written once
    assert answer["status"] == "duplicate" and answer["granted"] > 0
    assert entries(t, "u1") == ["earn", "earn"]
    lots = PointsLedger().lots(t.tenant_id, "u1")
    assert sum(lot.remaining for lot in lots) == member_of(t, "u1").balance["available"]
    exact(t, "u1")


def test_a_stage_left_unfinished_is_finished_by_the_members_next_change(make_tenant, monkeypatch):
    # GIVEN a check-in whose writer died after the lot, before the entry
    t = shop(make_tenant)
    a_member(t)
    crash_once(monkeypatch, "_put_entries")
    with pytest.raises(Crash):
        apply_event(t, checkin("u1", DAY2, "c-2"), ledger=PointsLedger(), now=DAY2)
    # WHEN the member's next check-in comes, the day after, not a retry of the first
    day3 = DAY2 + timedelta(days=1)
    answer = apply_event(t, checkin("u1", day3, "c-3"), ledger=PointsLedger(), now=day3)
    # THEN the first was finished before the second was planned: three entries, a streak of three, exact lots
    assert answer["status"] == "applied" and answer["streak"] == 3
    assert entries(t, "u1") == ["earn", "earn", "earn"]
    exact(t, "u1")


def test_a_twin_for_another_member_that_claims_first_gets_the_event_and_the_stage_is_undone(make_tenant,
                                                                                              monkeypatch):
    # GIVEN two members, and event id "e-1" sent for u1 and, while u1's stage is written, for u2
    t = shop(make_tenant)
    a_member(t, "u1")
    a_member(t, "u2")
    before = member_of(t, "u1")
    real, twin = points_stage._claim, {}

    def twin_first(connection, claim, token):
        if not twin:
            twin["answer"] = None  # the twin's own claim goes straight through
            twin["answer"] = apply_event(t, checkin("u2", DAY2, "e-1"), ledger=PointsLedger(), now=DAY2)
        return real(connection, claim, token)

    monkeypatch.setattr(points_stage, "_claim", twin_first)
    # WHEN u1's check-in is applied
    with pytest.raises(Conflict) as err:
        apply_event(t, checkin("u1", DAY2, "e-1"), ledger=PointsLedger(), now=DAY2)
    # THEN u2 has the event, u1's stage was undone, and u1 is answered 409 as any other reuse of the id
    assert err.value.code == "idempotency_conflict"
    assert twin["answer"]["status"] == "applied" and entries(t, "u2") == ["earn", "earn"]
    after = member_of(t, "u1")
    assert (after.balance, after.earned, after.held, after.streak_days, after.held_lots) == (
        before.balance, before.earned, before.held, before.streak_days, before.held_lots)
    assert entries(t, "u1") == ["earn"]
    exact(t, "u1")
    exact(t, "u2")


def test_a_stalled_writer_finds_its_stage_voided_and_the_event_applies_once(make_tenant, monkeypatch):
    # GIVEN a member, and a writer stalled between its stage and its claim while a reader finds the stage stale
    t = shop(make_tenant)
    a_member(t)
    real, stalled = points_stage._claim, []

    def stall(connection, claim, token):
        if not stalled and not claim.void:
            stalled.append(token)
            monkeypatch.setattr(points_stage, "STALE", timedelta(0))
            member_of(t, "u1")  # the reader voids the claim for this token and undoes the stage
            monkeypatch.setattr(points_stage, "STALE", timedelta(seconds=5))
        return real(connection, claim, token)

    monkeypatch.setattr(points_stage, "_claim", stall)
    # WHEN the stalled writer goes on
    answer = apply_event(t, checkin("u1", DAY2, "c-2"), ledger=PointsLedger(), now=DAY2)
    # THEN its claim was refused, it planned again, and the check-in applied once under a new token
    assert stalled and answer["status"] == "applied" and answer["granted"] > 0
    assert raw_member(t, "u1")["stage"]["S"] != stalled[0]
    assert entries(t, "u1") == ["earn", "earn"]
    exact(t, "u1")


def test_twenty_check_ins_of_a_member_at_once_grant_exactly_one(make_tenant):
    # GIVEN a member, and 20 check-ins for today at once, each with its own event id
    t = shop(make_tenant)
    a_member(t)
    results = together(*(lambda i=i: send(t, checkin("u1", DAY2, f"c2-{i}"), DAY2) for i in range(20)))
    # THEN one is granted and 19 are answered "already checked in"
    assert Counter(r.get("reason") for r in results) == {None: 1, "already_checked_in": 19}
    assert entries(t, "u1") == ["earn", "earn"]
    exact(t, "u1")


def test_one_check_in_from_twenty_threads_applies_once_with_one_answer(make_tenant):
    # GIVEN a member, and today's check-in sent by 20 retrying clients at once
    t = shop(make_tenant)
    a_member(t)
    # THEN one "applied" and 19 "duplicate", each carrying the first answer, and one entry for it
    applies_once_from_twenty_clients(t, checkin("u1", DAY2, "c-2"))


def applies_once_from_twenty_clients(t, ev: PointsEvent) -> None:
    """Sends one event of u1 from 20 retrying clients at once: one "applied" and 19 "duplicate", each carrying the
    first answer, and one more entry (u1 had one), the ledger exact."""
    results = together(*(lambda: send(t, ev, DAY2) for _ in range(20)))
    assert Counter(r["status"] for r in results) == {"applied": 1, "duplicate": 19}
    first = next(r for r in results if r["status"] == "applied")
    assert all(r == {**first, "status": r["status"]} for r in results)
    assert entries(t, "u1") == ["earn", "earn"]
    exact(t, "u1")


def test_a_late_write_of_a_lot_lands_on_nothing_once_the_lot_has_moved_on(make_tenant, monkeypatch):
    # GIVEN points that never expire (every check-in credits the same lot), and a writer that stalls after its
    # claim while a reader finishes its check-in and the member checks in again the next day
    fx = make_tenant()
    TenantRepository().set_rules(fx.tenant_id, Rules(expiry=ExpiryRule(policy="never")))
    t = TenantRepository().get(fx.tenant_id)
    a_member(t)
    real, stalled = points_stage.roll_forward, []
    day3 = DAY2 + timedelta(days=1)

    def stall(connection, pk, rest, at):
        if not stalled:
            stalled.append(pk)
            apply_event(t, checkin("u1", day3, "c-3"), ledger=PointsLedger(), now=day3)  # settles c-2 first
        return real(connection, pk, rest, at)

    monkeypatch.setattr(points_stage, "roll_forward", stall)
    # WHEN the stalled writer writes its lot, two changes late
    apply_event(t, checkin("u1", DAY2, "c-2"), ledger=PointsLedger(), now=DAY2)
    # THEN the lot keeps all three check-ins: the late write found the lot's version moved and wrote nothing
    assert stalled and entries(t, "u1") == ["earn", "earn", "earn"]
    lots = PointsLedger().lots(t.tenant_id, "u1")
    assert len(lots) == 1 and lots[0].remaining == member_of(t, "u1").balance["available"]
    exact(t, "u1")


def test_nicknames_for_briefs_and_flash_groups_leave_a_stage_as_it_is(make_tenant, monkeypatch):
    from qunyun.adapters.ledger_reads import nicknames

    # GIVEN a member whose check-in's writer died after the stage (SendPushes and ExpireFlashGroups may only read
    # the points table)
    t = shop(make_tenant)
    apply_event(t, PointsEvent(event_id="c-1", type="checkin", member_id="u1", occurred_at=T0, nickname="Ann"),
                ledger=PointsLedger(), now=T0)
    crash_once(monkeypatch, "_claim")
    with pytest.raises(Crash):
        apply_event(t, checkin("u1", DAY2, "c-2"), ledger=PointsLedger(), now=DAY2)
    monkeypatch.setattr(points_stage, "STALE", timedelta(0))
    staged = raw_member(t, "u1")
    # WHEN a brief reads the member's nickname
    names = nicknames(PointsLedger(), t.tenant_id, ["u1"])
    # THEN it gets it, and nothing was written: the stage is still there for a planner to settle
    assert names == {"u1": "Ann"} and raw_member(t, "u1") == staged


def test_a_newcomers_first_check_in_is_staged_and_a_dead_writers_newcomer_is_removed(make_tenant, monkeypatch):
    # GIVEN a tenant, and a newcomer's first check-in
    t = shop(make_tenant)
    # WHEN it is applied
    answer = apply_event(t, checkin("u1", T0, "c-1"), ledger=PointsLedger(), now=T0)
    # THEN it was staged like any other, and the ledger is exact
    assert answer["status"] == "applied" and answer["granted"] > 0 and "stage" in raw_member(t, "u1")
    assert entries(t, "u1") == ["earn"]
    exact(t, "u1")
    # AND a writer that dies after staging another newcomer leaves no member once the stage is stale
    crash_once(monkeypatch, "_claim")
    with pytest.raises(Crash):
        apply_event(t, checkin("u2", T0, "c-2"), ledger=PointsLedger(), now=T0)
    assert "stage" in raw_member(t, "u2")
    monkeypatch.setattr(points_stage, "STALE", timedelta(0))
    assert not member_of(t, "u2").exists and raw_member_or_none(t, "u2") is None
    deliver_streams()  # the member pages list both (u2's item was made), and the list reads that u2 is gone
    assert list(PointsLedger().members(t.tenant_id)) == ["u1"]
    # AND the client's retry makes the member, once
    assert apply_event(t, checkin("u2", T0, "c-2"), ledger=PointsLedger(), now=T0)["status"] == "applied"
    assert entries(t, "u2") == ["earn"]
    exact(t, "u2")


def test_twenty_first_check_ins_of_a_newcomer_at_once_make_one_member(make_tenant):
    # GIVEN a tenant, and a newcomer's first check-in sent 20 times at once, each with its own event id
    t = shop(make_tenant)
    results = together(*(lambda i=i: send(t, checkin("u1", T0, f"c-{i}"), T0) for i in range(20)))
    # THEN one is granted and 19 are answered "already checked in"
    assert Counter(r.get("reason") for r in results) == {None: 1, "already_checked_in": 19}
    assert entries(t, "u1") == ["earn"]
    exact(t, "u1")


def test_an_undo_from_a_stale_read_writes_nothing_and_the_next_reader_undoes_it(make_tenant, monkeypatch):
    from qunyun.adapters import points_keys as keys
    from qunyun.adapters.points_tables import TABLE, MemberItem

    # GIVEN a member whose check-in's writer died after the stage, read by a settler that then stalls, while the
    # member item moves on at another version (as `points migrate` moves it, without settling)
    t = shop(make_tenant)
    a_member(t)
    before = member_of(t, "u1")
    crash_once(monkeypatch, "_claim")
    with pytest.raises(Crash):
        apply_event(t, checkin("u1", DAY2, "c-2"), ledger=PointsLedger(), now=DAY2)
    stale = MemberItem.from_raw_data(raw_member(t, "u1"))
    pk, sk = keys.member_key(t.tenant_id, "u1")
    PointsLedger()._connection.client.update_item(
        TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, UpdateExpression="SET version = version + :one",
        ExpressionAttributeValues={":one": {"N": "1"}})
    # WHEN the stalled settler undoes the stage from what it read
    points_stage.undo(PointsLedger()._connection, stale, stale.stage)
    # THEN it wrote nothing: the member still holds the stage
    assert raw_member(t, "u1")["stage"]["S"] == stale.stage
    # AND the next reader, once the stage is stale, undoes it from the member as it is now
    monkeypatch.setattr(points_stage, "STALE", timedelta(0))
    after = member_of(t, "u1")
    assert (after.balance, after.earned, after.held, after.held_lots) == (before.balance, before.earned, before.held,
                                                                          before.held_lots)
    assert "stage" not in raw_member(t, "u1")
    exact(t, "u1")


def raw_member_or_none(t, member_id: str) -> dict | None:
    from qunyun.adapters import points_keys as keys
    from qunyun.adapters.points_tables import TABLE
    pk, sk = keys.member_key(t.tenant_id, member_id)
    return PointsLedger()._connection.client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                                      ConsistentRead=True).get("Item")
