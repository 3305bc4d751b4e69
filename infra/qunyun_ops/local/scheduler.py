"""EventBridge Scheduler for the local stack: when ScheduleV2 events fire, what their target gets, retries.

Cron expressions use AWS's six fields (minutes hours day-of-month month day-of-week year) and are evaluated on
the wall clock of the schedule's timezone, as EventBridge Scheduler does: a time that does not exist (spring
forward) is skipped, a time that happens twice (fall back) fires once. cronsim does the cron arithmetic on
naive local times; this module translates AWS's fields for it and adds the year field and `nW`.
"""

from __future__ import annotations

import calendar
import functools
import json
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from qunyun_ops.local.template import Schedule, Template
from qunyun_ops.local.workers import ACCOUNT_ID, FunctionPool, InvocationError, region

# EventBridge retries up to 185 times over 24 hours; locally two quick retries show the behaviour.
RETRY_CAP = 2
BACKOFF = (1.0, 2.0)
DEFAULT_RETRIES = 185
_DAYS = "SUN MON TUE WED THU FRI SAT".split()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_SEARCH_LIMIT = 100_000


# ---------------------------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class _Cron:
    expr: str  # five fields for cronsim
    years: frozenset[int] | None  # None: every year
    nearest_weekday: int | None  # the n of an `nW` day-of-month


def _expand(item: str, low: int, high: int, atom: Callable[[str], int]) -> list[int]:
    """One list item of a numeric field (n, a-b, */s, a/s, a-b/s) as explicit values within low..high."""
    base, _, step_text = item.partition("/")
    step = int(step_text) if step_text else 1
    if step < 1:
        raise ValueError(f"bad step in {item!r}")
    if base == "*":
        first, last = low, high
    elif "-" in base:
        a, b = base.split("-", 1)
        first, last = atom(a), atom(b)
    else:
        first = atom(base)
        last = high if step_text else first
    if not (low <= first <= high and low <= last <= high):
        raise ValueError(f"{item!r} is out of range {low}-{high}")
    span = list(range(first, last + 1)) if first <= last else [*range(first, high + 1), *range(low, last + 1)]
    return span[::step]


def _dow_number(text: str) -> int:
    """AWS day-of-week: 1-7 or SUN-SAT, 1 = SUN."""
    if text.upper() in _DAYS:
        return _DAYS.index(text.upper()) + 1
    if text.isdigit():
        return int(text)
    raise ValueError(f"bad day-of-week {text!r}")


def _year(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"bad year {text!r}")
    return int(text)


def _dow_field(field: str) -> str:
    """AWS day-of-week (1 = SUN) as cronsim's (0 = SUN); ranges and steps are expanded so 7 never means SUN twice."""
    if field in ("?", "*"):
        return "*"
    out = []
    for item in field.split(","):
        if "#" in item:
            day, nth = item.split("#", 1)
            out.append(f"{_dow_number(day) - 1}#{nth}")
        elif item.upper() == "L":
            out.append("6")  # the last day of the week: SAT
        elif item.upper().endswith("L"):
            out.append(f"{_dow_number(item[:-1]) - 1}L")
        else:
            out.extend(str(n - 1) for n in _expand(item, 1, 7, _dow_number))
    return ",".join(out)


