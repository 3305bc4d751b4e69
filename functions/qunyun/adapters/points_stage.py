"""A check-in, a purchase or a redemption written as single writes in a fixed order instead of one transaction
(docs/ledger.md, "A check-in as single writes"): each item is billed once instead of twice.

1. Stage: the member is updated under its version condition, as a transaction would, and keeps the change's
   token and what undoes it (`stage`, `staged`).
2. Order (a purchase) or mark (a quiz answer's question): put only if there is none, naming the token and the
   event id; it stands only once that token's claim of that event id stands. An order holds its purchase's pending
   lot (order_lots.py), which stands or goes with it. Another event taking it meanwhile
   is refused, as it would be by a transaction.
3. Claim: the event record is put only if there is no record of the event id, or only a void one of another
   token. It carries the response and what is left to write. A twin holding it undoes the order and the stage.
   A redemption's claim is its order, put the same way in one transaction with its stock taken
   (`claim_redemption`): a shard without the units refuses it, and the stage is undone.
4. Roll forward: the lots are set to their values after the change, each only if still at the version read
   before the stage, then the entry is put. Both are harmless to repeat. A redemption from lots its member item
   holds has nothing left here: its stage kept its spend entry in the member item (kept_spend.py).

A member read to plan from is settled first (`settle`): its stage is rolled forward when the claim of its token
stands, undone when the claim went to a twin or was voided, waited on while young, and voided once older than
STALE, which only a writer that died leaves. An order or a mark is settled the same way by its own claim
(`settle_order`). Safety rests on the conditions, never on the clock.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from pynamodb.connection import Connection

from qunyun.adapters import held_lots, kept_spend
from qunyun.adapters import points_keys as keys
from qunyun.adapters.conditional_write import FAILED, expression_params, written
from qunyun.adapters.member_write import write_member
from qunyun.adapters.order_lots import made_fields
from qunyun.adapters.points_fetch import fetch
from qunyun.adapters.points_keys import Key
from qunyun.adapters.points_stage_rest import due_of, entry_fields, kept_by_order, lot_target, rest_of
from qunyun.adapters.points_tables import TABLE, EventItem, GuardItem, LotItem, MallOrderItem, MemberItem, OrderItem
from qunyun.adapters.points_writer import (
    committed,
    event_item,
    merge_lots,
    record_only,
    rest_writes,
)
from qunyun.adapters.redemptions import write_claim
from qunyun.adapters.stage_fields import staged_as
from qunyun.adapters.stages_done import finished, is_finished
from qunyun.adapters.standing import standing_missing, standing_proof
from qunyun.domain.ledger import Contention, Guard, LotWrite, Plan

STALE = timedelta(seconds=5)
_WAIT = 0.01


def stageable(plan: Plan) -> bool:
    """A check-in, a quiz answer or a purchase, of a member or of a newcomer: one member changed, its marks and caps
    held in the member item (a question's mark taken as an order is), its lots only credited or made, a purchase's
    order new. A redemption: a new order, its limit held in the member item. Everything else stays one
    transaction."""
    if plan.redemption is not None:
        return _redemption_stageable(plan)
    if plan.event is None or len(plan.changes) != 1 or record_only(plan):
        return False
    if plan.purchase is not None and not plan.purchase.create:  # a refund moves an order that exists
        return False
    if any((plan.invite, plan.redemption, plan.job, plan.absent_invites, plan.unchanged, plan.stock)):
        return False
    change = plan.changes[0]
    marks = [g for g in change.guards if not keys.held(g)]
    return ((not marks or (len(marks) == 1 and marks[0].kind == "quiz" and plan.purchase is None))
            and (change.cap is None or keys.held(change.cap[0])) and all(lot.expect is None for lot in change.lots)
            and all(plan.purchase is not None or not keys.in_order(lot.lot) for lot in change.lots))


def _redemption_stageable(plan: Plan) -> bool:
    """A new order from a member's lots, only spent from, exactly the lots the order names."""
    change = plan.changes[0] if len(plan.changes) == 1 else None
    return (plan.redemption.create and change is not None and change.member.exists and not change.guards
            and (change.cap is None or keys.held(change.cap[0])) and len(change.entries) == 1
            and {lot.lot for lot in change.lots} == set(plan.redemption.fields.get("lots", {}))
            and not any(lot.set or lot.due or lot.clear_due or lot.add >= 0 for lot in change.lots)
            and not any((plan.event, plan.purchase, plan.invite, plan.job, plan.absent_invites, plan.unchanged)))


def stage(connection: Connection, plan: Plan, now: datetime) -> None:
    """Stage, take the order, claim, roll forward; a lost race (the member or a lot moved, the order was taken, a
    twin claimed the event or the order, a shard ran out) raises Contention."""
    change = plan.changes[0]
    m = change.member
    pk, sk = keys.member_key(m.tenant_id, m.member_id)
    token = uuid.uuid4().hex[:16]
    # A new order's pending lot is put with the order (order_lots.py): it stands or goes with the order. A lot the
    # member holds is written with it, and so is a new one no item of which exists, where it fits (held_lots.py).
    merged = list(merge_lots(change.lots))
    made = next((lot for lot in merged if keys.in_order(lot.lot)), None)
    targets = {lot.lot: lot_target(connection, pk, lot) for lot in merged
               if lot is not made and lot.lot not in m.held_lots}
    split = held_lots.split(change, [lot for lot in merged if lot is not made], now,
                            frozenset(lot for lot, target in targets.items() if target["v"] is None), staged=True)
    lots = [targets[lot.lot] for lot in split.items]
    rest = {k: v for k, v in (("lots", lots), ("entries", [entry_fields(e) for e in change.entries])) if v}
    mark = next((g for g in change.guards if not keys.held(g)), None)
    staged, kept = staged_as(plan, split, token, mark, now)
    if not write_member(connection, change, now, split, (token, staged), kept) and not _ours(
            connection, pk, sk, token, name="stage"):
        raise Contention([FAILED])
    if plan.purchase and not _take_order(connection, plan, token, staged["w"], made):
        undo(connection, _member(connection, pk, sk), token)
        raise Contention(["OrderTaken"])
    if mark and not _take_mark(connection, pk, staged["g"], plan, token, staged["w"]):
        undo(connection, _member(connection, pk, sk), token)
        raise Contention(["MarkTaken"])
    if plan.redemption:
        refused = claim_redemption(connection, plan, token, kept_by_order(rest), listed="j" in staged)
        if refused is not None and _ours(connection, *_claim_key(m.tenant_id, staged), token):
            refused = None  # a retried call whose first attempt landed
    else:
        claim = event_item(plan, now)
        claim.token, claim.member, claim.rest = token, pk, rest
        refused = None if _claim(connection, claim, token) else ["ClaimedByTwin"]
    if refused:
        _undo_all(connection, _member(connection, pk, sk), token)
        raise Contention(refused)
    if "j" in staged:  # the entry is in the member item already
        rest.pop("entries")
    roll_forward(connection, pk, rest, now)
    finished(token)


def claim_redemption(connection: Connection, plan: Plan, token: str, kept: dict,
                     listed: bool = False) -> list[str | None] | None:
    """The order claimed with its stock in one transaction (`redemptions.write_claim`; `listed`: the order lists
    its spend, kept in the member item): None when it was written, else why not, never empty (a conflict comes
    without DynamoDB's reasons)."""
    try:
        committed(connection, lambda tx: write_claim(tx, plan.tenant_id, plan.redemption, plan.stock, token, kept,
                                                     listed))
        return None
    except Contention as lost:
        return lost.reasons or ["TransactionConflict"]


def _take_order(connection: Connection, plan: Plan, token: str, at: int, lot: LotWrite | None) -> bool:
    """Puts the purchase's order, with its pending lot when it earned one."""
    order, fields = plan.purchase, made_fields(lot) if lot else {}
    return _take(connection, OrderItem(*keys.record_key("purchase", plan.tenant_id, order.key), **order.fields,
                                       **fields, token=token, staged_at=at), token)


def _take_mark(connection: Connection, pk: str, sk: str, plan: Plan, token: str, at: int) -> bool:
    return _take(connection, GuardItem(pk, sk, token=token, event_id=plan.event.event_id, staged_at=at), token)


def _take(connection: Connection, item: OrderItem | GuardItem, token: str) -> bool:
    """Puts a once-only record naming the stage `token`, only if there is none (or it is already this token's)."""
    return written(connection.client.put_item, TableName=TABLE, Item=item.serialize(),
                   ConditionExpression="attribute_not_exists(pk)") or _ours(connection, item.pk, item.sk, token)


def _ours(connection: Connection, pk: str, sk: str, token: str, name: str = "token", void: bool = False) -> bool:
    """Whether a write refused by its condition had in fact been made by this token (the member's `stage`, an
    order's or a claim's `token`, and whether the claim was a void one): a retried call whose first attempt
    landed but whose answer was lost finds its own item."""
    raw = connection.client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True,
                                     ProjectionExpression="#t, #v",
                                     ExpressionAttributeNames={"#t": name, "#v": "void"}).get("Item", {})
    return raw.get(name, {}).get("S") == token and raw.get("void", {}).get("BOOL", False) == void


