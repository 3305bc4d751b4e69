"""Following up WeCom mass-send tasks: what each owner confirmed, reminders for the rest, and the stale ones cancelled.

SendPushes hands a customer group's push to its owner as an `add_msg_template` task and records the group
`awaiting_owner` with the task's msgid (domain/owner_tasks.py). Every run of the follow-up job, for each task
that still has groups waiting (found through the deliveries table's `awaiting_owner` index, no Scan; each task
is one item listing its push and its waiting groups, which loses each group as it is recorded):

* reads `get_groupmsg_send_result` and records each group the owner sent to `sent` (at WeCom's send time), or
  `failed` with WeCom's reason (`not_member`, `quota_exhausted`); the others stay `awaiting_owner`;
* once the push is stale (a morning brief at 12:00, an evening one at 23:30 in the group's local time, other
  pushes a day after the task; tenant policy), cancels the task, reads the results once more (the owner may
  have confirmed meanwhile) and records the groups still unsent `cancelled` with the reason `stale`;
* before that, reminds the owner `owner_reminder_minutes` after the task and after each reminder, never more
  than 3 times in 24 hours.

Why it is safe to run twice, or to stop anywhere:

* Records only move forward (domain MOVES), with conditional writes: reading the same results again changes
  nothing.
* Reminders and cancellations are written to the task's log *before* WeCom is asked (adapters/owner_tasks.py),
  with a version condition, so a rerun or a concurrent run never reminds a fourth time; a run that stopped
  after recording a reminder and before sending it has spent one of the three.
* A cancellation that stopped before its groups were recorded is asked again and the groups recorded then;
  if WeCom refuses the second request, the first one is taken to have worked.
* When a run is done with a task it records the run's scheduled time on it: a run fired twice for the same
  time skips the task without calling WeCom.

WeCom's rate limits and outages (transient) leave the tenant's remaining tasks for the next run; a task WeCom
refuses outright (an invalid msgid) records its waiting groups `failed` with the reason `task_refused`; an
error with the corp's credentials leaves them waiting until the push is stale, then `failed` with
`cancel_failed`, because an uncancelled task may still be confirmed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.owner_tasks import OwnerTaskLog
from qunyun.adapters.secrets import SecretStore
from qunyun.adapters.tenants import TenantRepository
from qunyun.channels.wecom_customer_group import CORP_ERRORS, ApiResult, Corp, GroupStatus, WecomCustomerGroups
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.owner_tasks import OUTCOME, OwnerTask, TaskLog, reminder_due, stale_at
from qunyun.domain.tenants import Tenant
from qunyun.services.delivery_ports import OwnerTaskWork

STOP_MARGIN_SECONDS = 20.0  # a run starts no task with less time than this left before its timeout


@dataclass(frozen=True)
class FollowUpDeps:
    tenants: TenantRepository
    groups: GroupRepository
    deliveries: OwnerTaskWork
    log: OwnerTaskLog
    secrets: SecretStore
    customer_groups: Callable[[], WecomCustomerGroups]
    # Called after every WeCom call, before its outcome is recorded (tests inject a crash here).
    after_call: Callable[[str, str, object], None] = field(default=lambda api, msgid, result: None)
    time_left: Callable[[], float] = field(default=lambda: math.inf)  # seconds before the run must end


class _Run:
    """One run's caches (tenants, corp credentials) and its counts."""

    def __init__(self, now: datetime, deps: FollowUpDeps):
        self.now, self.deps = now, deps
        self.summary: Counter = Counter()
        self.problems: list[str] = []
        self.deferred: set[str] = set()  # tenants whose corp answered "later": their other tasks wait
        self._tenants: dict[str, Tenant | None] = {}
        self._corps: dict[str, Corp | None] = {}

    def tenant(self, tenant_id: str) -> Tenant | None:
        if tenant_id not in self._tenants:
            self._tenants[tenant_id] = self.deps.tenants.get(tenant_id)
        return self._tenants[tenant_id]

    def corp(self, tenant_id: str) -> Corp | None:
        if tenant_id not in self._corps:
            from qunyun.adapters.secrets import corp_ref

            store = self.deps.secrets
            corp_id = store.get(corp_ref(store, tenant_id, "corp_id"))
            secret = store.get(corp_ref(store, tenant_id, "corp_secret"))
            self._corps[tenant_id] = Corp(corp_id, secret) if corp_id and secret else None
        return self._corps[tenant_id]

    def call(self, api: str, msgid: str, *args) -> ApiResult:
        result = getattr(self.deps.customer_groups(), api)(*args)
        self.deps.after_call(api, msgid, result)
        return result

    def problem(self, task: OwnerTask, api: str, result: ApiResult) -> None:
        self.summary["errors"] += 1
        self.problems.append(f"{task.tenant_id} task {task.msgid}: {api} {result.code}: {result.detail}")


