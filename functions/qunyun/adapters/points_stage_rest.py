"""What the claim of a staged change keeps to roll it forward (adapters/points_stage.py): its lots' values after the
change, each with the version it must still be at, and its entries as plain fields.

A claim pays for each of its bytes. An event's record keeps all of it. A redemption's order already holds its spend
entry but for the day, and its lots but for their versions and what they keep after the spend: it keeps only those
(`kept_by_order`), under 1 KB, and a reader makes the rest again from the order (`rest_of`).
"""

from __future__ import annotations

import dataclasses

from pynamodb.connection import Connection

from qunyun.adapters import points_keys as keys
from qunyun.adapters.points_tables import TABLE, EventItem, MallOrderItem
from qunyun.domain.ledger import Contention, Entry, LotWrite, spend_entry


def entry_fields(entry: Entry) -> dict:
    """An entry as plain fields, without DynamoDB's types: small enough to keep the claim under 1 KB."""
    fields = {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry) if f.name not in ("lots", "created_at")}
    fields = {k: v for k, v in fields.items() if v not in (None, {}, 0, False)}
    if entry.lots:
        fields["lots"] = keys.lots_stored(entry.lots)
    return fields


def entry_of(fields: dict) -> Entry:
    fields = dict(fields)
    lots = keys.lots_read(fields.pop("lots", None))
    return Entry(**{"points": 0, "deltas": {}, **fields}, lots=lots)


def kept_by_order(rest: dict) -> dict:
    """What a redemption's order keeps of `rest`: its day ("d") and each lot item's version and value after ("v", by
    the lot's key; the lots its member holds were written with the stage)."""
    kept = {lot["sk"]: [lot["v"], lot["r"]] for lot in rest.get("lots", [])}
    return {"d": rest["entries"][0]["program_day"], "v": kept}


def rest_of(claim: EventItem | MallOrderItem) -> dict:
    """What a claim left to write; a redemption's lots and spend entry are made again from its order."""
    rest = claim.rest or {}
    if not isinstance(claim, MallOrderItem):
        return rest
    taken = claim.lots or {}
    kept = rest["v"] if isinstance(rest["v"], dict) else dict(zip(sorted(taken), rest["v"], strict=True))  # a list:
    lots = [{"sk": sk, "v": v, "r": r} for sk, (v, r) in sorted(kept.items())]  # an order claimed before held lots
    entry = spend_entry(keys.record_id(claim.pk), int(claim.points_spent), keys.lots_read(taken), rest["d"])
    return {"lots": lots, "entries": [entry_fields(entry)]}


def lot_target(connection: Connection, pk: str, lot: LotWrite) -> dict:
    """The lot after the change, and the version it must still be at (None: it must not exist yet). A lot the plan
    spends from must still be as the plan read it (`expect`), or the plan is stale: Contention."""
    sk = keys.lot_sk(lot.lot)
    raw = connection.client.get_item(
        TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True,
        ProjectionExpression="version, remaining, #s, due_at", ExpressionAttributeNames={"#s": "state"})
    if "Item" in raw:
        item = raw["Item"]
        version, remaining = int(item.get("version", {}).get("N", 0)), int(item.get("remaining", {}).get("N", 0))
        state, due = item.get("state", {}).get("S"), item.get("due_at", {}).get("S")
    else:
        version, remaining, state, due = None, 0, None, None
    if lot.expect is not None and (state, remaining) != tuple(lot.expect):
        raise Contention(["LotMoved"])
    target = {"sk": sk, "v": version, "r": remaining + lot.add}
    if any(lot.set.values()):
        target["set"] = {k: v for k, v in lot.set.items() if v}
    if lot.due and lot.due != due:  # True: at the lot's expiry, or when its pending points settle
        target["due"] = True if lot.due == due_of(lot.set) else lot.due
    return target


def due_of(fields: dict) -> str | None:
    return fields.get("expires_at") or fields.get("settle_at")
