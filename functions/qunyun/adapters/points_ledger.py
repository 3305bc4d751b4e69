"""Reads ledger state and commits a Plan as one TransactWriteItems (PynamoDB TransactWrite)."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from qunyun.adapters.points_tables import (
    TABLE,
    BoardItem,
    EntryItem,
    EventItem,
    GuardItem,
    JobItem,
    LotItem,
    MallOrderItem,
    MemberItem,
    OrderItem,
    RewardItem,
    StockItem,
    _PointsMeta,
)
from qunyun.adapters.tables import share_session
from qunyun.domain.ledger import Entry, LotState, MemberChange, MemberState, Plan
from qunyun.domain.points import BALANCE_PARTS

DUE_SHARDS = 4
BALANCE_SK = "#BALANCE"


class Contention(Exception):
    """The transaction lost a race (another change to the same member, a duplicate in flight); re-plan."""

    def __init__(self, reasons: list[str | None]):
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons


def member_pk(tenant_id: str, member_id: str) -> str:
    return f"{tenant_id}#{member_id}"


def member_key(tenant_id: str, member_id: str) -> tuple[str, str]:
    return member_pk(tenant_id, member_id), BALANCE_SK


def event_key(tenant_id: str, event_id: str) -> tuple[str, str]:
    return f"{tenant_id}#EV#{event_id}", "#EVENT"


def order_key(tenant_id: str, order_id: str) -> tuple[str, str]:
    return f"{tenant_id}#OR#{order_id}", "#ORDER"


def reward_key(tenant_id: str, reward_id: str) -> tuple[str, str]:
    return f"{tenant_id}#REWARDS", reward_id


def mall_order_key(tenant_id: str, oid: str) -> tuple[str, str]:
    return f"{tenant_id}#RD#{oid}", "#ORDER"


def invite_key(tenant_id: str, invitee_id: str) -> tuple[str, str]:
    return f"{tenant_id}#IN#{invitee_id}", "#INVITE"


def split_member_pk(pk: str) -> tuple[str, str]:
    tenant_id, _, member_id = pk.partition("#")
    return tenant_id, member_id


_REWARD_TERMS = ("name", "cost", "limit_per_member", "limit_period", "active_from", "active_until", "fulfilment_url")


def stock_pk(tenant_id: str, reward_id: str, shard: int) -> str:
    return f"{tenant_id}#RW#{reward_id}#S{shard}"


def due_shard(pk: str) -> str:
    return f"DUE#{zlib.crc32(pk.encode()) % DUE_SHARDS}"


def _lot_state(item: LotItem) -> LotState:
    return LotState(sk=item.sk, state=item.state, remaining=int(item.remaining or 0), expires_at=item.expires_at,
                    settle_at=item.settle_at, source_type=item.source_type, source_id=item.source_id,
                    group_id=item.group_id, invitee_id=item.invitee_id)


class PointsLedger:
    """The points table seen by the services: consistent reads, and all-or-nothing commits."""

    def __init__(self) -> None:
        self._connection = share_session(Connection(region=_PointsMeta.region, host=_PointsMeta.host,
                                                    max_retry_attempts=_PointsMeta.max_retry_attempts))
        self._local = threading.local()  # the prefetched snapshot of the current thread's attempt

    # ---- one round trip for everything a change needs to read ------------------------------------
    def _read(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict | None]:
        """These items (None for those that do not exist), read consistently, 100 to a BatchGetItem."""
        found: dict[tuple[str, str], dict] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 100):
            request: dict | None = {TABLE: {"ConsistentRead": True, "Keys": [
                {"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in unique[start:start + 100]]}}
            while request:
                resp = self._connection.client.batch_get_item(RequestItems=request)
                for raw in resp.get("Responses", {}).get(TABLE, []):
                    found[(raw["pk"]["S"], raw["sk"]["S"])] = raw
                request = resp.get("UnprocessedKeys") or None
        return {key: found.get(key) for key in unique}

    def prefetch(self, keys: list[tuple[str, str]]) -> None:
        """Reads these items in one consistent BatchGetItem; the reads below use them until `forget`.

        A change reads its member, guards and counters before it writes; fetching them together halves
        the round trips of a points event. Correctness never rests on these reads: the transaction's
        conditions (member version, lots as read, guards that must not exist) reject a plan made from stale
        ones. Keys read ahead (`ahead`) and not yet used are taken from there instead."""
        keys = list(dict.fromkeys(keys))
        ahead = getattr(self._local, "ahead", None) or {}
        taken = {key: ahead.pop(key) for key in keys if key in ahead}
        missing = [key for key in keys if key not in taken]
        self._local.snapshot = {**taken, **(self._read(missing) if missing else {})}

    @contextmanager
    def ahead(self, keys: list[tuple[str, str]]) -> Iterator[None]:
        """Reads the items many small changes will need, 100 to a BatchGetItem, for their `prefetch` to take.
        Each item is taken once: a second change needing it (it may have been written since) and every retry
        read it again. Nothing read ahead outlives the block."""
        self._local.ahead = self._read(keys)
        try:
            yield
        finally:
            self._local.ahead = None

    def forget(self) -> None:
        self._local.snapshot = None

    def _get(self, model, pk: str, sk: str):
        snapshot = getattr(self._local, "snapshot", None)
        if snapshot is not None and (pk, sk) in snapshot:
            raw = snapshot[(pk, sk)]
            return model.from_raw_data(raw) if raw is not None else None
        try:
            return model.get(pk, sk, consistent_read=True)
        except model.DoesNotExist:
            return None

    # ---- reads -------------------------------------------------------------------------------------
    def member(self, tenant_id: str, member_id: str) -> MemberState:
        item = self._get(MemberItem, member_pk(tenant_id, member_id), BALANCE_SK)
        if item is None:
            return MemberState(tenant_id, member_id)
        return MemberState(
            tenant_id, member_id, exists=True, version=int(item.version), status=item.status,
            nickname=item.nickname, balance={p: int(getattr(item, p) or 0) for p in BALANCE_PARTS},
            earned=int(item.earned or 0), streak_days=int(item.streak_days or 0),
            last_checkin=date.fromisoformat(item.last_checkin) if item.last_checkin else None,
            settled_purchase=bool(item.settled_purchase),
        )

    def lots(self, tenant_id: str, member_id: str, prefix: str = "L#") -> list[LotState]:
        query = LotItem.query(member_pk(tenant_id, member_id), LotItem.sk.startswith(prefix), consistent_read=True)
        return [_lot_state(i) for i in query]

    def lot(self, tenant_id: str, member_id: str, sk: str) -> LotState | None:
        item = self._get(LotItem, member_pk(tenant_id, member_id), sk)
        return _lot_state(item) if item is not None else None

    def guard(self, pk: str, sk: str) -> GuardItem | None:
        return self._get(GuardItem, pk, sk)

    def event(self, tenant_id: str, event_id: str) -> EventItem | None:
        return self._get(EventItem, *event_key(tenant_id, event_id))

    def order(self, tenant_id: str, order_id: str) -> OrderItem | None:
        return self._get(OrderItem, *order_key(tenant_id, order_id))

    def entries(self, tenant_id: str, member_id: str, limit: int = 50, cursor: dict | None = None):
        query = EntryItem.query(member_pk(tenant_id, member_id), EntryItem.sk.startswith("E#"), limit=limit,
                                last_evaluated_key=cursor, scan_index_forward=False, page_size=limit)
        items = list(query)
        return items, query.last_evaluated_key

    def due(self, shard: str, until: str, cursor: dict | None = None, page: int = 100):
        query = LotItem.due.query(shard, LotItem.due_sk <= until + "~", limit=page, page_size=page,
                                  last_evaluated_key=cursor)
        items = list(query)
        return items, query.last_evaluated_key

    def members(self, tenant_id: str) -> Iterator[str]:
        for item in MemberItem.members.query(tenant_id):
            yield item.member_id

    def all_entries(self, tenant_id: str, member_id: str) -> Iterator[EntryItem]:
        yield from EntryItem.query(member_pk(tenant_id, member_id), EntryItem.sk.startswith("E#"),
                                   consistent_read=True)

    def entries_by_key(self, keys: list[tuple[str, str]]) -> list[EntryItem]:
        """Whole entries by (pk, sk), 100 to a BatchGetItem."""
        return list(EntryItem.batch_get(keys)) if keys else []

    def entries_between(self, tenant_id: str, member_id: str, start: datetime, end: datetime) -> Iterator[EntryItem]:
        """A member's entries written from `start` to `end` (their sort keys begin with the UTC time)."""
        low, high = (f"E#{t.astimezone(UTC).isoformat(timespec='microseconds')}" for t in (start, end))
        yield from EntryItem.query(member_pk(tenant_id, member_id), EntryItem.sk.between(low, high + "~"))

    def board_entries(self, tenant_id: str, day: str) -> Iterator[EntryItem]:
        yield from EntryItem.board.query(f"{tenant_id}#{day}")

    def board(self, tenant_id: str, key: str) -> BoardItem | None:
        try:
            return BoardItem.get(f"{tenant_id}#BOARD", key)
        except BoardItem.DoesNotExist:
            return None

    def save_board(self, tenant_id: str, key: str, entries: list, through: str, as_of: datetime) -> None:
        BoardItem(f"{tenant_id}#BOARD", key, entries=entries, through=through, as_of=as_of).save()

    def job(self, pk: str, sk: str) -> JobItem | None:
        try:
            return JobItem.get(pk, sk, consistent_read=True)
        except JobItem.DoesNotExist:
            return None

    def mark_boards(self, mark: tuple[str, str], run_pk: str, count: int) -> bool:
        """Records that a tenant-day's boards are built and adds them to the run's count, atomically, so a
        run stopped in between and started again reports them once. False if already marked."""
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(JobItem(*mark, done=True, boards_built=count), condition=JobItem.pk.does_not_exist())
                tx.update(JobItem(run_pk, "run"), actions=[JobItem.boards_built.add(count)])
            return True
        except TransactWriteError as err:
            if err.cause_response_code == "TransactionCanceledException":
                return False
            raise

    def save_job(self, pk: str, sk: str, **fields: Any) -> None:
        item = self.job(pk, sk) or JobItem(pk, sk)
        for k, v in fields.items():
            setattr(item, k, v)
        item.save()

    # ---- the mall ---------------------------------------------------------------------------------
    def reward(self, tenant_id: str, reward_id: str) -> RewardItem | None:
        return self._get(RewardItem, *reward_key(tenant_id, reward_id))

    def rewards(self, tenant_id: str) -> list[RewardItem]:
        return list(RewardItem.query(f"{tenant_id}#REWARDS"))

    def stock(self, tenant_id: str, reward_id: str, shards: int) -> dict[str, int]:
        """Shard pk → units left, read consistently in one BatchGetItem."""
        keys = [(stock_pk(tenant_id, reward_id, i), "#STOCK") for i in range(shards)]
        snapshot = getattr(self._local, "snapshot", None) or {}
        found = {pk: int(StockItem.from_raw_data(snapshot[(pk, sk)]).stock) for pk, sk in keys
                 if snapshot.get((pk, sk)) is not None}
        missing = [key for key in keys if key not in snapshot]
        if missing:
            found.update({item.pk: int(item.stock) for item in StockItem.batch_get(missing, consistent_read=True)})
        return {pk: found.get(pk, 0) for pk, _ in keys}

    def put_reward(self, item: RewardItem, stock: list[int] | None) -> None:
        """A new reward and its stock shards in one transaction; for an existing one (stock None) only
        its terms change."""
        with TransactWrite(connection=self._connection) as tx:
            if stock is None:
                actions = [getattr(RewardItem, k).set(getattr(item, k)) if getattr(item, k) is not None
                           else getattr(RewardItem, k).remove() for k in _REWARD_TERMS]
                tx.update(item, actions=actions, condition=RewardItem.pk.exists())
                return
            tx.save(item, condition=RewardItem.pk.does_not_exist())
            tenant_id = item.pk.removesuffix("#REWARDS")
            for i, units in enumerate(stock):
                tx.save(StockItem(stock_pk(tenant_id, item.sk, i), "#STOCK", stock=units))

    def restock(self, tenant_id: str, reward_id: str, changes: dict[str, int]) -> None:
        with TransactWrite(connection=self._connection) as tx:
            tx.update(RewardItem(f"{tenant_id}#REWARDS", reward_id),
                      actions=[RewardItem.stock_added.add(sum(changes.values()))], condition=RewardItem.pk.exists())
            for pk, delta in changes.items():
                cond = StockItem.stock >= -delta if delta < 0 else None
                tx.update(StockItem(pk, "#STOCK"), actions=[StockItem.stock.add(delta)], condition=cond)

    def mall_order(self, tenant_id: str, oid: str) -> MallOrderItem | None:
        return self._get(MallOrderItem, *mall_order_key(tenant_id, oid))

    def save_failed_order(self, item: MallOrderItem) -> bool:
        """Records a business failure under its request id; False when the id was taken meanwhile."""
        try:
            item.save(condition=MallOrderItem.pk.does_not_exist())
            return True
        except PutError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def orders_due(self, shard: str, until: str, page: int = 100) -> list[MallOrderItem]:
        return list(MallOrderItem.fulfil.query(shard, MallOrderItem.fulfil_sk <= until + "~", limit=page))

    # ---- the one write path ------------------------------------------------------------------------
    def commit(self, plan: Plan, now: datetime) -> None:
        self.forget()
        try:
            with TransactWrite(connection=self._connection) as tx:
                self._write(tx, plan, now)
        except TransactWriteError as err:
            if err.cause_response_code in ("TransactionCanceledException", "TransactionConflictException"):
                reasons = [getattr(r, "code", None) if r else None for r in (err.cancellation_reasons or [])]
                raise Contention(reasons) from err
            raise

    def _write(self, tx: TransactWrite, plan: Plan, now: datetime) -> None:
        if plan.event:
            event_id, digest, response = plan.event
            tenant_id = plan.changes[0].member.tenant_id
            tx.save(EventItem(*event_key(tenant_id, event_id), digest=digest, response=response,
                              created_at=now), condition=EventItem.pk.does_not_exist())
        for change in plan.changes:
            self._write_member(tx, change, now)
        if plan.order:
            self._write_order(tx, plan.changes[0].member.tenant_id, plan.order)
        if plan.invite:
            self._write_invite(tx, plan.changes[0].member.tenant_id, plan.invite)
        for pk, sk in plan.absent:
            tx.condition_check(GuardItem, pk, sk, condition=GuardItem.pk.does_not_exist())
        for m in plan.unchanged:
            pk = member_pk(m.tenant_id, m.member_id)
            cond = (MemberItem.version == m.version) if m.exists else MemberItem.pk.does_not_exist()
            tx.condition_check(MemberItem, pk, BALANCE_SK, condition=cond)
        for pk, delta in plan.stock:
            cond = (StockItem.stock >= -delta) if delta < 0 else None
            tx.update(StockItem(pk, "#STOCK"), actions=[StockItem.stock.add(delta)], condition=cond)
        if plan.mall_order:
            self._write_mall_order(tx, plan.mall_order)
        if plan.job:
            pk, sk, counters = plan.job
            tx.update(JobItem(pk, sk), actions=[getattr(JobItem, k).add(v) for k, v in counters.items()])

    def _write_member(self, tx: TransactWrite, change: MemberChange, now: datetime) -> None:
        m = change.member
        pk = member_pk(m.tenant_id, m.member_id)
        actions = [MemberItem.version.set(m.version + 1)]
        if not m.exists:
            actions += [MemberItem.tenant_id.set(m.tenant_id), MemberItem.member_id.set(m.member_id),
                        MemberItem.created_at.set(now), MemberItem.status.set("active")]
        for part, amount in change.deltas.items():
            if amount:
                actions.append(getattr(MemberItem, part).add(amount))
        for name, value in change.set.items():
            attr = getattr(MemberItem, name)
            actions.append(attr.remove() if value is None else attr.set(value))
        condition = (MemberItem.version == m.version) if m.exists else MemberItem.pk.does_not_exist()
        tx.update(MemberItem(pk, BALANCE_SK), actions=actions, condition=condition)
        for sk in change.guards:
            tx.save(GuardItem(pk, sk), condition=GuardItem.pk.does_not_exist())
        if change.cap:
            sk, seen, after = change.cap
            cond = GuardItem.granted == seen
            if seen == 0:  # never counted, or counted back down to zero by a cancellation
                cond = cond | GuardItem.pk.does_not_exist()
            tx.update(GuardItem(pk, sk), actions=[GuardItem.granted.set(after)], condition=cond)
        for lot in _merge_lots(change.lots):
            cond = None
            if lot.expect:
                cond = (LotItem.state == lot.expect[0]) & (LotItem.remaining == lot.expect[1])
            tx.update(LotItem(pk, lot.sk), actions=_lot_actions(pk, lot), condition=cond)
        for entry in change.entries:
            tx.save(_entry_item(pk, m.tenant_id, entry, now), condition=EntryItem.pk.does_not_exist())

    def _write_order(self, tx: TransactWrite, tenant_id: str, order: dict[str, Any]) -> None:
        key = order_key(tenant_id, order["order_id"])
        if order["create"]:
            tx.save(OrderItem(*key, **order["set"]), condition=OrderItem.pk.does_not_exist())
        else:
            actions = [OrderItem.version.set(order["version"] + 1)]
            actions += [getattr(OrderItem, k).set(v) for k, v in order["set"].items()]
            tx.update(OrderItem(*key), actions=actions, condition=OrderItem.version == order["version"])

    def _write_mall_order(self, tx: TransactWrite, order: dict[str, Any]) -> None:
        if order["create"]:
            tx.save(MallOrderItem(order["pk"], "#ORDER", **order["set"]), condition=MallOrderItem.pk.does_not_exist())
            return
        actions = [MallOrderItem.version.set(order["version"] + 1)]
        for k, v in order["set"].items():
            attr = getattr(MallOrderItem, k)
            actions.append(attr.remove() if v is None else attr.set(v))
        tx.update(MallOrderItem(order["pk"], "#ORDER"), actions=actions,
                  condition=MallOrderItem.version == order["version"])

    def _write_invite(self, tx: TransactWrite, tenant_id: str, invite: dict[str, Any]) -> None:
        key = invite_key(tenant_id, invite["invitee_id"])
        if invite["create"]:
            tx.save(GuardItem(*key, **invite["set"]), condition=GuardItem.pk.does_not_exist())
        else:
            tx.update(GuardItem(*key), actions=[getattr(GuardItem, k).set(v) for k, v in invite["set"].items()])