class _Task:
    """One task in one run: its waiting records by group, its owner, and when it goes stale."""

    def __init__(self, run: _Run, tenant: Tenant, task: OwnerTask, log: TaskLog):
        self.run, self.tenant, self.task, self.log = run, tenant, task, log
        self.now = run.now
        groups = {gid: g for gid, (g, _) in run.deps.groups.get_many(tenant.tenant_id,
                                                                      [r.group_id for r in task.records]).items()}
        self.waiting: dict[str, Delivery] = {r.group_id: r for r in task.records}
        self.chats = {g.chat_id: gid for gid, g in groups.items() if g.chat_id}
        # One task is one owner's; a group re-imported with another owner since does not change whose it is.
        owners = Counter(g.owner for g in groups.values() if g.owner)
        self.owner = owners.most_common(1)[0][0] if owners else None
        # BriefDispatch makes one task per slot, so its groups share a timezone; should they not, the task is
        # cancelled when the last of them goes stale, and no group loses its push early.
        self.stale_at = max(stale_at(r, (groups[r.group_id].timezone if r.group_id in groups else None)
                                     or tenant.timezone, task.since, tenant.policy) for r in task.records)
        self.stale = self.now >= self.stale_at
        self.deferred = False
        self.settled: set[str] = set()  # groups this run took off the task's waiting list

    # ---- outcomes ----------------------------------------------------------------------------------------------
    def record(self, group_id: str, status: Status, *, reason: str | None = None, error: str | None = None,
               sent_at: datetime | None = None) -> None:
        record = self.waiting.pop(group_id)
        # Settled either way: recorded now, or the record had moved on to a final status (the index was behind
        # it, or its sender stopped between the task's entry and the record and a retry recorded the outcome).
        self.settled.add(group_id)
        if self.run.deps.deliveries.move(record, status, self.now, reason=reason, error=error, sent_at=sent_at):
            self.run.summary[status.value] += 1

    def apply(self, groups: tuple[GroupStatus, ...]) -> None:
        """Records each waiting group WeCom reports sent or failed."""
        for g in groups:
            group_id, status = self.chats.get(g.chat_id), OUTCOME.get(g.status)
            if group_id in self.waiting and status is not None:
                sent_at = datetime.fromtimestamp(g.send_time, UTC) if g.send_time else None
                self.record(group_id, status, reason=g.reason, sent_at=sent_at if status is Status.sent else None)

    def end_waiting(self, status: Status, reason: str, error: str | None = None) -> None:
        for group_id in list(self.waiting):
            self.record(group_id, status, reason=reason, error=error)

    def defer(self) -> None:
        self.deferred = True
        self.run.deferred.add(self.tenant.tenant_id)
        self.run.summary["deferred"] += 1

    def refused(self, api: str, result: ApiResult) -> bool:
        """Handles a failed call; True when the task's follow-up may go on in this run."""
        if result.outcome.value == "transient":
            self.defer()
            return False
        self.run.problem(self.task, api, result)
        if result.code in CORP_ERRORS:
            return self.stale  # nothing works until the secret is fixed; a stale task still tries to cancel
        self.end_waiting(Status.failed, "task_refused", f"{result.code}: {result.detail}")
        return False

    # ---- the steps ------------------------------------------------------------------------------------------
    def read(self, corp: Corp) -> bool:
        if self.owner is None:
            return True  # the groups are gone from the registry: nothing to read, only a stale task to cancel
        result = self.run.call("all_send_results", self.task.msgid, corp, self.task.msgid, self.owner)
        if not result.ok:
            return self.refused("get_groupmsg_send_result", result)
        self.apply(result.data)
        return True

    def remind(self, corp: Corp) -> None:
        every = timedelta(minutes=self.tenant.policy.owner_reminder_minutes)
        if not reminder_due(self.log, self.task.since, self.now, every):
            return
        deps, tid, msgid = self.run.deps, self.tenant.tenant_id, self.task.msgid
        if not deps.log.add_reminder(tid, msgid, self.log, self.now):
            return  # another run changed the log meanwhile: it decides about reminders
        result = self.run.call("remind_groupmsg_send", msgid, corp, msgid)
        if result.ok:
            self.run.summary["reminded"] += 1
        elif result.outcome.value == "transient":
            deps.log.drop_reminder(tid, msgid, self.now)  # not sent, so it does not count
            self.defer()
        else:
            self.run.problem(self.task, "remind_groupmsg_send", result)

    def cancel(self, corp: Corp | None) -> None:
        deps, tid, msgid = self.run.deps, self.tenant.tenant_id, self.task.msgid
        if corp is None:
            self.run.summary["errors"] += 1
            self.end_waiting(Status.failed, "cancel_failed", "no WeCom corp credentials: store "
                                                             "{tenant}/wecom/corp_id and corp_secret")
            return
        asked_before = self.log.cancel_requested_at is not None
        deps.log.request_cancel(tid, msgid, self.now)
        result = self.run.call("cancel_groupmsg_send", msgid, corp, msgid)
        if not result.ok:
            if result.outcome.value == "transient":
                self.defer()
                return
            self.run.problem(self.task, "cancel_groupmsg_send", result)
            if not asked_before:  # WeCom refused the only request: the owner may still send the task
                self.end_waiting(Status.failed, "cancel_failed", f"{result.code}: {result.detail}")
                return
            # An earlier run's request went through and it stopped before recording the groups.
        self.run.summary["cancelled_tasks"] += 1
        if self.owner is not None:  # the owner may have confirmed some groups since the last read
            after = self.run.call("all_send_results", msgid, corp, msgid, self.owner)
            if after.ok:
                self.apply(after.data)
            elif after.outcome.value == "transient":
                self.defer()  # the next run cancels again (harmless) and records the groups then
                return
        self.end_waiting(Status.cancelled, "stale")

    def follow(self) -> None:
        corp = self.run.corp(self.tenant.tenant_id)
        if corp is None and not self.stale:
            self.run.summary["no_corp"] += 1
        elif corp is None or self.read(corp):
            if self.waiting and self.stale:
                self.cancel(corp)
            elif self.waiting:
                self.remind(corp)
        self.run.deps.deliveries.settle_waiting(self.tenant.tenant_id, self.task.msgid, self.settled)
        if not self.deferred:
            self.run.deps.log.checked(self.tenant.tenant_id, self.task.msgid, self.now)


def follow_up(now: datetime, *, deps: FollowUpDeps) -> dict:
    """Follows up every WeCom task with groups awaiting their owner, as at `now` (the scheduled time): records
    what the owners sent, reminds them, cancels stale tasks. Returns counts and `problems` (sentences)."""
    run = _Run(now, deps)
    # Each run (every 15 minutes) starts at another shard, so a run that stops early does not always leave the
    # same tasks last.
    for task in deps.deliveries.awaiting_owner(first_shard=int(now.timestamp() // 900)):
        if deps.time_left() < STOP_MARGIN_SECONDS:
            run.summary["stopped_early"] = 1
            break
        run.summary["tasks"] += 1
        if task.tenant_id in run.deferred:
            run.summary["deferred"] += 1
            continue
        tenant = run.tenant(task.tenant_id)
        if tenant is None:
            continue
        log = deps.log.get(task.tenant_id, task.msgid)
        if log.checked_at is not None and log.checked_at >= now:
            run.summary["repeated"] += 1  # a run for this time (or a later one) already followed it up
            continue
        _Task(run, tenant, task, log).follow()
    return {**run.summary, "problems": run.problems}
