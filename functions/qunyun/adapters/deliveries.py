"""The deliveries repository: a group's day (its daily cap and its delivery records), WeCom quota counters, and
the records awaiting a WeCom owner (layout: adapters/deliveries_tables.py)."""

from __future__ import annotations

import dataclasses
import itertools
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.expressions.condition import size

from qunyun.adapters.deliveries_tables import CounterItem, DayItem, OutcomePageItem, WaitingTaskItem
from qunyun.adapters.tables import conditional_failed
from qunyun.domain.deliveries import MOVES, Delivery, Status
from qunyun.domain.owner_tasks import OwnerTask
from qunyun.domain.quota import Allowance, Push, Spent

DAY_SHARDS = 32
AWAITING_SHARDS = 8
# Delivery fields → their names in a record's map. Times are whole microseconds since the epoch.
_SHORT = {"kind": "k", "edition": "e", "channel": "c", "status": "s", "reason": "r", "attempts": "a", "error": "x",
          "message_ids": "m", "quota_period": "q", "created_at": "t0", "updated_at": "t", "sent_at": "ts"}
_TIMES = frozenset({"created_at", "updated_at", "sent_at"})
STATUS = _SHORT["status"]
# A sender's claim on a planned record while it sends (adapters/delivery_claims.py): its token, since when, and
# how many parts of the message reached the group before a transient failure.
CLAIM, CLAIMED_AT, PARTS_SENT = "cl", "ct", "p"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def micros(t: datetime) -> int:
    return (t - _EPOCH) // _MICRO


def from_micros(n: int | float) -> datetime:
    return _EPOCH + int(n) * _MICRO


def day_key(tenant_id: str, day: date, group_id: str) -> tuple[str, str]:
    """The (pk, sk) of a group's local day."""
    return f"{tenant_id}#DAY#{day.isoformat()}#{zlib.crc32(group_id.encode()) % DAY_SHARDS:02d}", group_id


def group_pk(tenant_id: str, group_id: str) -> str:
    return f"{tenant_id}#{group_id}"


def quota_sk(period_key: str) -> str:
    return f"QUOTA#{period_key}"


def quota_token(day: date, push_id: str) -> str:
    """A push's entry in its group's quota counter: the local date (MMDD) and the CRC-32 of its id, 12
    characters. Two pushes of one group and date would need the same checksum to be taken for each other."""
    return f"{day.month:02d}{day.day:02d}{zlib.crc32(push_id.encode()):08x}"


def page_pk(tenant_id: str, token: str) -> str:
    """The key (with PAGE_SK) of the outcome page of the tenant's records claimed with `token`."""
    return f"{tenant_id}#~out#{token}"


PAGE_SK = "OUT"


def page_entry(group_id: str, day: date, push_id: str) -> str:
    """A record's key on an outcome page."""
    return f"{group_id}#{day.isoformat()}#{push_id}"


def waiting_pk(tenant_id: str, msgid: str) -> str:
    return f"{tenant_id}#~wait#{msgid}"


def awaiting_keys(tenant_id: str, msgid: str) -> tuple[str, str]:
    """The `awaiting_owner` index keys of a task with groups waiting for its owner."""
    task = f"{tenant_id}#{msgid}"
    return f"{zlib.crc32(task.encode()) % AWAITING_SHARDS:02d}", task


def encode(d: Delivery) -> dict:
    """A record's map: its fields under their short names, those without a value left out."""
    out = {}
    for name, short in _SHORT.items():
        value = getattr(d, name)
        if name in _TIMES:
            value = micros(value) if value is not None else None
        elif name == "status":
            value = value.value
        elif name == "message_ids":
            value = list(value) or None
        if value is not None:
            out[short] = value
    return out


def decode(tenant_id: str, group_id: str, day: date, push_id: str, data: dict) -> Delivery:
    values = {name: data.get(short) for name, short in _SHORT.items()}
    for name in _TIMES:
        values[name] = from_micros(values[name]) if values[name] is not None else None
    values["attempts"] = int(values["attempts"] or 0)
    values["message_ids"] = list(values["message_ids"] or [])
    return Delivery(tenant_id=tenant_id, group_id=group_id, date=day, push_id=push_id, **values)