def _release(connection: Connection, pk: str, sk: str, token: str) -> None:
    """Deletes an order or a mark taken by the stage `token`, whose claim was lost or voided (no-op once gone)."""
    written(connection.client.delete_item, TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}},
            **expression_params(OrderItem.token == token))


def _undo_all(connection: Connection, item: MemberItem, token: str) -> None:
    """Puts back what the stage `token` wrote before its claim: its order or mark, then its member (in that
    order, so that a member still holding the stage always leads a reader to what it took)."""
    staged = (item.staged or {}) if item.stage == token else {}
    if staged.get("o"):
        _release(connection, *keys.record_key("purchase", keys.split_member_pk(item.pk)[0], staged["o"]), token)
    if staged.get("g"):
        _release(connection, item.pk, staged["g"], token)
    undo(connection, item, token)


def _update(connection: Connection, pk: str, sk: str, actions: list, condition) -> bool:
    """One UpdateItem on the ledger's own client; False when its condition failed."""
    return written(connection.client.update_item, TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                   **expression_params(condition, actions))


def _claim(connection: Connection, claim: EventItem, token: str) -> bool:
    return written(connection.client.put_item, TableName=TABLE, Item=claim.serialize(),
                   ConditionExpression="attribute_not_exists(pk) OR (#v = :yes AND #t <> :t)",
                   ExpressionAttributeNames={"#v": "void", "#t": "token"},
                   ExpressionAttributeValues={":yes": {"BOOL": True}, ":t": {"S": token}}) or _ours(
        connection, claim.pk, claim.sk, token, void=bool(claim.void))


