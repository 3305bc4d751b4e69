"""SettlePoints stopped part-way and started again ends exactly as one clean run (reference/ledger.md 10, 12, 19).

Crash injection: a PointsLedger whose writes fail after k successful ones, for every k the run has, in two
ways: the k+1-th transaction is refused (the process dies before it), or it is committed and the caller
still sees an exception (the process dies after it, as a Lambda timeout does). The same scheduled run is
then started again with a healthy ledger. Each crash scenario gets its own tenant built from the same
events as a clean tenant; afterwards every member's balance, earned total, lots and entry kinds, and the
run's summary counts, must equal the clean single run's.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from points_support import CountingLedger, OnlyTenants
from qunyun.adapters import points_keys as keys
from qunyun.adapters import standing
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import TABLE
from qunyun.adapters.standing import standing_missing, standing_proof
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.events import PointsEvent
from qunyun.domain.rules import ExpiryRule, PurchaseRule, Rules
from qunyun.services.adjust import adjust, reconcile_member
from qunyun.services.points import apply_event
from stream_support import settle  # the stream delivered first: the due pages list what was written

NOW = datetime(2026, 3, 12, 4, 0, tzinfo=UTC)  # the scheduled time of the run: 12:00 in Shanghai
MEMBERS = ("u0", "u1", "u2", "u3", "u4", "u5", "u6")
RULES = Rules(purchase=PurchaseRule(points_per_yuan=1, return_window_days=2),
              expiry=ExpiryRule(policy="rolling_days", days=2))


class Crash(Exception):
    """The process running the settle job died."""


class CrashingLedger(PointsLedger):
    """Makes `survive` commits (transactions, pieces written alone, windows' counts), then dies on the next: before
    writing it, after writing it, or between its write and the entries its members' standing stages left to put
    (adapters/standing.py)."""

    def __init__(self, survive: int, dies: str):
        super().__init__()
        self.survive, self.dies, self.crashed, self.cut = survive, dies, False, False

    def _dying(self, write):
        if self.survive == 0:
            self.crashed = True
            if self.dies == "after":
                write()
            elif self.dies == "between":
                with mock.patch.object(standing, "write", side_effect=Crash("died before the run's entries")) as left:
                    try:
                        write()
                    finally:
                        self.cut = left.called  # the commit left entries (not a window's counts, which leave none)
            raise Crash(f"died {self.dies} a commit")
        self.survive -= 1
        return write()

    def commit(self, plan, now):
        self._dying(lambda: super(CrashingLedger, self).commit(plan, now))

    def commit_pieces(self, plans, now, window):
        return self._dying(lambda: super(CrashingLedger, self).commit_pieces(plans, now, window))

    def count(self, run, start, window, counters):
        self._dying(lambda: super(CrashingLedger, self).count(run, start, window, counters))


class CrashingCheckpoints(PointsLedger):
    """Lets every transaction through, and dies writing the `nth` checkpoint or board item (after writing it)."""

    def __init__(self, nth: int):
        super().__init__()
        self.nth, self.crashed = nth, False

    def _write_point(self) -> None:
        if self.nth == 0 and not self.crashed:
            self.crashed = True
            raise Crash("died after a checkpoint write")
        self.nth -= 1

    def finish_run(self, run, start):
        super().finish_run(run, start)
        self._write_point()

    def save_board(self, *args, **kwargs):
        super().save_board(*args, **kwargs)
        self._write_point()


def ev(kind: str, member: str, at: datetime, **fields) -> PointsEvent:
    return PointsEvent(event_id=f"{kind}-{member}-{fields.get('order_id', '')}{fields.get('refund_id', '')}"
                                f"{fields.get('invitee_id', '')}{fields.get('question_id', '')}",
                       type=kind, member_id=member, occurred_at=at, **fields)


def build(make_tenant):
    """A tenant holding a little of everything a settle run does, from the same events each time."""
    fx = make_tenant()
    TenantRepository().set_rules(fx.tenant_id, RULES)
    t = TenantRepository().get(fx.tenant_id)
    ledger = PointsLedger()

    def send(kind, member, at, **fields):
        return apply_event(t, ev(kind, member, at, **fields), ledger=ledger, now=at)

    old, due, window = NOW - timedelta(days=6), NOW - timedelta(days=3), NOW - timedelta(days=2)
    # lots that expire before NOW: u2's check-in, u4's quiz; u6 spent all of its lot, u3 spent its and owes 25
    send("checkin", "u2", old)
    send("quiz_answer", "u4", old, quiz_id="q", question_id="1", correct=True)
    send("checkin", "u6", old)
    adjust(t, "u6", -5, "spent", ledger=ledger, now=old + timedelta(hours=1), adjustment_id="adj-u6")
    send("checkin", "u3", old)
    adjust(t, "u3", -30, "correction", ledger=ledger, now=old + timedelta(hours=1), adjustment_id="adj-u3")
    # purchases due at NOW: u1 (invited by u0), u3 (repays its debt first), u4 twice, one partly refunded
    send("invite", "u0", due, invitee_id="u1")
    send("purchase", "u1", due, order_id="o1", amount_fen=12900)
    send("purchase", "u3", due, order_id="o3", amount_fen=5000)
    send("purchase", "u4", due, order_id="o4a", amount_fen=3000)
    send("purchase_refund", "u4", due + timedelta(hours=1), order_id="o4a", refund_id="r4", amount_fen=1000)
    send("purchase", "u4", window - timedelta(hours=1), order_id="o4b", amount_fen=7000)
    # not due yet: u5's purchase still inside its return window
    send("purchase", "u5", NOW - timedelta(days=1), order_id="o5", amount_fen=9900)
    return t


def run(t, ledger: PointsLedger, name: str) -> dict:
    return settle(NOW, ledger=ledger, tenants=OnlyTenants(t.tenant_id), job_name=name)


def state(t) -> dict:
    """Everything a member has after the run: balance, earned, lots by key and state, entry kinds."""
    ledger = PointsLedger()
    out = {}
    for m in MEMBERS:
        member = ledger.member(t.tenant_id, m)
        lots = {lot.id: (lot.state, lot.remaining) for pending in (False, True)
                for lot in ledger.lots(t.tenant_id, m, pending)}
        kinds = Counter(e.kind for e in ledger.all_entries(t.tenant_id, m))
        out[m] = {"balance": dict(member.balance), "earned": member.earned, "lots": lots, "entries": kinds}
        assert reconcile_member(t.tenant_id, m, ledger=ledger) == [], m
    return out


def clean_run(make_tenant):
    """The clean single run: its summary, the state it leaves, and how many transactions it made."""
    t = build(make_tenant)
    counting = CountingLedger()
    summary = run(t, counting, f"clean-{uuid.uuid4().hex[:8]}")
    return summary, state(t), counting.commits


def test_the_clean_run_does_what_the_data_calls_for(make_tenant):
    summary, after, commits = clean_run(make_tenant)
    # THEN four purchases settle (129 + 50 + 20 + 70 points), u0's invite reward is released, and the two
    # lots with points left expire (u2's 5, u4's 10); u3's purchase first repays its 25 points of debt
    assert {k: summary[k] for k in ("settled", "points_released", "invites_released", "lots_expired",
                                    "points_expired")} == {"settled": 4, "points_released": 269,
                                                           "invites_released": 1, "lots_expired": 2,
                                                           "points_expired": 15}
    assert after["u0"]["balance"]["available"] == 50 and after["u0"]["balance"]["pending"] == 0
    assert after["u3"]["balance"]["debt"] == 0 and after["u3"]["balance"]["available"] == 25
    assert after["u5"]["balance"]["pending"] == 99
    # Six pieces: four settles (u1's releasing u0's invite) and two expiries. The lots u3 and u6 spent are listed due
    # as well, and left as they are with nothing written (a due page's line is a hint). u1's settlement, with u0's
    # release, is a transaction; the first pieces of u2, u3 and u4 are each their member's single write, made
    # together; u4's second and third were planned from reads its first changes, so each is planned again and written
    # alone after them; and the run's counts of the five pieces written alone are one write: 5 commits.
    assert commits == 5


def entries_left(t) -> list[str]:
    """The members whose run's standing stage still has what it leaves to write: its entries, or, where the member
    item keeps them (journal.py), its orders' updates (the stage stays, settled, until the member's next write; its
    last entry, or its orders, say whether they were written: standing.standing_proof)."""
    client, left = PointsLedger()._connection.client, []
    for m in MEMBERS:
        pk, sk = keys.member_key(t.tenant_id, m)
        raw = client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)["Item"]
        staged = json.loads(raw.get("staged", {}).get("S", "{}"))
        if staged.get("k") == "t":
            found = [client.get_item(TableName=TABLE, Key={"pk": {"S": k[0]}, "sk": {"S": k[1]}},
                                     ConsistentRead=True).get("Item") for k in standing_proof(pk, staged)]
            if standing_missing(staged, found):
                left.append(m)
    return left


@pytest.mark.parametrize("dies", ["before", "after", "between"],
                         ids=["dies-before-commit", "dies-after-commit", "dies-before-its-entries"])
def test_a_run_stopped_after_any_commit_and_started_again_ends_as_a_clean_run(make_tenant, dies):
    # GIVEN the outcome of a clean single run over the same events
    clean_summary, clean_state, commits = clean_run(make_tenant)
    cuts = []
    for k in range(commits + 1):
        # GIVEN an identical tenant; WHEN the run dies at its k-th commit and the same run is started again
        t = build(make_tenant)
        name = f"crash-{uuid.uuid4().hex[:8]}"
        crashing = CrashingLedger(k, dies)
        try:
            first = run(t, crashing, name)
        except Crash:
            first = None
        assert crashing.crashed == (k < commits), k
        # a run that died between a transaction and its entries left members whose entries are still to put
        assert bool(entries_left(t)) == crashing.cut, k
        cuts.append(crashing.cut)
        again = run(t, PointsLedger(), name)
        # THEN the second start finishes the work (or repeats a finished run), and the end is the clean run's
        summary = first if first is not None else again
        if first is not None:
            assert again == {**first, "repeated": True}
        assert summary == clean_summary, (k, summary, clean_summary)
        assert state(t) == clean_state, k
    # AND dying between a commit and its entries did leave entries to put, at every commit but the counts'
    assert cuts == ([True] * (commits - 1) + [False, False] if dies == "between" else [False] * (commits + 1))


def test_a_run_stopped_at_its_checkpoint_writes_reports_the_clean_summary(make_tenant):
    # GIVEN the outcome of a clean single run
    clean_summary, clean_state, _ = clean_run(make_tenant)
    # WHEN a run dies right after any of its checkpoint or board writes and is started again
    nth, seen = 0, []
    while True:
        t = build(make_tenant)
        name = f"ckpt-{uuid.uuid4().hex[:8]}"
        crashing = CrashingCheckpoints(nth)
        try:
            run(t, crashing, name)
        except Crash:
            pass
        if not crashing.crashed:
            break
        summary = run(t, PointsLedger(), name)
        # THEN the balances are the clean run's, and so is every count of the summary
        assert state(t) == clean_state, nth
        seen.append((nth, {k: v for k, v in summary.items() if k != "repeated"} == clean_summary, summary))
        nth += 1
    wrong = [(n, s) for n, ok, s in seen if not ok]
    assert not wrong, f"clean summary {clean_summary}; after a crash at checkpoint write n: {wrong}"


def test_a_second_run_for_the_same_scheduled_time_changes_nothing(make_tenant):
    # GIVEN a finished run
    t = build(make_tenant)
    name = f"twice-{uuid.uuid4().hex[:8]}"
    first = run(t, PointsLedger(), name)
    before = state(t)
    # WHEN the scheduler delivers the same scheduled time again
    again = run(t, PointsLedger(), name)
    # THEN it answers the stored summary, marked repeated, and writes nothing
    assert again == {**first, "repeated": True}
    assert state(t) == before
    # AND a run an hour later finds nothing left to do
    later = settle(NOW + timedelta(hours=1), ledger=PointsLedger(), tenants=OnlyTenants(t.tenant_id), job_name=name)
    assert {k: later[k] for k in ("settled", "points_released", "invites_released", "lots_expired")} == {
        "settled": 0, "points_released": 0, "invites_released": 0, "lots_expired": 0}
    assert state(t) == before
