"""A plan's first read eventually consistent (adapters/points_reads.py): half the read units, against DynamoDB Local.

DynamoDB Local answers every read with the latest item, so a replica that lags is played here: `MomentOld` answers
the eventually consistent reads of chosen keys with their images taken earlier (None: not written yet), however
often they are read, the worst a replica can lag. Consistent reads are DynamoDB Local's own.

Tried here, through the services and the points API's batch: a check-in planned from a member that moved since is
refused by the member's version and applied once from a consistent read; a repeat of an event whose record the first
read misses answers as a repeat and applies nothing; a refusal made from a moment-old read (an order not found, a
balance too low, a block lifted since) is read again before it is answered, and for a redemption before it is
recorded, while a block that stands refuses with its code and writes nothing; a stage whose claim
the first read misses is not undone (its void is refused by the claim); a settle run that reads a page ahead from a
moment ago writes each piece once, and a piece that finds nothing to do there is read again before its line is let go.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from qunyun.adapters import points_keys as keys
from qunyun.adapters import points_reads, points_stage, stages_done
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import TABLE
from qunyun.domain.errors import QunyunError
from qunyun.domain.events import PointsEvent
from qunyun.domain.mall import RedemptionRequest, Reward
from qunyun.services.adjust import adjust, reconcile_member
from qunyun.services.mall import add_rewards, redeem
from qunyun.services.points import apply_event
from test_points_api import call, checkin
from test_settle_batches import NOW, balance, run, send, shop


class MomentOld:
    """Eventually consistent reads of the captured keys answered as they were at `capture`; every read noted."""

    def __init__(self, monkeypatch) -> None:
        self.images: dict = {}
        self.reads: list[tuple[bool, list]] = []  # (consistent, keys) of each BatchGetItem the plans made
        self._real = points_reads.fetch

        def fetch(connection, wanted, consistent=True):
            found = self._real(connection, wanted, consistent)
            self.reads.append((consistent, list(wanted)))
            if not consistent:
                found.update({key: self.images[key] for key in found if key in self.images})
            return found

        monkeypatch.setattr(points_reads, "fetch", fetch)

    def capture(self, *wanted) -> None:
        self.images.update(self._real(PointsLedger()._connection, list(wanted)))

    def eventual(self) -> int:
        return sum(1 for consistent, _ in self.reads if not consistent)


def exact(t, *members: str) -> None:
    assert all(reconcile_member(t.tenant_id, m, ledger=PointsLedger()) == [] for m in members)


def test_a_checkin_planned_from_a_member_that_moved_since_is_applied_once(make_tenant, monkeypatch):
    # GIVEN a member who checked in yesterday, as a lagging replica still shows it, and then bought something
    t, old = shop(make_tenant), MomentOld(monkeypatch)
    first = send(t, "checkin", "u1", NOW - timedelta(days=1))
    old.capture(keys.member_key(t.tenant_id, "u1"))
    send(t, "purchase", "u1", NOW - timedelta(hours=1), order_id="o1", amount_fen=2000)
    old.reads.clear()
    # WHEN it checks in today, its first read finding the member as it was before the purchase
    answer = send(t, "checkin", "u1", NOW)
    # THEN the stage planned from that read is refused by the member's version, and the check-in is planned again
    # from a consistent read and applied once
    assert answer["status"] == "applied" and old.reads[0][0] is False and any(c for c, _ in old.reads[1:])
    b = balance(t, "u1")
    assert (b["available"], b["pending"]) == (first["granted"] + answer["granted"], 20)
    assert [e.source_type for e in PointsLedger().all_entries(t.tenant_id, "u1")].count("checkin") == 2
    exact(t, "u1")


def test_a_repeat_whose_record_a_first_read_misses_answers_as_a_repeat(make_tenant, monkeypatch):
    # GIVEN an event applied, while a lagging replica shows neither its record nor its member's change
    t, old = shop(make_tenant), MomentOld(monkeypatch)
    send(t, "checkin", "u1", NOW - timedelta(days=1))
    ev = PointsEvent(event_id="ev-once", type="checkin", member_id="u1", occurred_at=NOW)
    old.capture(keys.record_key("event", t.tenant_id, "ev-once"), keys.member_key(t.tenant_id, "u1"))
    applied = apply_event(t, ev, ledger=PointsLedger(), now=NOW)
    # WHEN it is sent again
    again = apply_event(t, ev, ledger=PointsLedger(), now=NOW)
    # THEN it answers as the first time, and nothing more is written
    assert again == {**applied, "status": "duplicate"}
    assert [e.source_type for e in PointsLedger().all_entries(t.tenant_id, "u1")].count("checkin") == 2
    exact(t, "u1")


def test_a_refund_refused_from_a_first_read_is_read_again_and_applied(make_tenant, monkeypatch):
    # GIVEN a purchase that a lagging replica does not show yet
    t, old = shop(make_tenant), MomentOld(monkeypatch)
    old.capture(keys.record_key("purchase", t.tenant_id, "o1"))
    send(t, "purchase", "u1", NOW - timedelta(hours=1), order_id="o1", amount_fen=2000)
    # WHEN its refund's first read finds no order (an `unknown_order` refusal)
    answer = send(t, "purchase_refund", "u1", NOW, order_id="o1", refund_id="r1", amount_fen=500)
    # THEN the refusal is read again consistently, and the refund applies
    assert answer["status"] == "applied" and old.eventual() >= 1
    assert balance(t, "u1")["pending"] == 15
    exact(t, "u1")


def test_a_redemption_refused_from_a_balance_a_moment_old_is_placed_not_recorded_as_failed(make_tenant,
                                                                                          monkeypatch):
    # GIVEN a member granted 500 points, which a lagging replica shows as the 5 it had before
    t, old = shop(make_tenant), MomentOld(monkeypatch)
    add_rewards(t, [Reward(id="mug", name="Mug", cost=100, stock=3)], ledger=PointsLedger(), now=NOW)
    adjust(t, "u1", 5, "grant", ledger=PointsLedger(), now=NOW)
    old.capture(keys.member_key(t.tenant_id, "u1"))
    adjust(t, "u1", 500, "grant", ledger=PointsLedger(), now=NOW)
    # WHEN it redeems the 100-point mug, its first read finding 5 points (`insufficient_points`)
    ask = RedemptionRequest(request_id="rq-1", member_id="u1", reward_id="mug", quantity=1)
    answer = redeem(t, ask, ledger=PointsLedger(), now=NOW)
    # THEN the refusal is read again before it is recorded, and the order is placed once
    assert answer.status == 201 and old.eventual() >= 1
    assert balance(t, "u1")["available"] == 405
    assert redeem(t, ask, ledger=PointsLedger(), now=NOW).status == 201  # a replay of what was placed
    assert PointsLedger().stock(t.tenant_id, "mug", 1)[0] == 2
    exact(t, "u1")


def test_a_settle_run_reading_ahead_from_a_moment_ago_writes_each_piece_once(make_tenant, monkeypatch):
    # GIVEN five purchases due, whose members a lagging replica shows before their check-in of today, and two more
    # due, and a check-in expired, that it does not show at all (its members and orders not written yet)
    t, old = shop(make_tenant), MomentOld(monkeypatch)
    old.capture(*(keys.member_key(t.tenant_id, m) for m in ("n0", "n1", "c0")),
                *(keys.record_key("purchase", t.tenant_id, o) for o in ("on0", "on1")))
    for i in range(5):
        send(t, "purchase", f"m{i}", NOW - timedelta(days=3), order_id=f"o{i}", amount_fen=1000)
    for i in range(2):
        send(t, "purchase", f"n{i}", NOW - timedelta(days=3), order_id=f"on{i}", amount_fen=3000)
    send(t, "checkin", "c0", NOW - timedelta(days=5))
    old.capture(*(keys.member_key(t.tenant_id, f"m{i}") for i in range(5)))
    checkins = [send(t, "checkin", f"m{i}", NOW - timedelta(hours=1))["granted"] for i in range(5)]
    old.reads.clear()
    # WHEN the run reads its page ahead eventually consistently
    summary = run(t, PointsLedger())
    # THEN the moved members' writes are refused and planned again; the pieces that found nothing to do were read
    # again before their lines were let go; each piece is written and counted once
    assert old.reads[0][0] is False
    assert (summary["settled"], summary["points_released"]) == (7, 5 * 10 + 2 * 30)
    assert summary["lots_expired"] == 1 and balance(t, "c0")["available"] == 0
    for i in range(5):
        assert (balance(t, f"m{i}")["pending"], balance(t, f"m{i}")["available"]) == (0, 10 + checkins[i])
    assert all(balance(t, f"n{i}")["available"] == 30 for i in range(2))
    exact(t, *(f"m{i}" for i in range(5)), "n0", "n1", "c0")


def test_a_stage_whose_claim_a_first_read_misses_is_not_undone(make_tenant, monkeypatch):
    # GIVEN yesterday's check-in, whose claim and entry a lagging replica does not show yet, its stage taken as
    # stale at once (a reader that finds no claim for a stale stage voids it)
    t, old = shop(make_tenant), MomentOld(monkeypatch)
    first = PointsEvent(event_id="ev-first", type="checkin", member_id="u1", occurred_at=NOW - timedelta(days=1))
    old.capture(keys.record_key("event", t.tenant_id, "ev-first"))
    applied = apply_event(t, first, ledger=PointsLedger(), now=NOW - timedelta(days=1))
    entry = next(iter(PointsLedger().all_entries(t.tenant_id, "u1")))
    old.capture((keys.member_pk(t.tenant_id, "u1"), keys.entry_sk(entry.created_at, entry.entry_id)))
    monkeypatch.setattr(points_stage, "STALE", timedelta(0))
    monkeypatch.setattr(stages_done, "_DONE", type(stages_done._DONE)())  # another process: its writer's is not
    old.reads.clear()
    # WHEN today's check-in reads the member holding that stage, and what settles it from the lagging replica
    answer = send(t, "checkin", "u1", NOW)
    # THEN the void it tries is refused by the claim that stands, the stage is settled from a consistent read, and
    # both check-ins stand
    assert answer["status"] == "applied" and old.eventual() >= 2
    assert balance(t, "u1")["available"] == applied["granted"] + answer["granted"]
    assert [e.source_type for e in PointsLedger().all_entries(t.tenant_id, "u1")].count("checkin") == 2
    exact(t, "u1")


def test_a_batch_read_ahead_from_a_moment_ago_applies_each_event_once(tenant, context, monkeypatch):
    # GIVEN u1's purchase, which a lagging replica shows in neither its order nor its member
    old, at = MomentOld(monkeypatch), datetime.now(UTC)
    old.capture(keys.member_key(tenant.tenant_id, "u1"), keys.record_key("purchase", tenant.tenant_id, "o1"))
    bought = {"event_id": "p1", "type": "purchase", "member_id": "u1", "order_id": "o1", "amount_fen": 2000,
              "occurred_at": at.isoformat()}
    assert call(tenant, "POST", "/v1/points/events", bought, context)[1]["status"] == "applied"
    old.reads.clear()
    # WHEN a batch checks u1 in and refunds part of o1 through the API, its reads ahead eventually consistent
    refund = {"event_id": "r1", "type": "purchase_refund", "member_id": "u1", "order_id": "o1", "refund_id": "r1",
              "amount_fen": 500, "occurred_at": at.isoformat()}
    status, body = call(tenant, "POST", "/v1/points/events", {"events": [checkin("c1", at=at), refund]}, context)
    # THEN the check-in planned from the member before its purchase is refused and planned again, the refund
    # refused from no order is read again, and each applies once
    assert status == 200 and [r["status"] for r in body["results"]] == ["applied", "applied"]
    assert old.reads[0][0] is False
    kinds = sorted(e.source_type for e in PointsLedger().all_entries(tenant.tenant_id, "u1"))
    assert kinds == ["checkin", "purchase", "purchase_refund"]
    exact(tenant, "u1")


def set_status(t, member: str, status: str) -> None:
    """An operator's block or unblock of a member, written to its item as it stands (its version moves too)."""
    pk, sk = keys.member_key(t.tenant_id, member)
    PointsLedger()._connection.client.update_item(
        TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, UpdateExpression="SET #s = :s ADD #v :one",
        ExpressionAttributeNames={"#s": "status", "#v": "version"},
        ExpressionAttributeValues={":s": {"S": status}, ":one": {"N": "1"}})


def test_a_block_read_a_moment_old_is_read_again_and_a_block_that_stands_refuses(make_tenant, monkeypatch):
    # GIVEN a member blocked and unblocked since, as a lagging replica still shows it blocked
    t, old = shop(make_tenant), MomentOld(monkeypatch)
    send(t, "checkin", "u1", NOW - timedelta(days=2))
    set_status(t, "u1", "blocked")
    old.capture(keys.member_key(t.tenant_id, "u1"))
    set_status(t, "u1", "active")
    # WHEN it checks in, its first read finding it blocked
    answer = send(t, "checkin", "u1", NOW - timedelta(days=1))
    # THEN the block is read again, and the check-in applies
    assert answer["status"] == "applied" and old.eventual() >= 1
    # AND once it is blocked for good, a check-in is refused with its code and writes nothing
    set_status(t, "u1", "blocked")
    before = [e.entry_id for e in PointsLedger().all_entries(t.tenant_id, "u1")]
    with pytest.raises(QunyunError) as refused:
        send(t, "checkin", "u1", NOW)
    assert refused.value.code == "member_blocked"
    assert [e.entry_id for e in PointsLedger().all_entries(t.tenant_id, "u1")] == before
    exact(t, "u1")
