"""The points mall: rewards, redemptions that never lose or double-spend a point, and cancellations.

A redemption commits all or nothing: the order keyed by the caller's request id, the member's debit
(soonest-expiring lots first, conditioned on the member's version), the stock decrement (stock >= qty
on each shard touched), the per-member limit count and the ledger entry (written as single writes around
one claim of the order and the stock, adapters/points_stage.py). A business failure is recorded under the
request id and replayed; the same request id with other parameters is a conflict.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime

from qunyun.domain.errors import Conflict, NotFound, QunyunError
from qunyun.domain.ledger import (
    Contention,
    Entry,
    Guard,
    LotId,
    LotState,
    LotWrite,
    MemberChange,
    MemberState,
    Plan,
    Read,
    RecordWrite,
    StockMove,
    balance_view,
    entry_id,
    spend_entry,
    take_available,
)
from qunyun.domain.mall import (
    LIMIT_PERIODS,
    CancelRequest,
    Redemption,
    RedemptionRequest,
    Reward,
    RewardTerms,
    limit_window,
    order_id,
    shard_count,
    split_stock,
)
from qunyun.domain.points import NEVER, is_expired, live_expiries, program_day
from qunyun.domain.tenants import Tenant
from qunyun.services.ledger_ports import MallUnitOfWork as Ledger


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict
    replayed: bool = False


class Refused(Exception):
    """A business failure of a redemption (422), recorded under its request id."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def add_rewards(tenant: Tenant, rewards: list[Reward], *, ledger: Ledger, now: datetime) -> list[str]:
    """Creates new rewards with their stock (sharded above the tenant's threshold); for existing ones
    updates the terms and leaves the stock to `restock`. Returns a line per reward saying what changed."""
    said = []
    for r in rewards:
        if ledger.reward(tenant.tenant_id, r.id) is None:
            shards = shard_count(r.stock, tenant.policy.stock_shard_threshold)
            ledger.add_reward(tenant.tenant_id, RewardTerms.of(r, shards), split_stock(r.stock, shards), now)
            said.append(f"{r.id}: added, stock {r.stock} in {shards} shard(s)")
        else:
            ledger.update_terms(tenant.tenant_id, RewardTerms.of(r))
            said.append(f"{r.id}: terms updated; stock unchanged (use `rewards restock`)")
    return said


def restock(tenant: Tenant, reward_id: str, units: int, *, ledger: Ledger) -> int:
    """Adds (or, negative, removes) units spread evenly over the shards; returns the stock after."""
    terms = ledger.reward(tenant.tenant_id, reward_id)
    if terms is None:
        raise NotFound(f"There is no reward {reward_id!r}.", code="unknown_reward")
    stock = ledger.stock(tenant.tenant_id, reward_id, terms.shards)
    if units < 0 and -units > sum(stock.values()):
        raise QunyunError(f"Only {sum(stock.values())} units are left; cannot remove {-units}.",
                          code="out_of_stock", status=422)
    changes: dict[str, int] = {}
    if units >= 0:
        for shard, part in zip(stock, split_stock(units, len(stock)), strict=True):
            changes[shard] = part
    else:
        left = -units
        for shard, have in sorted(stock.items(), key=lambda kv: -kv[1]):
            take = min(have, left)
            if take:
                changes[shard] = -take
                left -= take
    ledger.restock(tenant.tenant_id, reward_id, {k: v for k, v in changes.items() if v})
    return sum(stock.values()) + units


def list_rewards(tenant: Tenant, *, ledger: Ledger, now: datetime) -> list[dict]:
    return [{"reward_id": r.id, "name": r.name, "cost": r.cost,
             "stock": sum(ledger.stock(tenant.tenant_id, r.id, r.shards).values()), "shards": r.shards,
             "limit_per_member": r.limit_per_member, "limit_period": r.limit_period, "active": r.active(now),
             "active_from": r.active_from, "active_until": r.active_until} for r in ledger.rewards(tenant.tenant_id)]


def _same_request(order: Redemption, req: RedemptionRequest) -> bool:
    return order.same_request(req.member_id, req.reward_id, req.quantity)


