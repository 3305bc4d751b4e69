"""The guard's records on DynamoDB Local: an offence and its actions are one item, written with the actions
intended before any is attempted; an operator finds and closes an action by its id whatever colons the group,
member and message ids hold; a batch retried after the deletion call deletes nothing twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

import process_group_events
import pytest
import test_guard
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from inbound_support import CHAT
from qunyun.adapters.community_tables import GuardActionItem, GuardOffenceItem
from qunyun.adapters.guard_groups import GuardPlatforms
from qunyun.adapters.guard_log import GuardLog
from qunyun.channels.moderation import Moderation
from qunyun.domain.guard import Offence, action_id
from qunyun.services import guard_ops
from qunyun.services.guard import guard_messages
from test_guard import T0, World

world, telegram = test_guard.world, test_guard.telegram  # the guard's fixtures
NOW = datetime(2026, 12, 2, tzinfo=UTC)


def items(tenant_id: str) -> list:
    return list(GuardOffenceItem.query(f"{tenant_id}#GUARDLOG"))


def test_an_offence_and_its_actions_are_one_item(world, telegram):
    # WHEN a member's first and second offences come in two batches
    world.batch((7, "加微信", T0))
    world.batch((7, "刷单", T0 + timedelta(hours=1)))
    # THEN each offence is one item carrying its deletion and its warning or removal, each finished
    [first, second] = sorted(items(world.tenant_id), key=lambda i: i.at)
    assert (first.delete_status, first.warn_status, first.remove_status) == ("done", "done", None)
    assert (second.delete_status, second.warn_status, second.remove_status) == ("done", None, "done")
    assert list(GuardActionItem.query(f"{world.tenant_id}#GUARDLOG", GuardActionItem.sk.startswith("A#"))) == []
    assert telegram.bans == [(CHAT, "7")]


def test_a_batch_retried_after_the_deletion_call_deletes_once(world, telegram):
    class Crashing(GuardPlatforms):
        def delete_many(self, group, message_ids):
            super().delete_many(group, message_ids)
            raise TimeoutError("the function stopped before the result was recorded")

    crashing = World(world.tenant_id, telegram, Crashing(Moderation(telegram.base_url)))
    with pytest.raises(BatchProcessingError):
        crashing.batch((7, "加微信", T0))
    # THEN the offence was on record, with its deletion and warning intended, before the deletion was attempted
    [item] = items(world.tenant_id)
    assert (item.delete_status, item.warn_status) == ("intended", "intended") and telegram.deleted == [(CHAT, "1")]
    # WHEN the queue delivers the batch again
    process_group_events.process(crashing.last, None, crashing.deps)
    # THEN nothing is deleted or posted again; both are recorded as interrupted
    assert telegram.deleted == [(CHAT, "1")] and telegram.received == []
    [item] = items(world.tenant_id)
    assert (item.delete_status, item.warn_status) == ("failed", "failed") and "interrupted" in item.warn_reason


def test_an_action_is_found_and_closed_by_its_id_whatever_colons_the_ids_hold(tenant):
    log = GuardLog()
    offence = Offence(tenant.tenant_id, "store:12:vip", "slack", "C1", "slack:U:7", "1700000000.0001:x", "ad",
                      "word 1", "", NOW, actions={"delete": ("intended", ""), "remove": ("intended", "")})
    assert log.add_offence(offence) is None
    log.finish_offence(offence, {"delete": ("done", ""), "remove": ("task", "restricted_action")}, NOW)
    # a second write of the same offence (a retry) finds the first, with its actions' results
    again = log.add_offence(offence)
    assert again is not None and again.actions == {"delete": ("done", ""), "remove": ("task", "restricted_action")}
    task_id = action_id("remove", "store:12:vip", "slack:U:7", "1700000000.0001:x")
    [task] = guard_ops.tasks(tenant.tenant_id, log=log)
    assert task["id"] == task_id and task["reason"] == "restricted_action" and task["evidence"] == "ad"
    closed = guard_ops.done(tenant.tenant_id, task_id, NOW, log=log)
    assert closed["status"] == "closed" and guard_ops.tasks(tenant.tenant_id, log=log) == []
    assert log.action(tenant.tenant_id, action_id("warn", "store:12:vip", "slack:U:7", "1700000000.0001:x")) is None


def test_a_batch_reads_its_offenders_at_once_and_records_its_results_in_one_write(world, telegram):
    guard, asked = world.deps.guard.keywords["deps"], []

    class Log(GuardLog):
        def offences(self, tenant_id, group_id=None, member_id=None):
            asked.append(("offences", member_id))
            return super().offences(tenant_id, group_id, member_id)

        def finish_offence(self, o, results, now):
            asked.append(("finish", o.message_id))
            return super().finish_offence(o, results, now)

        def finish_offences(self, done, now):
            asked.append(("finish", [o.message_id for o, _ in done]))
            return super().finish_offences(done, now)

    counted = replace(guard, log=Log(), member=lambda *a: asked.append(("member", a[2])) or guard.member(*a),
                      members=lambda seats: asked.append(("members", sorted(m for _, _, m in seats))) or
                      guard.members(seats))
    world.deps = replace(world.deps, guard=partial(guard_messages, deps=counted))
    # WHEN two members post two ads each in one batch (the owner and admins are exempt: roles are looked at)
    world.batch((7, "加微信", T0), (8, "加微信", T0), (7, "刷单", T0 + timedelta(minutes=1)),
                (8, "刷单", T0 + timedelta(minutes=1)), (9, "早上好", T0))
    # THEN their roster entries are one read, their offences one read each, the four results one write; and both
    # are removed
    assert asked == [("members", ["telegram:7", "telegram:8"]), ("offences", "telegram:7"),
                     ("offences", "telegram:8"), ("finish", ["1", "2", "3", "4"])]
    assert telegram.bans == [(CHAT, "7"), (CHAT, "8")]
    assert {(i.delete_status, i.warn_status, i.remove_status) for i in items(world.tenant_id)} == {
        ("done", "done", None), ("done", None, "done")}
