"""What each ledger change writes: transaction items, their request bytes and the write units AWS bills.

DynamoDB Local reports a transaction's capacity per table, not per item, so units are estimated as AWS bills
them: 2 write units per transaction item per started KB, 1 per started KB for a single write. A put is sized as
AWS sizes the item it writes; an update, whose item is not in its request, by its request (an upper bound).
The budgets below are the layout's item counts (docs/ledger.md): a change that writes more fails here.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from points_support import OnlyTenants
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.events import PointsEvent
from qunyun.domain.mall import CancelRequest, RedemptionRequest, Reward
from qunyun.domain.rules import ExpiryRule, PurchaseRule, Rules
from qunyun.services.adjust import adjust
from qunyun.services.mall import add_rewards, cancel, redeem
from qunyun.services.points import apply_event
from stream_support import reconciled, settle  # the stream delivered first: the pages list what was written

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
_WRITES = ("PutItem", "UpdateItem", "DeleteItem")


def _bytes(request) -> int:
    """A request's size as JSON, a binary value (boto3 holds it as bytes: a member's kept entries) by its length."""
    return len(json.dumps(request, separators=(",", ":"), default=lambda raw: "x" * len(raw)))


def _sized(put: dict | None, request: dict) -> int:
    """A put by its item's size, anything else by its request's."""
    return dynamodb_size(put["Item"]) if put else _bytes(request)


class Units:
    """Counts the writes of one ledger's client: per change, its transaction items and bytes, or single writes."""

    def __init__(self, ledger: PointsLedger) -> None:
        self.client = ledger._connection.client
        self.changes: list[list[int]] = []  # request bytes of each item a change wrote

    def _look(self, params, model, **_) -> None:
        if model.name == "TransactWriteItems":
            self.changes.append([_sized(i.get("Put"), i) for i in params["TransactItems"]])
        elif model.name in _WRITES:
            self.changes.append([-_sized(params if model.name == "PutItem" else None, params)])  # negative: single
        elif model.name == "BatchWriteItem":  # a run's entries put after its transaction: each a single write
            self.changes.append([-dynamodb_size(r["PutRequest"]["Item"]) for requests in params["RequestItems"].values()
                                 for r in requests])

    def __enter__(self) -> Units:
        self.changes = []
        self.client.meta.events.register("provide-client-params.dynamodb", self._look)
        return self

    def __exit__(self, *exc) -> None:
        self.client.meta.events.unregister("provide-client-params.dynamodb", self._look)

    @property
    def items(self) -> int:
        return sum(len(c) for c in self.changes)

    @property
    def write_units(self) -> int:
        return sum(2 * math.ceil(b / 1024) if b > 0 else math.ceil(-b / 1024) for c in self.changes for b in c)


def dynamodb_size(raw: dict) -> int:
    """An item's size as DynamoDB counts it: names and values (numbers taken at their digits, an upper bound)."""
    size = 0
    for name, value in raw.items():
        (kind, v), = value.items()
        size += len(name.encode()) + (1 if kind == "BOOL" else len(v) if kind == "B" else
                                      len(str(v).encode()) + (1 if kind == "N" else 0))
    return size


def shop(make_tenant):
    fx = make_tenant()
    TenantRepository().set_rules(fx.tenant_id, Rules(purchase=PurchaseRule(points_per_yuan=1, return_window_days=2),
                                                     expiry=ExpiryRule(policy="rolling_days", days=60)))
    return TenantRepository().get(fx.tenant_id)


def event(kind: str, member: str, at: datetime, **fields) -> PointsEvent:
    return PointsEvent(event_id=f"ev-{uuid.uuid4().hex[:10]}", type=kind, member_id=member, occurred_at=at,
                       group_id="g-1", **fields)


def measured(ledger: PointsLedger, call) -> tuple[int, int, list]:
    """(items, AWS write units, request bytes of each item) of the writes a call makes."""
    with Units(ledger) as units:
        call()
    return units.items, units.write_units, units.changes