def _limit(reward_id: str, period: str, now: datetime, timezone: str) -> Guard:
    return Guard.limit(reward_id, limit_window(period, now, timezone))


def _check(tenant: Tenant, req: RedemptionRequest, terms: RewardTerms, change: MemberChange, ledger: Ledger,
           now: datetime) -> Guard | None:
    """Refuses what the member may not redeem now; counts the redemption against its limit, if any."""
    member = change.member
    if not member.exists:
        raise Refused("unknown_member", f"There is no member {req.member_id!r}.")
    if member.status == "blocked":
        raise Refused("member_blocked", "This member is blocked and cannot redeem.")
    if member.balance["debt"] > 0:
        raise Refused("member_in_debt", f"This member owes {member.balance['debt']} points and cannot redeem.")
    if not terms.active(now):
        raise Refused("reward_unavailable", f"Reward {req.reward_id!r} cannot be redeemed at this time.")
    if not terms.limit_per_member:
        return None
    limit = _limit(req.reward_id, terms.limit_period, now, tenant.timezone)
    used = ledger.guard(tenant.tenant_id, req.member_id, limit) or 0
    if used + req.quantity > terms.limit_per_member:
        raise Refused("limit_exceeded", f"This member may redeem {terms.limit_per_member} of this reward per "
                                        f"{terms.limit_period}; {used} already redeemed.")
    change.cap = (limit, used, used + req.quantity)
    return limit


def _shards(stock: dict[int, int], quantity: int) -> dict[int, int]:
    """Which shards the units come from, in random order to spread concurrent buyers over the shards."""
    shards, left = {}, quantity
    for shard in random.sample(list(stock), len(stock)):
        take = min(stock[shard], left)
        if take:
            shards[shard] = take
            left -= take
        if not left:
            break
    return shards


def _plan(tenant: Tenant, req: RedemptionRequest, terms: RewardTerms, ledger: Ledger, now: datetime,
          oid: str, expiries: list[str] | None) -> tuple[Plan, dict]:
    member = ledger.member(tenant.tenant_id, req.member_id)
    change = MemberChange(member)
    limit = _check(tenant, req, terms, change, ledger, now)
    cost = terms.cost * req.quantity
    lots = _lots(tenant, member, ledger, expiries)
    spendable = sum(lot.remaining for lot in lots if lot.state == "available" and not is_expired(lot.expires_at, now))
    if spendable < cost:
        raise Refused("insufficient_points", f"This reward costs {cost} points; the member has {spendable}.")
    stock = ledger.stock(tenant.tenant_id, req.reward_id, terms.shards)
    if sum(stock.values()) < req.quantity:
        raise Refused("out_of_stock", f"Reward {req.reward_id!r} is out of stock.")
    shards = _shards(stock, req.quantity)
    taken = take_available(change, lots, cost, now)
    change.add("spent", cost)
    change.entries.append(spend_entry(oid, cost, taken, str(program_day(now, tenant.timezone))))
    body = {"order_id": oid, "request_id": req.request_id, "status": "placed", "points_spent": cost,
            "balance": balance_view(member.after(change.deltas))}
    order = Redemption(oid, req.request_id, req.member_id, req.reward_id, req.quantity, "placed", 201, body, now,
                       points_spent=cost, lots=taken, shards=shards, limit=limit)
    if terms.fulfilment_url:
        order.fulfilment_url, order.fulfil_state, order.fulfil_events = terms.fulfilment_url, "due", ["placed"]
        order.fulfil_at = now.isoformat()
    plan = Plan(tenant.tenant_id, changes=[change], redemption=RecordWrite.new(order, "order_id"),
                stock=[StockMove(req.reward_id, shard, -n) for shard, n in shards.items()])
    return plan, body


def _lots(tenant: Tenant, member: MemberState, ledger: Ledger, expiries: list[str] | None) -> list[LotState]:
    """The member's lots to spend from. Those its tenant's expiry rule can name (`expiries`, `live_expiries`) were
    read with the plan's other items; when they hold all of its available points, no other lot holds any. Else
    every lot is queried."""
    if expiries is not None:
        named = [lot for lot in (ledger.lot(tenant.tenant_id, member.member_id, LotId.expiring(x)) for x in expiries)
                 if lot is not None and lot.state == "available"]
        if sum(lot.remaining for lot in named) == member.balance["available"]:
            return named
    return ledger.lots(tenant.tenant_id, member.member_id)