def record_field(push_id: str, name: str):
    """The document path of one field of a push's record (a Delivery field name, or CLAIM/CLAIMED_AT/PARTS_SENT)."""
    return DayItem.records[push_id][_SHORT.get(name, name)]


def _written(record: Delivery, claim: tuple[str, datetime] | None) -> dict:
    """A planned record's map as `spend` writes it: claimed for a sender (its token, the time, one more attempt)
    when `claim` is given."""
    data = encode(record)
    if claim is not None:
        data.update({CLAIM: claim[0], CLAIMED_AT: micros(claim[1]), _SHORT["attempts"]: record.attempts + 1})
    return data


STATEMENTS_PER_REQUEST = 25  # BatchExecuteStatement's limit


def _requests(statements: Sequence[tuple[tuple[str, str], dict]]) -> list[list[int]]:
    """The statements' indexes in requests of up to 25, with no item (key) twice in one: DynamoDB refuses that."""
    requests: list[list[int]] = []
    items: list[set] = []
    for i, (key, _) in enumerate(statements):
        at = next((n for n, keys in enumerate(items) if key not in keys and len(requests[n]) < STATEMENTS_PER_REQUEST),
                  None)
        if at is None:
            requests.append([])
            items.append(set())
            at = len(requests) - 1
        requests[at].append(i)
        items[at].add(key)
    return requests


def execute_statements(statements: Sequence[tuple[tuple[str, str], dict]]) -> list[bool]:
    """Runs PartiQL write statements on the deliveries table, each given with its item's key, in
    BatchExecuteStatement requests (`_requests`); whether each was applied, in order. A statement refused (its
    condition, a duplicate item, a throttle) or in a request that failed is False: the caller writes it alone,
    which says why. (A request that failed after DynamoDB applied it, a timeout, leaves its statements written:
    the single write then finds its condition false.)"""
    done = [False] * len(statements)
    client = DayItem._get_connection().connection.client
    for request in _requests(statements):
        try:
            responses = client.batch_execute_statement(Statements=[statements[i][1] for i in request])["Responses"]
        except (BotoCoreError, ClientError):
            continue
        for i, response in zip(request, responses, strict=True):
            done[i] = "Error" not in response
    return done


def _insert_statement(item: CounterItem | DayItem) -> dict:
    """The item's PartiQL INSERT: refused (a duplicate) when the table has an item with its key."""
    values = item.serialize()
    return {"Statement": f'INSERT INTO "{item.Meta.table_name}" VALUE {{'
                         + ", ".join(f"'{name}': ?" for name in values) + "}",
            "Parameters": list(values.values())}


def _mass_send_statement(record: Delivery, limits: Allowance, read: Spent) -> tuple[tuple[str, str], dict]:
    """Takes the push's mass send of the quota period `limits.period_key` (with its item's key) while fewer than
    `limits.period` are taken: the counter's first, a new item, when it held none when `read`; otherwise added
    to it. PartiQL's UPDATE does not create an item and its INSERT does not overwrite one: a counter that came or
    went since the read refuses the statement, and the push is spent alone."""
    key = group_pk(record.tenant_id, record.group_id), quota_sk(limits.period_key)
    token = quota_token(record.date, record.push_id)
    if read.period == 0:
        return key, _insert_statement(CounterItem(*key, pushes={token}))
    return key, {"Statement": f'UPDATE "{CounterItem.Meta.table_name}" SET pushes = set_add(pushes, ?) '
                              "WHERE pk = ? AND sk = ? AND size(pushes) < ?",
                 "Parameters": [{"SS": [token]}, {"S": key[0]}, {"S": key[1]}, {"N": str(limits.period)}]}


def _new_day_statement(record: Delivery, claim: tuple[str, datetime]) -> dict:
    """The day's first write (`spend` on a day not begun): its slot spent and the push's record, claimed; refused
    when the day has an item by now."""
    pk, sk = day_key(record.tenant_id, record.date, record.group_id)
    return _insert_statement(DayItem(pk, sk, spent=1, pushes={record.push_id},
                                     records={record.push_id: _written(record, claim)}))


