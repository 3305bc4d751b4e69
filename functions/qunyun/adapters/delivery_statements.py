"""PartiQL on the deliveries table: many conditional writes sent together, 25 to a BatchExecuteStatement
request, each with the condition (and the billing) of the single write it stands for."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from qunyun.adapters.deliveries_tables import CounterItem, DayItem
from qunyun.adapters.delivery_keys import counter_key, day_key, quota_token
from qunyun.adapters.delivery_maps import CLAIM, CLAIMED_AT, SHORT, STATUS, outcome_fields, written
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.quota import Allowance, Spent, is_free

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


def mass_send_statement(record: Delivery, limits: Allowance, read: Spent) -> tuple[tuple[str, str], dict]:
    """Takes the push's mass send of the quota period `limits.period_key` (with its item's key) while fewer than
    `limits.period` are taken: the counter's first, a new item, when it held none when `read`; otherwise added
    to it. PartiQL's UPDATE does not create an item and its INSERT does not overwrite one: a counter that came or
    went since the read refuses the statement, and the push is spent alone."""
    key = counter_key(record.tenant_id, record.group_id, limits.period_key)
    token = quota_token(record.date, record.push_id)
    if read.period == 0:
        return key, _insert_statement(CounterItem(*key, pushes={token}))
    return key, {"Statement": f'UPDATE "{CounterItem.Meta.table_name}" SET pushes = set_add(pushes, ?) '
                              "WHERE pk = ? AND sk = ? AND size(pushes) < ?",
                 "Parameters": [{"SS": [token]}, {"S": key[0]}, {"S": key[1]}, {"N": str(limits.period)}]}


def new_day_statement(record: Delivery, claim: tuple[str, datetime]) -> tuple[tuple[str, str], dict]:
    """The day's first write (`spend` on a day not begun), with its item's key: its slot spent and the push's
    record, claimed; refused when the day has an item by now."""
    key = day_key(record.tenant_id, record.date, record.group_id)
    spent = 0 if is_free(record.push_id) else 1  # a free push (domain/quota.py) spends no slot of the day
    return key, _insert_statement(DayItem(*key, spent=spent, pushes={record.push_id},
                                          records={record.push_id: written(record, claim)}))


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
    where += f" AND {path}.{SHORT['message_ids']} IS MISSING" if "message_ids" in fields else ""
    statement = (f'UPDATE "{DayItem.Meta.table_name}"' + "".join(f" SET {path}.{SHORT[n]} = ?" for n in values)
                 + f" REMOVE {path}.{CLAIM} REMOVE {path}.{CLAIMED_AT} WHERE {where}")
    pk, sk = day_key(record.tenant_id, record.date, record.group_id)
    return {"Statement": statement,
            "Parameters": [*values.values(), *map(_typed, (pk, sk, Status.planned.value, token))]}