def _replay(order: Redemption) -> Answer:
    return Answer(order.status_code, order.response, replayed=True)


def _planning_reads(tenant: Tenant, req: RedemptionRequest, oid: str, now: datetime,
                    expiries: list[str] | None) -> list[Read]:
    """What a plan may read, guessed before the reward is known so one round trip fetches it all: the order,
    reward and member, the limit counter of every period, the first stock shard and the lots the tenant's expiry
    rule can name (`expiries`)."""
    t, m = tenant.tenant_id, req.member_id
    return [Read("redemption", t, oid), Read("reward", t, req.reward_id), Read.member(t, m),
            *(Read.guard(t, m, _limit(req.reward_id, period, now, tenant.timezone)) for period in LIMIT_PERIODS),
            Read.stock(t, req.reward_id, 0), *(Read.lot(t, m, LotId.expiring(x)) for x in expiries or [])]


def _conflict(req: RedemptionRequest) -> Conflict:
    return Conflict(f"request_id {req.request_id!r} was already used for another redemption.",
                    code="idempotency_conflict", field="request_id")


def redeem(tenant: Tenant, req: RedemptionRequest, *, ledger: Ledger, now: datetime) -> Answer:
    """Places a redemption exactly once per request id; a repeat replays the first answer."""
    oid = order_id(tenant.tenant_id, req.request_id)
    expiries = live_expiries(tenant.rules.expiry, tenant.timezone, now)  # the lots the plan reads with the rest
    reads = _planning_reads(tenant, req, oid, now, expiries)
    for attempt in range(40):
        sure = attempt > 0  # the first plan reads eventually consistently; a refusal it makes is read again
        ledger.prefetch(reads, consistent=sure)
        existing = ledger.redemption(tenant.tenant_id, oid)
        if existing is not None:
            ledger.forget()
            if not _same_request(existing, req):
                raise _conflict(req)
            return _replay(existing)
        try:
            terms = ledger.reward(tenant.tenant_id, req.reward_id)
            if terms is None:
                raise Refused("unknown_reward", f"There is no reward {req.reward_id!r}.")
            plan, body = _plan(tenant, req, terms, ledger, now, oid, expiries)
        except Refused as refused:
            # Forgotten first: a concurrent twin may store its answer meanwhile, and the replay must read it.
            ledger.forget()
            if not sure:
                continue  # refused from a read that may be a moment old (a balance, a stock): read it again
            return _record_failure(tenant, req, oid, refused, ledger, now)
        finally:
            ledger.forget()
        try:
            ledger.commit(plan, now)
            return Answer(201, body)
        except Contention:
            time.sleep(random.uniform(0, 0.004 * (attempt + 1)))  # lost a race: re-read and plan again
    raise QunyunError("Too many concurrent redemptions; retry with the same request_id.", code="contention",
                      status=409)


def _record_failure(tenant: Tenant, req: RedemptionRequest, oid: str, refused: Refused, ledger: Ledger,
                    now: datetime) -> Answer:
    body = {"error": {"code": refused.code, "message": refused.message}, "order_id": oid,
            "request_id": req.request_id}
    failed = Redemption(oid, req.request_id, req.member_id, req.reward_id, req.quantity, "failed", 422, body, now)
    if ledger.save_failed(tenant.tenant_id, failed):
        return Answer(422, body)
    existing = ledger.redemption(tenant.tenant_id, oid)
    if not _same_request(existing, req):
        raise _conflict(req)
    return _replay(existing)


def order_view(order: Redemption) -> dict:
    """A redemption as the API shows it (fulfilment notices aside)."""
    return {"order_id": order.order_id, "request_id": order.request_id, "member_id": order.member_id,
            "reward_id": order.reward_id, "quantity": order.quantity, "status": order.status,
            "points_spent": order.points_spent}


def get_order(tenant: Tenant, oid: str, *, ledger: Ledger) -> dict:
    return order_of(tenant.tenant_id, oid, ledger=ledger)