@functools.lru_cache(maxsize=256)
def _parse_cron(body: str) -> _Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ValueError(f"cron({body}) needs six fields: minutes hours day-of-month month day-of-week year")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ValueError(f"cron({body}): exactly one of day-of-month and day-of-week must be '?'")
    nearest = None
    if m := re.fullmatch(r"(\d{1,2})W", dom):
        nearest, dom = int(m.group(1)), "*"
    elif dom == "?":
        dom = "*"
    years = None if year == "*" else frozenset(y for item in year.split(",") for y in _expand(item, 1970, 2199, _year))
    expr = f"{minute} {hour} {dom} {month} {_dow_field(dow)}"
    try:
        CronSim(expr, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise ValueError(f"cron({body}): {exc}") from exc
    return _Cron(expr, years, nearest)


def _nearest_weekday(year: int, month: int, day: int) -> int | None:
    """Quartz's `nW`: the weekday nearest to day n, never leaving the month."""
    last = calendar.monthrange(year, month)[1]
    if day > last:
        return None
    weekday = date(year, month, day).weekday()  # MON = 0
    if weekday == 5:
        return day - 1 if day > 1 else day + 2
    if weekday == 6:
        return day + 1 if day < last else day - 2
    return day


def _is_imaginary(local: datetime) -> bool:
    return local != local.astimezone(UTC).astimezone(local.tzinfo)


def _next_cron(cron: _Cron, tz: ZoneInfo, after: datetime) -> datetime | None:
    it = CronSim(cron.expr, after.astimezone(tz).replace(tzinfo=None))
    for _ in range(_SEARCH_LIMIT):
        try:
            candidate = next(it)
        except StopIteration:
            return None
        if cron.years is not None and candidate.year not in cron.years:
            later = [y for y in cron.years if y > candidate.year]
            if not later:
                return None
            it = CronSim(cron.expr, datetime(min(later), 1, 1) - timedelta(seconds=1))
            continue
        n = cron.nearest_weekday
        if n and candidate.day != _nearest_weekday(candidate.year, candidate.month, n):
            midnight = candidate.replace(hour=0, minute=0, second=0)
            it = CronSim(cron.expr, midnight + timedelta(days=1, seconds=-1))
            continue
        local = candidate.replace(tzinfo=tz, fold=0)  # fold=0: a repeated time fires at its first occurrence
        if _is_imaginary(local):
            continue  # skipped by the spring-forward gap
        fire = local.astimezone(UTC)
        if fire > after:
            return fire
    return None


def zone(name: str | None) -> ZoneInfo:
    """A ScheduleExpressionTimezone (IANA name; UTC when absent)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r}") from exc


def next_fire(
    expression: str, timezone: str | None, after: datetime, *, anchor: datetime | None = None
) -> datetime | None:
    """The first time strictly after `after` (aware) that the schedule fires, in UTC; None when it never will.

    `rate()` schedules count from `anchor` (their start; default the Unix epoch, which aligns them to the clock).
    """
    if after.tzinfo is None:
        raise ValueError("next_fire needs an aware datetime")
    tz = zone(timezone)
    expression = expression.strip()
    if m := re.fullmatch(r"cron\((.*)\)", expression):
        return _next_cron(_parse_cron(m.group(1).strip()), tz, after)
    if m := re.fullmatch(r"rate\(\s*(\d+)\s+(\w+)\s*\)", expression):
        value, unit = int(m.group(1)), m.group(2).lower()
        if value < 1 or unit not in _UNITS:
            raise ValueError(f"bad rate expression {expression!r}")
        period = timedelta(seconds=value * _UNITS[unit])
        start = anchor or _EPOCH
        if after < start:
            return start.astimezone(UTC)
        return (start + period * ((after - start) // period + 1)).astimezone(UTC)
    if m := re.fullmatch(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)", expression):
        when = datetime.fromisoformat(m.group(1)).replace(tzinfo=tz).astimezone(UTC)
        return when if when > after else None
    raise ValueError(f"unsupported schedule expression {expression!r}")


# -------------------------------------------------------------------------------------------------- firing


def schedule_arn(schedule: Schedule) -> str:
    """A plausible ARN for a template schedule (group `default`)."""
    return f"arn:aws:scheduler:{region()}:{ACCOUNT_ID}:schedule/default/{schedule.function}-{schedule.name}"


def format_time(when: datetime) -> str:
    """2022-03-22T18:59:43Z: how EventBridge Scheduler writes a scheduled time."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scheduler_input(
    schedule: Schedule, scheduled_time: datetime, attempt: int = 1, *, execution_id: str | None = None
) -> Any:
    """The target payload: the schedule's Input with its context attributes filled in, parsed as JSON."""
    if schedule.input is None:
        return {}
    text = (
        schedule.input.replace("<aws.scheduler.scheduled-time>", format_time(scheduled_time))
        .replace("<aws.scheduler.execution-id>", execution_id or secrets.token_hex(8))
        .replace("<aws.scheduler.attempt-number>", str(attempt))
        .replace("<aws.scheduler.schedule-arn>", schedule_arn(schedule))
    )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{schedule.function}/{schedule.name}: Input is not JSON: {exc}") from exc


def _dead_letter(
    dead_letter_dir: Path, schedule: Schedule, scheduled_time: datetime, attempts: int, exc: Exception
) -> Path:
    dead_letter_dir.mkdir(parents=True, exist_ok=True)
    stamp = scheduled_time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = dead_letter_dir / f"{schedule.function}-{schedule.name}-{stamp}-{secrets.token_hex(4)}.json"
    record = {
        "schedule": f"{schedule.function}/{schedule.name}",
        "schedule_arn": schedule_arn(schedule),
        "function": schedule.function,
        "scheduled_time": format_time(scheduled_time),
        "attempts": attempts,
        "error": {"type": getattr(exc, "error_type", None) or type(exc).__name__, "message": str(exc)},
        "input": schedule.input,
    }
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def fire(
    pool: FunctionPool,
    schedule: Schedule,
    scheduled_time: datetime,
    dead_letter_dir: Path | None,
    *,
    sleep: Callable[[float], Any] = time.sleep,
) -> Any:
    """Invokes the schedule's function as at `scheduled_time`, retrying; returns the handler's result.

    After the last failed attempt the error is written to dead_letter_dir (when the schedule has a
    DeadLetterConfig) and the InvocationError is raised.
    """
    retries = min(RETRY_CAP, DEFAULT_RETRIES if schedule.retry_attempts is None else schedule.retry_attempts)
    attempt = 1
    while True:
        event = scheduler_input(schedule, scheduled_time, attempt)
        try:
            return pool.invoke(schedule.function, event)
        except InvocationError as exc:
            if attempt > retries:
                if schedule.dead_letter and dead_letter_dir is not None:
                    _dead_letter(dead_letter_dir, schedule, scheduled_time, attempt, exc)
                raise
            print(f"scheduler: {schedule.function}/{schedule.name} attempt {attempt} failed: {exc}", file=sys.stderr)
            sleep(BACKOFF[min(attempt, len(BACKOFF)) - 1])
            attempt += 1