def _member(connection: Connection, pk: str, sk: str) -> MemberItem:
    raw = connection.client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)
    return MemberItem.from_raw_data(raw["Item"])


def roll_forward(connection: Connection, pk: str, rest: dict, at: datetime) -> None:
    """Writes what a claimed stage (made at `at`) left to write; each write applies once, however often it is
    repeated."""
    updates, entries = rest_writes(pk, rest, at)
    for update in updates:  # a run's settlement (standing.py): before its entries
        written(connection.client.update_item, **update)  # False: written already
    for lot in rest.get("lots", []):
        actions = [LotItem.remaining.set(lot["r"]), LotItem.version.set((lot["v"] or 0) + 1)]
        actions += [getattr(LotItem, k).set(v) for k, v in lot.get("set", {}).items()]
        due = (due_of(lot.get("set", {})) if lot["due"] is True else lot["due"]) if lot.get("due") else None
        # a due time given (or given anew) is paged from the stream; a credit that keeps it, or a spend, is not
        actions += [LotItem.due_at.set(due), LotItem.due_new.set(due)] if due else [LotItem.due_new.remove()]
        if lot["v"] is None:
            condition = LotItem.pk.does_not_exist()
        elif lot["v"] == 0:
            condition = (LotItem.version == 0) | LotItem.version.does_not_exist()
        else:
            condition = LotItem.version == lot["v"]
        _update(connection, pk, lot["sk"], actions, condition)  # False: written already
    _put_entries(connection, entries)


def _put_entries(connection: Connection, entries: list[dict]) -> None:
    """A stage's entries, last in its roll-forward: each put once, however often it is repeated."""
    for raw in entries:
        written(connection.client.put_item, TableName=TABLE, Item=raw,  # False: written already
                ConditionExpression="attribute_not_exists(pk)")


def undo(connection: Connection, item: MemberItem, token: str) -> None:
    """Puts a member back as it was before the stage `token`, if it still holds it."""
    if item.stage != token:
        return
    u = item.staged["u"]
    held_it = (MemberItem.stage == token) & (MemberItem.version == item.version)  # False: settled or moved meanwhile
    if u.get("new"):  # a newcomer made by the stage: it was no member before
        written(connection.client.delete_item, TableName=TABLE, Key={"pk": {"S": item.pk}, "sk": {"S": item.sk}},
                **expression_params(held_it))
        return
    actions = [MemberItem.version.add(1), MemberItem.stage.remove(), MemberItem.staged.remove(),
               MemberItem.due_new.remove()]  # a lot the stage made held is gone with it: not paged again
    actions += [getattr(MemberItem, part).add(-amount) for part, amount in u.get("d", {}).items()]
    for name, value in u.get("s", {}).items():
        attr = getattr(MemberItem, name)
        actions.append(attr.remove() if value is None else attr.set(value))
    if u.get("h"):
        held = keys.held_read(item.held)
        for kind, parts, prior in u["h"]:
            guard = Guard(kind, tuple(parts))
            if prior is None:
                held.pop(guard, None)
            else:
                held[guard] = prior
        actions.append(MemberItem.held.set(keys.held_stored(held)))
    if u.get("l"):
        lots = held_lots.undone(item.lots, u["l"])
        actions.append(MemberItem.lots.set(lots) if lots else MemberItem.lots.remove())
    actions += kept_spend.undone(item)
    _update(connection, item.pk, item.sk, actions, held_it)