@dataclass(frozen=True)
class GroupDay:
    """A group's local day as stored: what it spent and the records of its pushes (raw maps by push id)."""

    tenant_id: str
    group_id: str
    day: date
    begun: bool = False  # the day has an item: something was recorded or spent on it
    spent: int = 0
    pushes: frozenset[str] = frozenset()
    records: dict[str, dict] = field(default_factory=dict)
    # The mass sends held in quota periods read with the day, by period key (none held: an empty set).
    periods: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, tenant_id: str, group_id: str, day: date, item: DayItem | None,
           periods: dict[str, frozenset[str]] | None = None) -> GroupDay:
        if item is None:
            return cls(tenant_id, group_id, day, periods=periods or {})
        return cls(tenant_id, group_id, day, True, int(item.spent or 0), frozenset(item.pushes or ()),
                   dict(item.records.as_dict() if item.records is not None else {}), periods or {})

    def record(self, push_id: str) -> Delivery | None:
        data = self.records.get(push_id)
        return decode(self.tenant_id, self.group_id, self.day, push_id, data) if data is not None else None

    def all(self) -> list[Delivery]:
        return [self.record(p) for p in sorted(self.records)]


class DeliveryRepository:
    # ---- a group's day ------------------------------------------------------------------------------------
    def day(self, tenant_id: str, group_id: str, day: date, *, as_stored: bool = False) -> GroupDay:
        """The group's day, read consistently: its records as they read (`resolved`), or `as_stored`."""
        try:
            item = DayItem.get(*day_key(tenant_id, day, group_id), consistent_read=True)
        except DayItem.DoesNotExist:
            item = None
        found = GroupDay.of(tenant_id, group_id, day, item)
        return found if as_stored else self.resolved(tenant_id, [found])[0]

    def resolved(self, tenant_id: str, days: list[GroupDay]) -> list[GroupDay]:
        """The days with their records as they read: a record still `planned` and claimed reads as the outcome
        its claim token's page holds for it, if one does (`record_on_pages`), as though `finish` had written it.
        The pages of the claims found are read consistently, 100 to a request (none for days without a claimed
        record)."""
        tokens = sorted({t for d in days for data in d.records.values() if (t := _pending_claim(data))})
        pages = {item.pk: item.outcomes.as_dict()
                 for item in OutcomePageItem.batch_get([(page_pk(tenant_id, t), PAGE_SK) for t in tokens],
                                                       consistent_read=True)} if tokens else {}
        out = []
        for d in days:
            records = dict(d.records)
            for push_id, data in d.records.items():
                token = _pending_claim(data)
                entries = pages.get(page_pk(tenant_id, token)) if token else None
                fields = entries.get(page_entry(d.group_id, d.day, push_id)) if entries else None
                if fields is not None:
                    records[push_id] = _finished(data, fields)
            out.append(dataclasses.replace(d, records=records) if records != d.records else d)
        return out

    def days(self, tenant_id: str, wanted: Iterable[tuple[str, date]],
             periods: dict[tuple[str, date], str] | None = None) -> dict[tuple[str, date], GroupDay]:
        """Several groups' days, `(group_id, day)` each, read consistently 100 keys to a request; with each day
        the mass sends of its quota period when `periods` names one (a WeCom customer group's), read in the same
        requests: what `spent` then reads for it again."""
        wanted = list(dict.fromkeys(wanted))
        periods = periods or {}
        keys = {day_key(tenant_id, d, g): (g, d) for g, d in wanted}
        counters = {(g, d): (group_pk(tenant_id, g), quota_sk(k)) for (g, d), k in periods.items()}
        found = {(i.pk, i.sk): i for i in DayItem.batch_get(list(dict.fromkeys([*keys, *counters.values()])),
                                                            consistent_read=True)}

        def held(g: str, d: date) -> dict[str, frozenset[str]]:
            if (g, d) not in counters:
                return {}
            counter = found.get(counters[(g, d)])
            return {periods[(g, d)]: frozenset(counter.pushes or ()) if counter is not None else frozenset()}

        read = [GroupDay.of(tenant_id, g, d, found.get(k), held(g, d)) for k, (g, d) in keys.items()]
        return {(r.group_id, r.day): r for r in self.resolved(tenant_id, read)}

    def spent(self, tenant_id: str, group_id: str, day: date, period_key: str | None,
              known: GroupDay | None = None, push_id: str | None = None) -> Spent:
        """What the group has spent on the day and in the quota period, read consistently (the day not again
        when `known`, just read, nor the period when it was read with the day). The mass send `push_id` holds in
        the period, if any, is not counted in `period` but said by `period_held`."""
        read_with_day = known is not None and period_key in known.periods
        keys = [] if known is not None else [day_key(tenant_id, day, group_id)]
        keys += [(group_pk(tenant_id, group_id), quota_sk(period_key))] \
            if period_key is not None and not read_with_day else []
        # The day and the quota counter share the table and the `pushes` attribute: one request reads both.
        found = {(i.pk, i.sk): i for i in DayItem.batch_get(keys, consistent_read=True)} if keys else {}
        today = known or GroupDay.of(tenant_id, group_id, day, found.get(day_key(tenant_id, day, group_id)))
        if read_with_day:
            tokens = set(known.periods[period_key])
        else:
            period = found.get((group_pk(tenant_id, group_id), quota_sk(period_key))) if period_key else None
            tokens = set(period.pushes or ()) if period is not None else set()
        held = push_id is not None and quota_token(day, push_id) in tokens
        return Spent(day=today.spent, period=len(tokens) - held, pushes=today.pushes, begun=today.begun,
                     period_held=held)

    def spend(self, tenant_id: str, group_id: str, day: date, push: Push, limits: Allowance, record: Delivery,
              *, begun: bool, claim: tuple[str, datetime] | None = None, period_held: bool = False) -> bool:
        """Spends one slot of the day, and a mass send of the quota period when there is one, and writes the
        push's `record` (claimed for a sender when `claim` is given: its token and the time).

        The period's mass send is taken first (unless `period_held`: the push took it before), then the day's
        slot and the record in one conditional write. Conditions make each all or nothing: the push must not
        have spent on the day or have a record yet, and fewer than the allowed pushes (mass sends) may be spent.
        `begun` says whether the day's item existed when read (it is then updated, otherwise created). False
        when a condition failed; the caller reads again and decides again, and gives the period's mass send
        back (`give_back_period`) if the push is not to go after all.

        Why not one transaction: it would bill both items twice (4 write units instead of 2). The price is a
        window between the two writes: a sender that stops there leaves the mass send taken; its retry finds it
        held and writes the day, and without a retry the group has one mass send fewer that period. WeCom's
        quota is never overrun."""
        pk, sk = day_key(tenant_id, day, group_id)
        data = _written(record, claim)
        try:
            if limits.period_key is not None and not period_held:
                in_period = CounterItem.pushes.does_not_exist() | (size(CounterItem.pushes) < limits.period)
                CounterItem(group_pk(tenant_id, group_id), quota_sk(limits.period_key)).update(
                    actions=[CounterItem.pushes.add({quota_token(day, push.push_id)})], condition=in_period)
            if begun:
                on_day = DayItem.pk.exists() & ~DayItem.pushes.contains(push.push_id) \
                    & DayItem.records[push.push_id].does_not_exist() \
                    & (DayItem.spent.does_not_exist() | (DayItem.spent < limits.day))
                DayItem(pk, sk).update(actions=[DayItem.spent.add(1), DayItem.pushes.add({push.push_id}),
                                                DayItem.records[push.push_id].set(data)], condition=on_day)
            else:
                DayItem(pk, sk, spent=1, pushes={push.push_id}, records={push.push_id: data}).save(
                    condition=DayItem.pk.does_not_exist())
        except (PutError, UpdateError) as err:
            if conditional_failed(err):
                return False
            raise
        return True

    def spend_new_days(self, pushes: Sequence[tuple[Delivery, Allowance, Spent]], claim: tuple[str, datetime]
                       ) -> list[bool]:
        """`spend` for many groups' pushes on days nothing was written to yet, from what was just read: each
        `(record, limits, spent)` (the record's push, group and day; its limits; what was read spent), written
        claimed. The quota periods' mass sends are taken first, then the days and records of the pushes that
        took theirs or held one: PartiQL statements 25 to a request with the single writes' conditions (a new
        item where none was read). Whether each push was spent, in order. One that was not (a condition failed:
        its day or its period changed since the read; or a request failed) may hold its period's mass send: the
        caller spends it alone (`spend` reads again, finds the mass send held, and takes the day or gives the
        mass send back), as after a sender stopped between `spend`'s two writes."""
        counters = [None if read.period_held or limits.period_key is None else _mass_send_statement(r, limits, read)
                    for r, limits, read in pushes]
        took = iter(execute_statements([c for c in counters if c is not None]))
        going = [i for i, c in enumerate(counters) if c is None or next(took)]
        written = execute_statements([(day_key(r.tenant_id, r.date, r.group_id), _new_day_statement(r, claim))
                                      for r, _, _ in (pushes[i] for i in going)])
        done = [False] * len(pushes)
        for i, ok in zip(going, written, strict=True):
            done[i] = ok
        return done

    def give_back_period(self, tenant_id: str, group_id: str, day: date, push_id: str, period_key: str) -> None:
        """Returns the mass send a push took in the period (it was skipped after all: the day was full)."""
        CounterItem(group_pk(tenant_id, group_id), quota_sk(period_key)).update(
            actions=[CounterItem.pushes.delete({quota_token(day, push_id)})])

    # ---- delivery records ---------------------------------------------------------------------------
    def add(self, record: Delivery, begun: bool | None = None) -> bool:
        """Writes a record of a push that spent nothing (a skip); False when the push has one already.
        `begun`, when known, says whether the group's day has an item yet (saves a refused write)."""
        pk, sk = day_key(record.tenant_id, record.date, record.group_id)
        data = encode(record)
        for _ in range(4):
            try:
                if begun is False:
                    DayItem(pk, sk, records={record.push_id: data}).save(condition=DayItem.pk.does_not_exist())
                else:
                    DayItem(pk, sk).update(actions=[DayItem.records[record.push_id].set(data)],
                                           condition=DayItem.pk.exists()
                                           & DayItem.records[record.push_id].does_not_exist())
                return True
            except (PutError, UpdateError) as err:
                if not conditional_failed(err):
                    raise
            stored = self.day(record.tenant_id, record.group_id, record.date)
            if record.push_id in stored.records:
                return False
            begun = stored.begun  # created or not meanwhile: write the other way
        raise RuntimeError(f"could not record {record.push_id} of group {record.group_id}: the day keeps changing")

    def forget_skip(self, tenant_id: str, group_id: str, day: date, push_id: str, reasons: Iterable[str]) -> bool:
        """Removes a push's record if it is a skip for one of `reasons` (it spent nothing), so the push can be
        planned again; False when there is none, or it says something else (sent, another reason)."""
        condition = (record_field(push_id, "status") == Status.skipped.value) \
            & record_field(push_id, "reason").is_in(*reasons)
        try:
            DayItem(*day_key(tenant_id, day, group_id)).update(actions=[DayItem.records[push_id].remove()],
                                                              condition=condition)
            return True
        except UpdateError as err:
            if conditional_failed(err):
                return False
            raise

    def record_on_pages(self, token: str, outcomes: Sequence[tuple[Delivery, dict]]) -> None:
        """Writes outcomes of records claimed with `token` (each record and its `outcome_fields`) on the token's
        outcome page, one item per tenant, instead of a write on each record's day: a new item, or entries added
        to the page when the token has one already. Each reads as its record while that is still planned and
        claimed with `token` (`resolved`); one whose claim is not the token's any more reads as nothing, as
        `finish` would have been refused."""
        entries: dict[str, dict] = defaultdict(dict)
        for record, fields in outcomes:
            entries[record.tenant_id][page_entry(record.group_id, record.date, record.push_id)] = _short(fields)
        for tenant_id, tenant_entries in entries.items():
            page = OutcomePageItem(page_pk(tenant_id, token), PAGE_SK, outcomes=tenant_entries)
            try:
                page.save(condition=OutcomePageItem.pk.does_not_exist())
            except PutError as err:
                if not conditional_failed(err):
                    raise
                page.update(actions=[OutcomePageItem.outcomes[k].set(v) for k, v in tenant_entries.items()])

    def get(self, tenant_id: str, group_id: str, day: date, push_id: str) -> Delivery | None:
        return self.day(tenant_id, group_id, day).record(push_id)

    def update(self, record: Delivery, actions: list, condition) -> dict | None:
        """Applies `actions` to the record where `condition` (and the record's existence) holds; the record's map
        as written, or None when refused."""
        item = DayItem(*day_key(record.tenant_id, record.date, record.group_id))
        try:
            item.update(actions=actions, condition=DayItem.records[record.push_id].exists() & condition)
        except UpdateError as err:
            if conditional_failed(err):
                return None
            raise
        return GroupDay.of(record.tenant_id, record.group_id, record.date, item).records[record.push_id]

    def move(self, record: Delivery, status: Status, now: datetime, *, reason: str | None = None,
             error: str | None = None, message_ids: Iterable[str] = (), attempt: bool = False,
             sent_at: datetime | None = None) -> Delivery | None:
        """Moves a record to `status` if its status allows it (domain MOVES), counting an attempt and adding
        platform message ids; None when the record had moved on meanwhile. A record sent records `sent_at`
        (default `now`). A record a sender still claims moves from what it reads as (its outcome on the
        sender's page, if there is one: `resolved`), and the claim ends."""
        allowed = [s.value for s in Status if status in MOVES[s]]
        pid, ids = record.push_id, list(message_ids)
        actions = outcome_actions(pid, status, now, reason=reason, error=error, message_ids=ids, sent_at=sent_at)
        if attempt:
            actions.append(record_field(pid, "attempts").set(record_field(pid, "attempts") + 1))
        fields = _short(outcome_fields(status, now, reason=reason, error=error, message_ids=ids, sent_at=sent_at))
        for _ in range(3):
            moved = self.update(record, actions, record_field(pid, "status").is_in(*allowed)
                                & record_field(pid, CLAIM).does_not_exist())
            if moved is None:
                stored = self.day(record.tenant_id, record.group_id, record.date, as_stored=True)
                data = stored.records.get(pid)
                if data is None or (CLAIM not in data and data.get(STATUS) not in allowed):
                    return None
                if CLAIM not in data:
                    continue  # the claim ended since the write: move the record as it is now
                reads = self.resolved(record.tenant_id, [stored])[0].records[pid]
                if reads.get(STATUS) not in allowed:
                    return None
                whole = _finished(reads, fields)
                if attempt:
                    whole[_SHORT["attempts"]] = int(whole.get(_SHORT["attempts"]) or 0) + 1
                since = record_field(pid, CLAIMED_AT)
                held = (record_field(pid, CLAIM) == data[CLAIM]) & (record_field(pid, "status") == data.get(STATUS)) \
                    & (since == data[CLAIMED_AT] if CLAIMED_AT in data else since.does_not_exist())
                moved = self.update(record, [DayItem.records[pid].set(whole)], held)
                if moved is None:
                    continue  # the claim changed since the read
            return decode(record.tenant_id, record.group_id, record.date, pid, moved)
        return None

    # ---- tasks awaiting a WeCom owner ------------------------------------------------------------------------
    def await_owner(self, msgid: str, records: list[Delivery], now: datetime) -> None:
        """Enters task `msgid`, created for these records (one push of one date), in the `awaiting_owner` index,
        before the records themselves say so: the follow-up job settles a group whose record never did."""
        first = records[0]
        if any((r.tenant_id, r.date, r.push_id) != (first.tenant_id, first.date, first.push_id) for r in records):
            raise ValueError(f"task {msgid}: its records are not of one tenant, date and push")
        index_pk, index_sk = awaiting_keys(first.tenant_id, msgid)
        WaitingTaskItem(waiting_pk(first.tenant_id, msgid), "WAIT", awaiting_pk=index_pk, awaiting_sk=index_sk,
                        since=now, day=first.date.isoformat(), push_id=first.push_id, kind=first.kind,
                        edition=first.edition, waiting={r.group_id for r in records}).save()

    def settle_waiting(self, tenant_id: str, msgid: str, group_ids: Iterable[str]) -> None:
        """Takes groups off task `msgid`'s waiting list (recorded, or found moved on); the task leaves the
        index with its last group."""
        ids = set(group_ids)
        if not ids:
            return
        item = WaitingTaskItem(waiting_pk(tenant_id, msgid), "WAIT")
        try:
            item.update(actions=[WaitingTaskItem.waiting.delete(ids)], condition=WaitingTaskItem.pk.exists())
        except UpdateError as err:
            if conditional_failed(err):
                return  # settled and deleted by a concurrent run
            raise
        if not item.waiting:
            try:
                item.delete(condition=WaitingTaskItem.waiting.does_not_exist())
            except DeleteError as err:
                if not conditional_failed(err):
                    raise

    def awaiting_owner(self, first_shard: int = 0) -> Iterator[OwnerTask]:
        """Every WeCom task with groups awaiting its owner, from the sparse `awaiting_owner` index: one paged
        query per shard, starting at `first_shard` (a caller that may stop early rotates it, so no shard always
        comes last). Each task's records are given as they were handed over (awaiting_owner with the msgid);
        the index is eventually consistent and the records may have moved on: a caller changes a record only
        through `move`, whose condition reads the record itself."""
        for n in range(AWAITING_SHARDS):
            for item in WaitingTaskItem.awaiting.query(f"{(first_shard + n) % AWAITING_SHARDS:02d}"):
                tenant_id, _, msgid = item.awaiting_sk.partition("#")
                push = Push(item.kind, item.push_id, item.edition)
                day = date.fromisoformat(item.day)
                records = tuple(Delivery.of(tenant_id, g, day, push, "wecom_customer_group", Status.awaiting_owner,
                                            item.since).model_copy(update={"message_ids": [msgid]})
                                for g in sorted(item.waiting or ()))
                yield OwnerTask(tenant_id, msgid, records, since=item.since)

    # ---- listings -----------------------------------------------------------------------------------------
    def on_day(self, tenant_id: str, day: date, group_id: str | None = None) -> list[Delivery]:
        """The tenant's records of a local date (one group's, when given), by group and push: one paged query
        per shard, or one read for a group."""
        if group_id is not None:
            return self.day(tenant_id, group_id, day).all()
        shards = (DayItem.query(f"{tenant_id}#DAY#{day.isoformat()}#{n:02d}") for n in range(DAY_SHARDS))
        days = sorted((GroupDay.of(tenant_id, i.sk, day, i) for i in itertools.chain(*shards)),
                      key=lambda d: d.group_id)
        return [r for d in self.resolved(tenant_id, days) for r in d.all()]

    def of_group(self, tenant_id: str, group_id: str, limit: int = 100, *, since: date | None = None,
                 until: date | None = None) -> Iterator[Delivery]:
        """One group's records, newest date first, from `until` back to `since` (default: a year ahead, where
        event reminders may already have recorded skips, back to 400 days ago). A group's days are keyed by
        date, so they are read day by day, 100 to a request: the price of a day's pushes costing one write each."""
        today = datetime.now(UTC).date()
        until, since = until or today + timedelta(days=366), since or today - timedelta(days=400)
        dates = [until - timedelta(days=n) for n in range((until - since).days + 1)]
        given = 0
        for start in range(0, len(dates), 100):
            page = dates[start:start + 100]
            found = self.days(tenant_id, [(group_id, d) for d in page])
            for d in page:
                for record in reversed(found[(group_id, d)].all()):
                    yield record
                    given += 1
                    if given >= limit:
                        return