def order_of(tenant_id: str, oid: str, *, ledger: Ledger) -> dict:
    """One order of the tenant, with the state of its fulfilment notices when its reward has a URL."""
    order = ledger.redemption(tenant_id, oid)
    if order is None:
        raise NotFound(f"There is no order {oid!r}.", code="unknown_order")
    view = {**order_view(order), "created_at": order.created_at.isoformat()}
    if order.status == "failed":
        view["error"] = order.response.get("error")
    if order.fulfilment_url:
        view["fulfilment"] = {"state": order.fulfil_state, "attempts": order.fulfil_attempts,
                              "error": order.fulfil_error}
    return view


def _restore(tenant: Tenant, order: Redemption, ledger: Ledger, now: datetime) -> tuple[MemberChange, int, int]:
    """Gives the order's lots back with their original expiry; lots expired in between are forfeited."""
    t, m = tenant.tenant_id, order.member_id
    ledger.prefetch([Read.member(t, m), *(Read.lot(t, m, lot) for lot in order.lots)])
    change = MemberChange(ledger.member(t, m))
    restored = forfeited = 0
    for lot_id, points in order.lots.items():
        expires = lot_id.name
        lot = ledger.lot(t, m, lot_id)
        # A lot the expiry job already took is forfeited even when this request's clock is a moment
        # earlier; a restored lot goes back on the due index, since the job may have cleared it when
        # the lot was empty.
        if is_expired(expires, now) or (lot is not None and lot.state == "expired"):
            forfeited += points
        else:
            restored += points
            change.lots.append(LotWrite(lot_id, add=points, set={"state": "available", "expires_at": expires},
                                        due=None if expires == NEVER else expires,
                                        expect=(lot.state, lot.remaining) if lot else None))
    ledger.forget()
    return change, restored, forfeited


def _plan_cancel(tenant: Tenant, order: Redemption, req: CancelRequest, ledger: Ledger,
                 now: datetime) -> tuple[Plan, dict]:
    oid = order.order_id
    change, restored, forfeited = _restore(tenant, order, ledger, now)
    change.add("spent", -(restored + forfeited))
    change.add("available", restored)
    change.add("expired", forfeited)
    change.entries.append(Entry(entry_id("cancel", oid), "restore", "redemption", oid, "member", restored,
                                {k: v for k, v in change.deltas.items() if v}, reason=req.reason,
                                lots=dict(order.lots)))
    if order.limit:
        used = ledger.guard(tenant.tenant_id, order.member_id, order.limit) or 0
        change.cap = (order.limit, used, max(used - order.quantity, 0))
    body = {"order_id": oid, "status": "cancelled", "points_restored": restored, "points_forfeited": forfeited}
    fields = {"status": "cancelled", "cancel_request_id": req.request_id, "cancel_response": body}
    if order.fulfilment_url:
        fields.update(fulfil_state="due", fulfil_events=[*order.fulfil_events, "cancelled"], fulfil_attempts=0,
                      fulfil_error=None, fulfil_at=now.isoformat())
    plan = Plan(tenant.tenant_id, changes=[change], redemption=RecordWrite(oid, fields, version=order.version),
                stock=[StockMove(order.reward_id, shard, n) for shard, n in order.shards.items()])
    return plan, body


def cancel(tenant: Tenant, oid: str, req: CancelRequest, *, ledger: Ledger, now: datetime) -> Answer:
    """Cancels a placed order once: the same lots come back with their original expiry (lots expired in
    between are forfeited), and so do the stock and the member's limit. Cancelling again replays."""
    for attempt in range(40):
        order = ledger.redemption(tenant.tenant_id, oid)
        if order is None or order.status == "failed":
            raise NotFound(f"There is no placed order {oid!r}.", code="unknown_order")
        if order.status == "cancelled":
            return Answer(200, order.cancel_response, replayed=True)
        plan, body = _plan_cancel(tenant, order, req, ledger, now)
        try:
            ledger.commit(plan, now)
            return Answer(200, body)
        except Contention:
            time.sleep(random.uniform(0, 0.004 * (attempt + 1)))
    raise QunyunError("Too many concurrent changes; retry the cancellation.", code="contention", status=409)