def _merge_lots(lots):
    merged: dict[str, Any] = {}
    for lot in lots:
        if lot.sk in merged:
            prev = merged[lot.sk]
            prev.add += lot.add
            prev.set.update(lot.set)
            prev.due = lot.due or prev.due
            prev.clear_due = lot.clear_due or prev.clear_due
            prev.expect = prev.expect or lot.expect
        else:
            merged[lot.sk] = type(lot)(lot.sk, lot.add, dict(lot.set), lot.due, lot.clear_due, lot.expect)
    return merged.values()


def _lot_actions(pk: str, lot) -> list:
    actions = []
    if lot.add:
        actions.append(LotItem.remaining.add(lot.add))
    for name, value in lot.set.items():
        attr = getattr(LotItem, name)
        actions.append(attr.remove() if value is None else attr.set(value))
    if lot.due:
        actions += [LotItem.due_pk.set(due_shard(pk)), LotItem.due_sk.set(f"{lot.due}#{pk}#{lot.sk}")]
    elif lot.clear_due:
        actions += [LotItem.due_pk.remove(), LotItem.due_sk.remove()]
    if not actions:
        actions.append(LotItem.version.add(0))
    return actions


def _entry_item(pk: str, tenant_id: str, entry: Entry, now: datetime) -> EntryItem:
    return EntryItem(
        pk, f"E#{now.astimezone(UTC).isoformat(timespec='microseconds')}#{entry.entry_id}",
        board_pk=f"{tenant_id}#{entry.program_day}" if entry.on_board and entry.program_day else None,
        entry_id=entry.entry_id, kind=entry.kind, source_type=entry.source_type, source_id=entry.source_id,
        actor=entry.actor, reason=entry.reason, points=entry.points, deltas=entry.deltas, earned=entry.earned,
        lots=entry.lots, group_id=entry.group_id, program_day=entry.program_day, occurred_at=entry.occurred_at,
        created_at=now,
    )