def outcome_fields(status: Status, now: datetime, *, reason: str | None = None, error: str | None = None,
                   message_ids: Iterable[str] | None = None, sent_at: datetime | None = None) -> dict:
    """What recording a record's new status writes, by Delivery field: the status and the time, its reason,
    error and sent time when there are, and the message ids to add (a list, left out when empty)."""
    fields: dict = {"status": status.value, "updated_at": micros(now)}
    fields.update({"reason": reason} if reason is not None else {})
    fields.update({"error": error} if error is not None else {})
    ids = list(message_ids or ())
    fields.update({"message_ids": ids} if ids else {})
    fields.update({"sent_at": micros(sent_at or now)} if status is Status.sent else {})
    return fields


def _short(fields: dict) -> dict:
    """Delivery fields by their short names."""
    return {_SHORT[name]: value for name, value in fields.items()}


def _pending_claim(data: dict) -> str | None:
    """The claim token of a record still `planned` and claimed (its outcome may be on that token's page)."""
    return data.get(CLAIM) if data.get(STATUS) == Status.planned.value else None


def _finished(data: dict, fields: dict) -> dict:
    """A record's map once `finish` recorded the outcome `fields` (`outcome_fields`, short names) and ended the
    claim: the fields set, message ids added to any there."""
    out = {k: v for k, v in data.items() if k not in (CLAIM, CLAIMED_AT)}
    ids = _SHORT["message_ids"]
    out.update({k: [*(out.get(ids) or []), *v] if k == ids else v for k, v in fields.items()})
    return out


