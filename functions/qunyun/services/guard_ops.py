"""What operators do with the guard's records: the open tasks, closing one, a pardon (which also lets a
removed member back where the platform allows it and clears their offences), and the log with its evidence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from qunyun.domain.errors import InvalidRequest, NotFound
from qunyun.domain.guard import CAN_RESTORE, Action, GuardGroup, Offence, user_id
from qunyun.services.guard import GuardStore, Platforms


def _row(a: Action) -> dict:
    return {"id": a.action_id, "kind": a.kind, "status": a.status, "group_id": a.group_id, "platform": a.platform,
            "member_id": a.member_id, "message_id": a.message_id, "rule": a.rule, "at": a.at.isoformat(),
            "reason": a.reason, "evidence": a.evidence}


def _offence_row(o: Offence) -> dict:
    return {"id": f"offence:{o.group_id}:{o.member_id}:{o.message_id}", "kind": "offence",
            "status": "pardoned" if o.pardoned else "recorded", "group_id": o.group_id, "platform": o.platform,
            "member_id": o.member_id, "message_id": o.message_id, "rule": o.rule, "at": o.at.isoformat(),
            "reason": o.detail, "evidence": o.text}


def tasks(tenant_id: str, *, log: GuardStore) -> list[dict]:
    """Removals an operator must make: no platform API, refused (with the platform's reason) or interrupted."""
    return [_row(a) for a in sorted(log.actions(tenant_id), key=lambda a: a.at) if a.status == "task"]


def history(tenant_id: str, member_id: str | None = None, *, log: GuardStore) -> list[dict]:
    """Offences, warnings, deletions, removals and pardons, oldest first, each with its evidence."""
    rows = [_offence_row(o) for o in log.offences(tenant_id)] + [_row(a) for a in log.actions(tenant_id)]
    rows = [r for r in rows if member_id is None or r["member_id"] == member_id]
    return sorted(rows, key=lambda r: (r["at"], r["kind"] != "offence"))


def _removal(tenant_id: str, task_id: str, log: GuardStore) -> Action:
    found = log.action(tenant_id, task_id)
    if found is None or found.kind != "remove":
        raise NotFound(f"There is no removal or task {task_id!r} of tenant {tenant_id!r} (see `qunyun guard tasks`).")
    return found


def done(tenant_id: str, task_id: str, now: datetime, *, log: GuardStore) -> dict:
    """An operator made the removal by hand."""
    task = _removal(tenant_id, task_id, log)
    if task.status != "task":
        raise InvalidRequest(f"{task_id} is not an open task (it is {task.status}).")
    log.finish(tenant_id, task_id, "closed", "removed by an operator", now)
    return _row(_removal(tenant_id, task_id, log))


def pardon(tenant_id: str, task_id: str, now: datetime, *, log: GuardStore, platforms: Platforms,
           group: Callable[[str, str], GuardGroup | None]) -> dict:
    """Clears the member's offences in the group; a removal made is reversed where the platform allows it."""
    removal = _removal(tenant_id, task_id, log)
    if removal.status == "pardoned":
        return _row(removal)
    reason = "pardoned by an operator"
    if removal.status in ("done", "closed") and removal.platform in CAN_RESTORE:
        target = group(tenant_id, removal.group_id)
        outcome = platforms.restore(target, user_id(removal.member_id)) if target else None
        reason += "; the member may rejoin" if outcome and outcome.ok else \
            f"; could not let them back: {outcome.reason if outcome else 'the group is gone'}"
    log.pardon_offences(tenant_id, removal.group_id, removal.member_id)
    log.finish(tenant_id, task_id, "pardoned", reason, now)
    return _row(_removal(tenant_id, task_id, log))
