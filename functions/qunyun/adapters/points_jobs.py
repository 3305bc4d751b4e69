"""Scheduled runs' checkpoints and counters, and the built leaderboards, in the points table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from qunyun.adapters import points_keys as keys
from qunyun.adapters.conditional_write import expression_params, written
from qunyun.adapters.due_pages import DuePages
from qunyun.adapters.journal import JournalReads
from qunyun.adapters.points_tables import TABLE, BoardItem, EntryItem, JobItem
from qunyun.domain.ledger import RUN_COUNTERS, Board, JobRun, LotId, Preempted


class JobStore:
    """Mixed into PointsLedger, whose connection it writes with."""

    def run(self, run: JobRun) -> dict | None:
        """The run's counters and whether it finished (`done`); None before its first piece of work."""
        try:
            item = JobItem.get(*keys.run_key(run), consistent_read=True)
        except JobItem.DoesNotExist:
            return None
        return {"done": bool(item.done), **{k: int(getattr(item, k) or 0) for k in RUN_COUNTERS}}

    def start_run(self, run: JobRun) -> tuple[int, int]:
        """Records a start of the run: its number (1 for the first) and the last window counted before it."""
        item = self._connection.client.update_item(**self._run_key(run), ReturnValues="ALL_NEW",
                                                   **expression_params(None, [JobItem.starts.add(1)]))["Attributes"]
        return int(item["starts"]["N"]), int(item.get("counted", {}).get("N", 0))

    def count(self, run: JobRun, start: int, window: int, counters: dict[str, int]) -> None:
        """Adds the counts of a window's pieces written alone to the run's, once, while `start` is the run's latest
        start: a window counted already (the answer to an earlier try lost) is not added again, and a start that a
        later one has followed raises Preempted (the later one counts what it wrote)."""
        actions = [*(getattr(JobItem, k).add(v) for k, v in counters.items()), JobItem.counted.set(window)]
        if not written(self._connection.client.update_item, **self._run_key(run), **expression_params(
                (JobItem.starts == start) & (JobItem.counted.does_not_exist() | (JobItem.counted < window)), actions)):
            self._still_latest(run, start)

    def finish_run(self, run: JobRun, start: int) -> None:
        """Marks the run done, so that a repeat of it answers from its counters; only its latest start may."""
        if not written(self._connection.client.update_item, **self._run_key(run),
                       **expression_params(JobItem.starts == start, [JobItem.done.set(True)])):
            self._still_latest(run, start)

    def _still_latest(self, run: JobRun, start: int) -> None:
        item = self._connection.client.get_item(**self._run_key(run), ConsistentRead=True)["Item"]
        if int(item["starts"]["N"]) != start:
            raise Preempted(f"start {start} of {run} was followed by start {item['starts']['N']}")

    @staticmethod
    def _run_key(run: JobRun) -> dict:
        pk, sk = keys.run_key(run)
        return {"TableName": TABLE, "Key": {"pk": {"S": pk}, "sk": {"S": sk}}}

    def piece_of(self, tenant_id: str, member_id: str, at: datetime, entry_id: str) -> tuple[int, int] | None:
        """The window and points of the entry `entry_id` a piece written alone at `at` (its run's time) put, if any:
        an entry item, or an entry its member keeps (journal.py)."""
        pk, sk = keys.member_pk(tenant_id, member_id), keys.entry_sk(at, entry_id)
        try:
            item = EntryItem.get(pk, sk, consistent_read=True)
            return (int(item.window), int(item.points)) if item.window is not None else None
        except EntryItem.DoesNotExist:
            pass
        line = JournalReads().at(pk, self._journal(pk), sk)
        return (int(line["w"]), int(line.get("points", 0))) if line is not None and "w" in line else None

    def due_work(self, until: str, page: int = 100) -> Iterator[list[tuple[str, str, LotId]]]:
        """Lists of (tenant, member, lot) whose pending points settle or whose lot expires by `until`, read from the
        due pages (adapters/due_pages.py)."""
        self._due = DuePages()
        yield from self._due.due(until, page)

    def due_handled(self, skipped: set[str] = frozenset()) -> int:
        """Once the work `due_work` found is written: deletes the pages it read whose every line was due, but those
        that list a tenant in `skipped`."""
        due = getattr(self, "_due", None)
        return due.handled(skipped) if due is not None else 0

    # ---- leaderboards -------------------------------------------------------------------------------
    def board(self, tenant_id: str, scope: str, period: str, start: str) -> Board | None:
        """The stored board of a scope ("tenant", "group:{id}") and period (day, week, month) starting on `start`."""
        try:
            item = BoardItem.get(keys.boards_pk(tenant_id), keys.board_sk(scope, period, start))
        except BoardItem.DoesNotExist:
            return None
        return Board(list(item.entries or []), item.through, item.as_of)

    def save_board(self, tenant_id: str, scope: str, period: str, start: str, entries: list, through: str,
                   as_of: datetime) -> None:
        BoardItem(keys.boards_pk(tenant_id), keys.board_sk(scope, period, start), entries=entries, through=through,
                  as_of=as_of).save()

    def boards_built(self, tenant_id: str, day: str) -> bool:
        try:
            JobItem.get(*keys.boards_built_key(tenant_id, day), consistent_read=True)
            return True
        except JobItem.DoesNotExist:
            return False

    def mark_boards(self, tenant_id: str, day: str, run: JobRun, count: int) -> bool:
        """Records that a tenant-day's boards are built and adds them to the run's count, atomically, so a
        run stopped in between and started again reports them once. False if already marked."""
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(JobItem(*keys.boards_built_key(tenant_id, day), done=True, boards_built=count),
                        condition=JobItem.pk.does_not_exist())
                tx.update(JobItem(*keys.run_key(run)), actions=[JobItem.boards_built.add(count)])
            return True
        except TransactWriteError as err:
            if err.cause_response_code == "TransactionCanceledException":
                return False
            raise