def measure_all(make_tenant) -> dict[str, tuple[int, int, list]]:
    """(items, AWS write units, bytes) of each kind of change, on a tenant of its own."""
    t, ledger, seen = shop(make_tenant), PointsLedger(), {}

    def points(name: str, ev: PointsEvent, now: datetime) -> None:
        seen[name] = measured(ledger, lambda: apply_event(t, ev, ledger=ledger, now=now))

    points("checkin (new member)", event("checkin", "u1", T0 - timedelta(days=1)), T0)
    points("checkin (next day)", event("checkin", "u1", T0), T0)
    points("checkin (already checked in)", event("checkin", "u1", T0), T0)
    points("quiz answer", event("quiz_answer", "u1", T0, quiz_id="q1", question_id="a", correct=True), T0)
    points("purchase", event("purchase", "u1", T0, order_id="o-1", amount_fen=12900), T0)
    points("refund (pending)", event("purchase_refund", "u1", T0, order_id="o-1", refund_id="r-1",
                                     amount_fen=4300), T0)
    points("invite", event("invite", "u1", T0, invitee_id="u9"), T0)
    seen["adjust"] = measured(ledger, lambda: adjust(t, "u1", 500, "grant", ledger=ledger, now=T0))
    add_rewards(t, [Reward(id="mug", name="Mug", cost=10, stock=50),
                    Reward(id="cap", name="Cap", cost=10, stock=50, limit_per_member=3, limit_period="month")],
                ledger=ledger, now=T0)
    answers = {}
    for reward in ("mug", "cap"):
        req = RedemptionRequest(request_id=f"rq-{reward}", member_id="u1", reward_id=reward, quantity=1)
        seen[f"redemption ({reward}{', limited' if reward == 'cap' else ''})"] = measured(
            ledger, lambda req=req: answers.setdefault(req.reward_id, redeem(t, req, ledger=ledger, now=T0)))
    oid = answers["cap"].body["order_id"]
    seen["cancellation (limited)"] = measured(ledger, lambda: cancel(
        t, oid, CancelRequest(request_id="c-1", reason="changed mind"), ledger=ledger, now=T0))
    job = f"units-{uuid.uuid4().hex[:6]}"
    later = T0 + timedelta(days=3)
    seen["settle run (1 purchase)"] = measured(ledger, lambda: settle(
        later, ledger=ledger, tenants=OnlyTenants(t.tenant_id), job_name=job))
    assert reconciled(t.tenant_id) == {"u1": []}
    return seen


# Items of each change in the current layout (docs/ledger.md has the table and the reasons). A check-in's and a
# quiz answer's lot is held in the member item (held_lots.py), and so the grant's, the redemptions' and the
# cancellation's, which credit or spend that lot; a settlement's new lot is held too, and its entry kept in the member
# item (journal.py): member and order. A redemption from a held lot keeps its spend in the member item with its stage
# (kept_spend.py): member, then order and stock shard. The settle run: its start recorded, the settlement's member and
# order, its window's counts, the day's boards marked (a transaction of two) and the run marked done: 7 items, 9 units
# (8 and 10 with the entry an item; 7 and 11 when the member and the counts were one transaction and the start was not
# recorded).
BUDGET = {
    "checkin (new member)": 3, "checkin (next day)": 3, "checkin (already checked in)": 1, "quiz answer": 4,
    "purchase": 4, "settle run (1 purchase)": 7,
    "refund (pending)": 4, "invite": 6, "adjust": 2, "redemption (mug)": 3, "redemption (cap, limited)": 3,
    "cancellation (limited)": 4,
}


def test_each_change_writes_no_more_items_than_its_budget(make_tenant):
    # GIVEN a member who checks in, answers, buys, is refunded, invites, is granted points and redeems
    # WHEN each change is measured
    seen = measure_all(make_tenant)
    print(json.dumps({k: v for k, v in seen.items()}))
    # THEN each wrote exactly its budget of items, and a write unit per started KB of each (two in a transaction)
    assert {k: seen[k][0] for k in BUDGET} == BUDGET
    assert all(units <= 2 * items for items, units, _ in seen.values()), seen


def test_a_member_busy_every_day_stays_under_one_kilobyte(make_tenant):
    from qunyun.adapters import points_keys as keys
    from qunyun.adapters.points_tables import TABLE

    # GIVEN a member who checks in, answers a quiz question and buys every day for two weeks
    t, ledger = shop(make_tenant), PointsLedger()
    for day in range(14):
        at = T0 + timedelta(days=day)
        for ev in (event("checkin", "u1", at), event("quiz_answer", "u1", at, quiz_id=f"q{day}", question_id="a",
                                                      correct=True),
                   event("purchase", "u1", at, order_id=f"o-{day}", amount_fen=12900)):
            apply_event(t, ev, ledger=ledger, now=at)
    # WHEN its member item is read as stored
    pk, sk = keys.member_key(t.tenant_id, "u1")
    raw = ledger._connection.client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                             ConsistentRead=True)["Item"]
    # THEN it holds only the last days' marks and caps, and stays well under the 1 KB that one write unit pays
    # for (room for a nickname and a few limited rewards)
    days = json.loads(raw["held"]["S"])["days"]
    assert len(days) == keys.HELD_DAYS + 1 and max(days) == (T0 + timedelta(days=13)).date().isoformat()
    print("member item:", dynamodb_size(raw), "bytes;", len(raw["held"]["S"]), "of them held guards")
    assert dynamodb_size(raw) < 1024 - 200, raw


