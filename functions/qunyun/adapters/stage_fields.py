"""What a staged change keeps in its member item (adapters/points_stage.py): the stage's fields, with what undoes it,
and the entries the member item keeps with it (journal.py, kept_spend.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from qunyun.adapters import held_lots, journal, kept_spend
from qunyun.adapters import points_keys as keys
from qunyun.domain.ledger import Guard, MemberChange, Plan


def staged_as(plan: Plan, split: held_lots.Held, token: str, mark: Guard | None, now: datetime
              ) -> tuple[dict, journal.Room]:
    """What the member's stage keeps, and the entries its member item keeps with it."""
    change = plan.changes[0]
    # "ev": what the claim is keyed by (the event id; a redemption's order id, "k": "r"); "at": the change's time
    # (its entry's key); "w": when it was staged, by this machine's clock, for STALE
    claimed_by = plan.event.event_id if plan.event else plan.redemption.key
    staged = {"ev": claimed_by, "at": now.astimezone(UTC).isoformat(), "w": int(time.time()),
              "u": _undo_of(change, split.prior)}
    if plan.redemption:
        staged["k"] = "r"
    if plan.purchase:
        staged["o"] = plan.purchase.key
    if mark:
        staged["g"] = keys.guard_sk(mark)
    # a redemption's spend kept in the member item with the stage (kept_spend.py), else put last, by its id ("=":
    # the event's own)
    kept = kept_spend.keep(change, split, (token, staged), now) if plan.redemption else None
    if kept is None and change.entries:
        last = change.entries[-1].entry_id
        staged["e"] = "=" if last == claimed_by else last
    return staged, kept if kept is not None else journal.room(change, split, (token, staged))


def _undo_of(change: MemberChange, lots: dict[str, int | None]) -> dict:
    """What puts the member back as it was: the deltas to take back, the fields' prior values, the held marks
    and caps, and the held lots, the change moved with their prior counts (None: not held before); for a newcomer,
    its removal."""
    m = change.member
    if not m.exists:
        return {"new": True}
    prior = {name: getattr(m, name) for name in change.set}
    if prior.get("last_checkin") is not None:
        prior["last_checkin"] = prior["last_checkin"].isoformat()
    moved = [*change.guards, *([change.cap[0]] if change.cap else [])]
    undo = {"d": {k: v for k, v in change.deltas.items() if v}, "s": prior,
            "h": [[g.kind, list(g.parts), m.held.get(g)] for g in moved], "l": lots}
    return {k: v for k, v in undo.items() if v}  # what is empty is left out: the member item pays for each byte
