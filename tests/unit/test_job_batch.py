"""How a run's pieces are grouped into transactions (services/job_batch.py), against a ledger that records what
it is asked to commit. The integration tests (test_settle_batches.py) run the same against DynamoDB Local."""

from __future__ import annotations

from datetime import UTC, datetime

from qunyun.domain.ledger import Contention, JobRun, MemberChange, MemberState, Plan
from qunyun.services.job_batch import Batches

NOW = datetime(2026, 5, 20, 4, tzinfo=UTC)
RUN = JobRun("SettlePoints", NOW)


class Recording:
    """Commits nothing; records the members of each commit, and refuses the first of several members once."""

    def __init__(self, lose_first_batch: bool = False) -> None:
        self.commits: list[list[str]] = []
        self.lose = lose_first_batch

    def commit(self, plan: Plan, now: datetime) -> None:
        members = [c.member.member_id for c in plan.changes]
        if self.lose and len(members) > 1:
            self.lose = False
            raise Contention(["ConditionalCheckFailed"])
        self.commits.append(members)


def piece(*members: str, tenant: str = "t"):
    """A piece touching these members, planned afresh each time it is called."""
    return lambda: Plan(tenant, changes=[MemberChange(MemberState(tenant, m, exists=True)) for m in members],
                        job=(RUN, {"lots_expired": 1}))


def test_pieces_of_different_members_are_one_commit_per_tenant():
    ledger = Recording()
    batches = Batches(ledger, NOW)
    for work, tenant in ((piece("a"), "t"), (piece("b"), "t"), (piece("c", tenant="u"), "u")):
        batches.do(tenant, work)
    batches.flush()
    assert sorted(ledger.commits) == [["a", "b"], ["c"]]


def test_a_piece_touching_a_waiting_member_goes_after_the_batch_and_so_does_one_touching_it():
    # x waits; e (releasing x's invite for y) touches x, so it goes after; d touches only y, which e touched
    ledger = Recording()
    batches = Batches(ledger, NOW)
    for work in (piece("x"), piece("y", "x"), piece("y"), piece("z")):
        batches.do("t", work)
    batches.flush()
    assert ledger.commits == [["x", "z"], ["y", "x"], ["y"]]


def test_a_full_batch_is_written_before_the_next_piece_joins():
    ledger = Recording()
    batches = Batches(ledger, NOW)
    for i in range(40):
        batches.do("t", piece(*[f"m{i}-{k}" for k in range(3)]))
    batches.flush()
    # a piece of three members counts 3 items: 33 fit beside the run's counters in 100
    assert [len(members) for members in ledger.commits] == [99, 21]


def test_a_batch_that_loses_a_race_is_planned_again_piece_by_piece():
    ledger = Recording(lose_first_batch=True)
    batches = Batches(ledger, NOW)
    for m in ("a", "b", "c"):
        batches.do("t", piece(m))
    batches.flush()
    assert ledger.commits == [["a"], ["b"], ["c"]]