@pytest.mark.parametrize("last", ["checkin", "purchase"])
def test_a_change_written_as_single_writes_stores_items_under_one_kilobyte(make_tenant, last):
    from qunyun.adapters import points_keys as keys
    from qunyun.adapters.points_tables import TABLE

    # GIVEN a member busy every day for two weeks (quiz answer, then check-in and purchase), whose last change is
    # a check-in or a purchase: its member item keeps that change's stage (points_stage)
    t, ledger = shop(make_tenant), PointsLedger()
    for day in range(14):
        at = T0 + timedelta(days=day)
        changes = {"purchase": event("purchase", "u1", at, order_id=f"o-{day}", amount_fen=12900),
                   "checkin": event("checkin", "u1", at)}
        for ev in (event("quiz_answer", "u1", at, quiz_id=f"q{day}", question_id="a", correct=True),
                   *(changes[k] for k in sorted(changes, key=lambda k: k == last))):
            apply_event(t, ev, ledger=ledger, now=at)
    # WHEN the items the last change wrote are read as stored
    client = ledger._connection.client
    pk, sk = keys.member_key(t.tenant_id, "u1")

    def stored(key) -> dict:
        return client.get_item(TableName=TABLE, Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}},
                               ConsistentRead=True)["Item"]

    member = stored((pk, sk))
    staged = json.loads(member["staged"]["S"])
    claim = stored(keys.record_key("event", t.tenant_id, staged["ev"]))
    entry = stored((pk, keys.entry_sk(datetime.fromisoformat(staged["at"]), staged["ev"])))
    items = [("member", member), ("claim", claim), ("entry", entry)]
    if last == "purchase":  # its pending lot is held in its order
        items.append(("order", stored(keys.record_key("purchase", t.tenant_id, staged["o"]))))
        assert "lots" not in json.loads(claim["rest"]["S"]) and items[-1][1]["state"]["S"] == "pending"
    else:
        items.append(("lot", stored((pk, json.loads(claim["rest"]["S"])["lots"][0]["sk"]))))
    sizes = {name: dynamodb_size(raw) for name, raw in items}
    print(f"staged {last}, bytes stored:", sizes)
    # THEN each is under the 1 KB that one write unit pays for (the lot and the entry add one unit each for their
    # index entries)
    assert all(size < 1024 for size in sizes.values()), sizes


class IndexUnits:
    """The write units DynamoDB Local reports for each single write of one ledger's client, by table and index."""

    def __init__(self, ledger: PointsLedger) -> None:
        self.client = ledger._connection.client
        self.writes: list[dict[str, float]] = []

    def _ask(self, params, model, **_) -> None:
        if model.name in _WRITES:
            params["ReturnConsumedCapacity"] = "INDEXES"

    def _add(self, parsed, model, **_) -> None:
        if model.name in _WRITES and parsed.get("ConsumedCapacity"):
            c = parsed["ConsumedCapacity"]
            self.writes.append({"table": c["Table"]["CapacityUnits"], **{
                name: units["CapacityUnits"] for name, units in (c.get("GlobalSecondaryIndexes") or {}).items()}})

    def __enter__(self) -> IndexUnits:
        self.client.meta.events.register("provide-client-params.dynamodb", self._ask)
        self.client.meta.events.register("after-call.dynamodb", self._add)
        return self

    def __exit__(self, *exc) -> None:
        self.client.meta.events.unregister("provide-client-params.dynamodb", self._ask)
        self.client.meta.events.unregister("after-call.dynamodb", self._add)

    def by_index(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for write in self.writes:
            for name, units in write.items():
                totals[name] = totals.get(name, 0) + units
        return totals


@pytest.mark.parametrize("policy", ["end_of_next_year", "rolling_days"])
def test_a_check_in_writes_no_index_entry_for_its_lot_or_its_entry(make_tenant, policy):
    # GIVEN a member who checked in yesterday, under the default expiry (both days' points share one lot) or a
    # rolling one (each day's points make a lot of their own, with a due time of its own)
    fx = make_tenant()
    rule = ExpiryRule(policy=policy, days=60) if policy == "rolling_days" else ExpiryRule(policy=policy)
    TenantRepository().set_rules(fx.tenant_id, Rules(expiry=rule))
    t, ledger = TenantRepository().get(fx.tenant_id), PointsLedger()
    apply_event(t, event("checkin", "u1", T0 - timedelta(days=1)), ledger=ledger, now=T0 - timedelta(days=1))
    # WHEN today's check-in is written, each write reporting its units per table and index
    with IndexUnits(ledger) as units:
        answer = apply_event(t, event("checkin", "u1", T0), ledger=ledger, now=T0)
    print(policy, units.writes)
    # THEN it wrote the member (holding the lot), the claim and the entry as single writes, a unit each, and no index
    # entry: PageEarnings lists the entry under its day and a new lot under its due hour, from the stream
    assert answer["status"] == "applied" and answer["granted"] > 0
    assert len(units.writes) == 3 and all(w == {"table": 1} for w in units.writes), units.writes
    assert sum(sum(w.values()) for w in units.writes) == 3
    lots = PointsLedger().lots(t.tenant_id, "u1")
    assert len(lots) == (2 if policy == "rolling_days" else 1)
    assert sum(x.remaining for x in lots) == answer["balance"]["available"]