def fire_once(
    pool: FunctionPool,
    template: Template,
    function: str,
    at: datetime,
    *,
    dead_letter_dir: Path | None = None,
    sleep: Callable[[float], Any] = time.sleep,
) -> Any:
    """`qunyun local run FUNCTION --at T`: fires the function's (first) ScheduleV2 event as at T.

    A naive T is read in the schedule's timezone, the one its cron expression is written in.
    """
    schedules = [s for s in template.schedules if s.function == function]
    if not schedules:
        scheduled = sorted({s.function for s in template.schedules})
        known = "is not a function in template.yaml" if function not in template.functions else "has no schedule"
        raise ValueError(f"{function} {known}; scheduled functions: {', '.join(scheduled) or 'none'}")
    schedule = schedules[0]
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone(schedule.timezone))
    return fire(pool, schedule, at, dead_letter_dir, sleep=sleep)


# ---------------------------------------------------------------------------------------------- the runner

OnResult = Callable[[Schedule, datetime, Any, Exception | None], None]


class Scheduler:
    """Fires every schedule in the template on time, each firing in its own thread, until stopped."""

    def __init__(
        self,
        template: Template,
        pool: FunctionPool,
        dead_letter_dir: Path | None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] | None = None,
        *,
        on_result: OnResult | None = None,
    ):
        """`clock` gives "now" as epoch seconds; `sleep` is the retry backoff (default: a wait stop() cuts short);
        `on_result(schedule, scheduled_time, result, error)` is called after every firing."""
        self.template = template
        self.pool = pool
        self.dead_letter_dir = dead_letter_dir
        self.clock = clock
        self._stop = threading.Event()
        self.sleep = sleep or self._stop.wait
        self.on_result = on_result
        self._thread: threading.Thread | None = None
        now = self._now()
        for s in template.schedules:  # a bad expression fails here, not silently in the thread
            try:
                next_fire(s.expression, s.timezone, now)
            except ValueError as exc:
                raise ValueError(f"{s.function}/{s.name}: {exc}") from exc

    def start(self) -> None:
        """Starts the scheduling thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops at once; firings in flight finish on their own threads (their retry waits are cut short)."""
        self._stop.set()
        if self._thread:
            self._thread.join(5)
            self._thread = None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _run(self) -> None:
        start = self._now()
        # Just before the start, so a rate() schedule fires at once, as one without a StartDate does on AWS.
        before = start - timedelta(microseconds=1)
        due = {s: next_fire(s.expression, s.timezone, before, anchor=start) for s in self.template.schedules}
        while not self._stop.is_set():
            pending = [when for when in due.values() if when is not None]
            if not pending:
                self._stop.wait()
                return
            wait = (min(pending) - self._now()).total_seconds()
            if wait > 0:
                # Re-read the clock at least every minute, so a suspended laptop does not oversleep.
                self._stop.wait(min(wait, 60.0))
                continue
            now = self._now()
            for s, when in due.items():
                if when is not None and when <= now:
                    threading.Thread(target=self._fire, args=(s, when), name=f"fire:{s.function}", daemon=True).start()
                    # From "now", not from `when`: times missed while the machine slept are not replayed.
                    due[s] = next_fire(s.expression, s.timezone, max(when, now), anchor=start)

    def _fire(self, schedule: Schedule, when: datetime) -> None:
        try:
            result = fire(self.pool, schedule, when, self.dead_letter_dir, sleep=self.sleep)
        except Exception as exc:
            print(
                f"scheduler: {schedule.function}/{schedule.name} at {format_time(when)} failed: {exc}", file=sys.stderr
            )
            if self.on_result:
                self.on_result(schedule, when, None, exc)
            return
        if self.on_result:
            self.on_result(schedule, when, result, None)
