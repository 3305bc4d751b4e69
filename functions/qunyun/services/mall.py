"""The points mall: rewards, redemptions that never lose or double-spend a point, and cancellations.

A redemption is one transaction: the order item keyed by the caller's request id, the member's debit
(soonest-expiring lots first, conditioned on the member's version), the stock decrement (stock >= qty
on each shard touched), the per-member limit counter and the ledger entry. A business failure is
recorded under the request id and replayed; the same request id with other parameters is a conflict.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime

from qunyun.adapters.points_ledger import (
    Contention,
    PointsLedger,
    mall_order_key,
    member_key,
    member_pk,
    reward_key,
    stock_pk,
)
from qunyun.adapters.points_tables import MallOrderItem, RewardItem
from qunyun.domain.errors import Conflict, NotFound, QunyunError
from qunyun.domain.ledger import Entry, LotWrite, MemberChange, Plan, balance_view, take_available
from qunyun.domain.mall import (
    LIMIT_PERIODS,
    CancelRequest,
    RedemptionRequest,
    Reward,
    limit_window,
    order_id,
    shard_count,
    split_stock,
)
from qunyun.domain.points import NEVER, is_expired
from qunyun.domain.tenants import Tenant

FULFIL_SHARDS = 4


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


def _reward_of(item: RewardItem) -> Reward:
    return Reward(id=item.sk, name=item.name, cost=int(item.cost), stock=0,
                  limit_per_member=int(item.limit_per_member) if item.limit_per_member else None,
                  limit_period=item.limit_period, active_from=item.active_from, active_until=item.active_until,
                  fulfilment_url=item.fulfilment_url)


def add_rewards(tenant: Tenant, rewards: list[Reward], *, ledger: PointsLedger, now: datetime) -> list[str]:
    """Creates new rewards with their stock (sharded above the tenant's threshold); for existing ones
    updates the terms and leaves the stock to `restock`. Returns a line per reward saying what changed."""
    said = []
    for r in rewards:
        terms = {"name": r.name, "cost": r.cost, "limit_per_member": r.limit_per_member,
                 "limit_period": r.limit_period, "active_from": r.active_from.isoformat() if r.active_from else None,
                 "active_until": r.active_until.isoformat() if r.active_until else None,
                 "fulfilment_url": r.fulfilment_url}
        existing = ledger.reward(tenant.tenant_id, r.id)
        if existing is None:
            shards = shard_count(r.stock, tenant.policy.stock_shard_threshold)
            item = RewardItem(f"{tenant.tenant_id}#REWARDS", r.id, shards=shards, stock_added=r.stock,
                              created_at=now, **terms)
            ledger.put_reward(item, split_stock(r.stock, shards))
            said.append(f"{r.id}: added, stock {r.stock} in {shards} shard(s)")
        else:
            ledger.put_reward(RewardItem(existing.pk, existing.sk, **terms), None)
            said.append(f"{r.id}: terms updated; stock unchanged (use `rewards restock`)")
    return said


def restock(tenant: Tenant, reward_id: str, units: int, *, ledger: PointsLedger) -> int:
    """Adds (or, negative, removes) units spread evenly over the shards; returns the stock after."""
    item = ledger.reward(tenant.tenant_id, reward_id)
    if item is None:
        raise NotFound(f"There is no reward {reward_id!r}.", code="unknown_reward")
    stock = ledger.stock(tenant.tenant_id, reward_id, int(item.shards))
    if units < 0 and -units > sum(stock.values()):
        raise QunyunError(f"Only {sum(stock.values())} units are left; cannot remove {-units}.",
                          code="out_of_stock", status=422)
    changes: dict[str, int] = {}
    if units >= 0:
        for pk, part in zip(stock, split_stock(units, len(stock)), strict=True):
            changes[pk] = part
    else:
        left = -units
        for pk, have in sorted(stock.items(), key=lambda kv: -kv[1]):
            take = min(have, left)
            if take:
                changes[pk] = -take
                left -= take
    ledger.restock(tenant.tenant_id, reward_id, {k: v for k, v in changes.items() if v})
    return sum(stock.values()) + units


def list_rewards(tenant: Tenant, *, ledger: PointsLedger, now: datetime) -> list[dict]:
    out = []
    for item in ledger.rewards(tenant.tenant_id):
        reward = _reward_of(item)
        out.append({"reward_id": item.sk, "name": item.name, "cost": int(item.cost),
                    "stock": sum(ledger.stock(tenant.tenant_id, item.sk, int(item.shards)).values()),
                    "shards": int(item.shards), "limit_per_member": reward.limit_per_member,
                    "limit_period": reward.limit_period, "active": reward.active(now),
                    "active_from": item.active_from, "active_until": item.active_until})
    return out


def _same_request(order: MallOrderItem, req: RedemptionRequest) -> bool:
    return (order.member_id, order.reward_id, int(order.quantity)) == (req.member_id, req.reward_id, req.quantity)


def _plan(tenant: Tenant, req: RedemptionRequest, reward: RewardItem, ledger: PointsLedger, now: datetime,
          oid: str) -> tuple[Plan, dict]:
    terms = _reward_of(reward)
    member = ledger.member(tenant.tenant_id, req.member_id)
    if not member.exists:
        raise Refused("unknown_member", f"There is no member {req.member_id!r}.")
    if member.status == "blocked":
        raise Refused("member_blocked", "This member is blocked and cannot redeem.")
    if member.balance["debt"] > 0:
        raise Refused("member_in_debt", f"This member owes {member.balance['debt']} points and cannot redeem.")
    if not terms.active(now):
        raise Refused("reward_unavailable", f"Reward {req.reward_id!r} cannot be redeemed at this time.")
    change = MemberChange(member)
    limit_sk = None
    if terms.limit_per_member:
        limit_sk = _limit_sk(req.reward_id, terms.limit_period, now, tenant.timezone)
        guard = ledger.guard(member_pk(tenant.tenant_id, req.member_id), limit_sk)
        used = int(guard.granted) if guard else 0
        if used + req.quantity > terms.limit_per_member:
            raise Refused("limit_exceeded", f"This member may redeem {terms.limit_per_member} of this reward per "
                                            f"{terms.limit_period}; {used} already redeemed.")
        change.cap = (limit_sk, used, used + req.quantity)
    cost = terms.cost * req.quantity
    lots = ledger.lots(tenant.tenant_id, req.member_id)
    spendable = sum(lot.remaining for lot in lots if lot.state == "available" and not is_expired(lot.expires_at, now))
    if spendable < cost:
        raise Refused("insufficient_points", f"This reward costs {cost} points; the member has {spendable}.")
    stock = ledger.stock(tenant.tenant_id, req.reward_id, int(reward.shards))
    if sum(stock.values()) < req.quantity:
        raise Refused("out_of_stock", f"Reward {req.reward_id!r} is out of stock.")
    shards, left = {}, req.quantity
    for pk in random.sample(list(stock), len(stock)):  # spread concurrent buyers over the shards
        take = min(stock[pk], left)
        if take:
            shards[pk] = take
            left -= take
        if not left:
            break
    taken = take_available(change, lots, cost, now)
    change.add("spent", cost)
    change.entries.append(Entry(f"redeem#{oid}", "spend", "redemption", oid, "member", -cost,
                                {"available": -cost, "spent": cost}, lots=taken))
    body = {"order_id": oid, "request_id": req.request_id, "status": "placed", "points_spent": cost,
            "balance": balance_view(member.after(change.deltas))}
    plan = Plan(changes=[change], stock=[(pk, -n) for pk, n in shards.items()])
    fulfil = {}
    if reward.fulfilment_url:
        fulfil = {"fulfilment_url": reward.fulfilment_url, "fulfil_state": "due", "fulfil_events": ["placed"],
                  "fulfil_pk": fulfil_shard(oid), "fulfil_sk": f"{now.isoformat()}#{tenant.tenant_id}#{oid}"}
    plan.mall_order = {"pk": f"{tenant.tenant_id}#RD#{oid}", "create": True, "set": {
        "request_id": req.request_id, "member_id": req.member_id, "reward_id": req.reward_id,
        "quantity": req.quantity, "status": "placed", "status_code": 201, "response": body, "points_spent": cost,
        "lots": taken, "shards": shards, "limit_sk": limit_sk, "created_at": now, "version": 0, **fulfil}}
    return plan, body


def fulfil_shard(oid: str) -> str:
    return f"FULFIL#{int(oid[-6:], 16) % FULFIL_SHARDS}"


def _replay(order: MallOrderItem) -> Answer:
    return Answer(int(order.status_code), order.response, replayed=True)


def _limit_sk(reward_id: str, period: str, now: datetime, timezone: str) -> str:
    return f"G#limit#{reward_id}#{limit_window(period, now, timezone)}"


def _planning_keys(tenant: Tenant, req: RedemptionRequest, now: datetime) -> list[tuple[str, str]]:
    """What a plan may read besides the order, reward and member, guessed before the reward is known so one
    BatchGetItem fetches it all: the limit counter of every period, and the first stock item."""
    pk = member_pk(tenant.tenant_id, req.member_id)
    return [*((pk, _limit_sk(req.reward_id, period, now, tenant.timezone)) for period in LIMIT_PERIODS),
            (stock_pk(tenant.tenant_id, req.reward_id, 0), "#STOCK")]


def redeem(tenant: Tenant, req: RedemptionRequest, *, ledger: PointsLedger, now: datetime) -> Answer:
    """Places a redemption exactly once per request id; a repeat replays the first answer."""
    oid = order_id(tenant.tenant_id, req.request_id)
    for attempt in range(40):
        ledger.prefetch([mall_order_key(tenant.tenant_id, oid), reward_key(tenant.tenant_id, req.reward_id),
                         member_key(tenant.tenant_id, req.member_id), *_planning_keys(tenant, req, now)])
        existing = ledger.mall_order(tenant.tenant_id, oid)
        if existing is not None:
            ledger.forget()
            if not _same_request(existing, req):
                raise Conflict(f"request_id {req.request_id!r} was already used for another redemption.",
                               code="idempotency_conflict", field="request_id")
            return _replay(existing)
        try:
            reward = ledger.reward(tenant.tenant_id, req.reward_id)
            if reward is None:
                raise Refused("unknown_reward", f"There is no reward {req.reward_id!r}.")
            plan, body = _plan(tenant, req, reward, ledger, now, oid)
        except Refused as refused:
            # Forgotten first: a concurrent twin may store its answer meanwhile, and the replay must read it.
            ledger.forget()
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


def _record_failure(tenant: Tenant, req: RedemptionRequest, oid: str, refused: Refused, ledger: PointsLedger,
                    now: datetime) -> Answer:
    body = {"error": {"code": refused.code, "message": refused.message}, "order_id": oid,
            "request_id": req.request_id}
    item = MallOrderItem(f"{tenant.tenant_id}#RD#{oid}", "#ORDER", request_id=req.request_id,
                         member_id=req.member_id, reward_id=req.reward_id, quantity=req.quantity, status="failed",
                         status_code=422, response=body, created_at=now)
    if ledger.save_failed_order(item):
        return Answer(422, body)
    existing = ledger.mall_order(tenant.tenant_id, oid)
    if not _same_request(existing, req):
        raise Conflict(f"request_id {req.request_id!r} was already used for another redemption.",
                       code="idempotency_conflict", field="request_id")
    return _replay(existing)


def get_order(tenant: Tenant, oid: str, *, ledger: PointsLedger) -> dict:
    order = ledger.mall_order(tenant.tenant_id, oid)
    if order is None:
        raise NotFound(f"There is no order {oid!r}.", code="unknown_order")
    view = {"order_id": oid, "request_id": order.request_id, "member_id": order.member_id,
            "reward_id": order.reward_id, "quantity": int(order.quantity), "status": order.status,
            "points_spent": int(order.points_spent or 0), "created_at": order.created_at.isoformat()}
    if order.status == "failed":
        view["error"] = order.response.get("error")
    if order.fulfilment_url:
        view["fulfilment"] = {"state": order.fulfil_state, "attempts": int(order.fulfil_attempts or 0),
                              "error": order.fulfil_error}
    return view


def cancel(tenant: Tenant, oid: str, req: CancelRequest, *, ledger: PointsLedger, now: datetime) -> Answer:
    """Cancels a placed order once: the same lots come back with their original expiry (lots expired in
    between are forfeited), and so do the stock and the member's limit. Cancelling again replays."""
    for attempt in range(40):
        order = ledger.mall_order(tenant.tenant_id, oid)
        if order is None or order.status == "failed":
            raise NotFound(f"There is no placed order {oid!r}.", code="unknown_order")
        if order.status == "cancelled":
            return Answer(200, order.cancel_response, replayed=True)
        pk = member_pk(tenant.tenant_id, order.member_id)
        ledger.prefetch([member_key(tenant.tenant_id, order.member_id), *((pk, sk) for sk in order.lots or {})])
        member = ledger.member(tenant.tenant_id, order.member_id)
        change = MemberChange(member)
        restored = forfeited = 0
        for lot_sk, points in (order.lots or {}).items():
            expires = lot_sk.removeprefix("L#")
            lot = ledger.lot(tenant.tenant_id, order.member_id, lot_sk)
            # A lot the expiry job already took is forfeited even when this request's clock is a moment
            # earlier; a restored lot goes back on the due index, since the job may have cleared it when
            # the lot was empty.
            if is_expired(expires, now) or (lot is not None and lot.state == "expired"):
                forfeited += points
            else:
                restored += points
                change.lots.append(LotWrite(lot_sk, add=points, set={"state": "available", "expires_at": expires},
                                            due=None if expires == NEVER else expires,
                                            expect=(lot.state, lot.remaining) if lot else None))
        ledger.forget()
        change.add("spent", -(restored + forfeited))
        change.add("available", restored)
        change.add("expired", forfeited)
        change.entries.append(Entry(f"cancel#{oid}", "restore", "redemption", oid, "member", restored,
                                    {k: v for k, v in change.deltas.items() if v}, reason=req.reason,
                                    lots={k: v for k, v in (order.lots or {}).items()}))
        if order.limit_sk:
            guard = ledger.guard(member_pk(tenant.tenant_id, order.member_id), order.limit_sk)
            used = int(guard.granted) if guard else 0
            change.cap = (order.limit_sk, used, max(used - int(order.quantity), 0))
        body = {"order_id": oid, "status": "cancelled", "points_restored": restored, "points_forfeited": forfeited}
        fulfil = {}
        if order.fulfilment_url:
            fulfil = {"fulfil_state": "due", "fulfil_events": [*(order.fulfil_events or []), "cancelled"],
                      "fulfil_attempts": 0, "fulfil_error": None, "fulfil_pk": fulfil_shard(oid),
                      "fulfil_sk": f"{now.isoformat()}#{tenant.tenant_id}#{oid}"}
        plan = Plan(changes=[change], stock=[(pk, n) for pk, n in (order.shards or {}).items()])
        plan.mall_order = {"pk": order.pk, "create": False, "version": int(order.version or 0), "set": {
            "status": "cancelled", "cancel_request_id": req.request_id, "cancel_response": body, **fulfil}}
        try:
            ledger.commit(plan, now)
            return Answer(200, body)
        except Contention:
            time.sleep(random.uniform(0, 0.004 * (attempt + 1)))
    raise QunyunError("Too many concurrent changes; retry the cancellation.", code="contention", status=409)

