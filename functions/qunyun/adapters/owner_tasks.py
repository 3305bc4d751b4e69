"""The follow-up job's log of each WeCom mass-send task, one item beside the tenant's delivery records.

Every effect on WeCom is written here *before* it is asked for: a reminder is recorded, then sent; a
cancellation is requested, then sent. A run that stops in between leaves the log saying it was done, so a
rerun never reminds a fourth time; at worst a reminder recorded is never sent.
"""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import UpdateError

from qunyun.adapters.deliveries_tables import OwnerTaskItem
from qunyun.adapters.tables import conditional_failed
from qunyun.domain.owner_tasks import TaskLog, kept_reminders


def task_pk(tenant_id: str) -> str:
    return f"{tenant_id}#~task"


def task_sk(msgid: str) -> str:
    return f"TASK#{msgid}"


class OwnerTaskLog:
    def get(self, tenant_id: str, msgid: str) -> TaskLog:
        try:
            item = OwnerTaskItem.get(task_pk(tenant_id), task_sk(msgid), consistent_read=True)
        except OwnerTaskItem.DoesNotExist:
            return TaskLog()
        return TaskLog(reminders=tuple(item.reminders or ()), cancel_requested_at=item.cancel_requested_at,
                       checked_at=item.checked_at, version=int(item.version or 0))

    def _versioned(self, tenant_id: str, msgid: str, log: TaskLog, actions: list) -> bool:
        """Applies `actions` if nobody changed the log since `log` was read; False otherwise."""
        unchanged = OwnerTaskItem.version == log.version
        if log.version == 0:
            unchanged = OwnerTaskItem.version.does_not_exist() | unchanged
        try:
            OwnerTaskItem(task_pk(tenant_id), task_sk(msgid)).update(
                actions=[*actions, OwnerTaskItem.version.set(log.version + 1)], condition=unchanged)
        except UpdateError as err:
            if conditional_failed(err):
                return False
            raise
        return True

    def add_reminder(self, tenant_id: str, msgid: str, log: TaskLog, at: datetime) -> bool:
        """Records a reminder at `at` before it is sent; False when another run changed the log meanwhile (it
        may have reminded), and the caller sends nothing."""
        reminders = list(kept_reminders((*log.reminders, at), at))
        return self._versioned(tenant_id, msgid, log, [OwnerTaskItem.reminders.set(reminders)])

    def drop_reminder(self, tenant_id: str, msgid: str, at: datetime) -> bool:
        """Forgets the reminder recorded at `at` (WeCom refused it, so it does not count); best effort."""
        log = self.get(tenant_id, msgid)
        if at not in log.reminders:
            return True
        return self._versioned(tenant_id, msgid, log,
                               [OwnerTaskItem.reminders.set([r for r in log.reminders if r != at])])

    def request_cancel(self, tenant_id: str, msgid: str, at: datetime) -> None:
        """Records that the task is being cancelled (the first request's time is kept)."""
        OwnerTaskItem(task_pk(tenant_id), task_sk(msgid)).update(
            actions=[OwnerTaskItem.cancel_requested_at.set(OwnerTaskItem.cancel_requested_at | at)])

    def checked(self, tenant_id: str, msgid: str, at: datetime) -> None:
        """Marks the task done for the run scheduled at `at`; a run for the same or an earlier time skips it."""
        try:
            OwnerTaskItem(task_pk(tenant_id), task_sk(msgid)).update(
                actions=[OwnerTaskItem.checked_at.set(at)],
                condition=OwnerTaskItem.checked_at.does_not_exist() | (OwnerTaskItem.checked_at < at))
        except UpdateError as err:
            if not conditional_failed(err):
                raise