def outcome_actions(push_id: str, status: Status, now: datetime, *, reason: str | None = None,
                    error: str | None = None, message_ids: list[str] | None = None,
                    sent_at: datetime | None = None) -> list:
    """Update actions recording a record's new status (`outcome_fields`); message ids are added to any there."""
    actions = []
    for name, value in outcome_fields(status, now, reason=reason, error=error, message_ids=message_ids,
                                      sent_at=sent_at).items():
        path = record_field(push_id, name)
        actions.append(path.set((path | []).append(value)) if name == "message_ids" else path.set(value))
    return actions


# Push ids that can stand in a PartiQL path as a quoted name: qunyun's own (`brief.morning`, `farewell`, an event
# reminder's `reminder.{event}.{lead}`) with event ids of letters, digits and `_.:@-`; any other is written by
# `outcome_actions` instead.
_QUOTABLE = re.compile(r"[A-Za-z0-9:_.@-]{1,200}")


def _typed(value: str | int | list[str]) -> dict:
    """A statement parameter: a string, a whole number or a list of strings as DynamoDB types them."""
    if isinstance(value, list):
        return {"L": [{"S": v} for v in value]}
    return {"N": str(value)} if isinstance(value, int) else {"S": value}


def outcome_statement(record: Delivery, token: str, status: Status, now: datetime, *, reason: str | None = None,
                      error: str | None = None, message_ids: Iterable[str] = ()) -> dict | None:
    """The outcome write of a claimed record (DeliveryClaims.finish) as one PartiQL statement, for
    BatchExecuteStatement: the same fields set and the claim removed, where the record is `planned`, claimed
    with `token` and, when ids are given, has no message ids yet (a planned record never has: `finish` appends
    to ids that exist, a statement cannot). None when the push id cannot be quoted in a statement."""
    pid = record.push_id
    if not _QUOTABLE.fullmatch(pid):
        return None
    fields = outcome_fields(status, now, reason=reason, error=error, message_ids=message_ids)
    values = {name: _typed(value) for name, value in fields.items()}
    path = f'records."{pid}"'
    where = f"pk = ? AND sk = ? AND {path}.{STATUS} = ? AND {path}.{CLAIM} = ?"
    where += f" AND {path}.{_SHORT['message_ids']} IS MISSING" if "message_ids" in fields else ""
    statement = (f'UPDATE "{DayItem.Meta.table_name}"' + "".join(f" SET {path}.{_SHORT[n]} = ?" for n in values)
                 + f" REMOVE {path}.{CLAIM} REMOVE {path}.{CLAIMED_AT} WHERE {where}")
    pk, sk = day_key(record.tenant_id, record.date, record.group_id)
    return {"Statement": statement,
            "Parameters": [*values.values(), *map(_typed, (pk, sk, Status.planned.value, token))]}