def settled_by(item: MemberItem | OrderItem | GuardItem) -> list[Key]:
    """What settles a staged member, order or mark: the claim of its token's event, and a member's last entry.
    None for an item that holds no stage, or one this process finished."""
    token = item.stage if isinstance(item, MemberItem) else item.token
    if not token or is_finished(token):
        return []
    if isinstance(item, OrderItem):
        return [keys.record_key("event", keys.record_tenant("purchase", item.pk), item.event_id)]
    if isinstance(item, GuardItem):
        return [keys.record_key("event", keys.split_member_pk(item.pk)[0], item.event_id)]
    staged = item.staged
    if staged.get("k") == "t":  # a transaction's or a run's piece's (standing.py): it stands, and what says whether
        return standing_proof(item.pk, staged)  # what it leaves is written: its last entry, or else its orders
    wanted = [_claim_key(keys.split_member_pk(item.pk)[0], staged)]
    if staged.get("e"):
        last = staged["ev"] if staged["e"] == "=" else staged["e"]
        wanted.append((item.pk, keys.entry_sk(datetime.fromisoformat(staged["at"]), last)))
    return wanted


def _claim_key(tenant_id: str, staged: dict) -> Key:
    """What claims a stage: its event's record, or a redemption's order."""
    return keys.record_key("redemption" if staged.get("k") == "r" else "event", tenant_id, staged["ev"])


def settle(connection: Connection, item: MemberItem, now: float | None = None, found: dict | None = None) -> bool:
    """Settles the stage a member item holds, from `found` (read with `settled_by`) or reading it. True when it
    wrote or waited: read the member, and whatever was read with it, again."""
    wanted = settled_by(item)
    if not wanted:
        return False
    token, staged = item.stage, item.staged
    at = datetime.fromisoformat(staged["at"])
    if staged.get("k") == "t":  # standing: never undone, what it leaves written if its proof says it is not
        if found is None or any(key not in found for key in wanted):
            found = fetch(connection, wanted)
        missing = standing_missing(staged, [found[key] for key in wanted])
        if missing:
            roll_forward(connection, item.pk, staged["r"], at)
        finished(token)
        return missing
    claim, done = _found(connection, wanted, found)
    if claim is not None and not claim.void and claim.token == token:
        if not done:
            roll_forward(connection, item.pk, rest_of(claim), at)
        finished(token)
        return not done  # lots and entries were written: what was read with the member is stale
    if claim is not None and (claim.token == token or not claim.void):  # voided, or a twin's claim
        _undo_all(connection, item, token)
        return True
    if (now or time.time()) - staged["w"] < STALE.total_seconds():
        time.sleep(_WAIT)  # its writer is between the stage and the claim
        return True
    if _void(connection, wanted[0], token):
        _undo_all(connection, item, token)
    return True


def _void(connection: Connection, claim_key, token: str) -> bool:
    """Stops the stage `token` from ever claiming: it can only have been left by a writer that died."""
    void = EventItem(*claim_key, digest="", response={}, created_at=datetime.now(UTC), token=token, void=True)
    return _claim(connection, void, token)


def settle_order(connection: Connection, item: OrderItem | GuardItem, now: float | None = None,
                 found: dict | None = None) -> bool:
    """Settles an order a staged purchase took, or a mark a staged quiz answer took. False when it stands (its
    claim does); True when it was released or waited on: read it again."""
    wanted = settled_by(item)
    if not wanted:
        return False
    token = item.token
    claim, _ = _found(connection, wanted, found)
    if claim is not None and not claim.void and claim.token == token:
        return False
    if claim is None:
        if (now or time.time()) - int(item.staged_at) < STALE.total_seconds():
            time.sleep(_WAIT)  # its writer is between the order and the claim
            return True
        if not _void(connection, wanted[0], token):
            return True  # claimed meanwhile: read it again
    _release(connection, item.pk, item.sk, token)  # its stage is undone by its member's
    return True


def _found(connection: Connection, wanted: list[Key], found: dict | None) -> tuple[EventItem | MallOrderItem | None,
                                                                                    bool]:
    """The claim (`wanted[0]`) and whether the last entry (`wanted[1]`, if any) is written, from `found` when it
    holds them, else read consistently in one round trip. A change without an entry wrote all with its stage."""
    if found is None or any(key not in found for key in wanted):
        found = fetch(connection, wanted)
    model = MallOrderItem if keys.is_redemption(wanted[0][0]) else EventItem
    claim = model.from_raw_data(found[wanted[0]]) if found[wanted[0]] else None
    return claim, len(wanted) < 2 or found[wanted[1]] is not None
