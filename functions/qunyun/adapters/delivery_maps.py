"""A delivery record as its group's day stores it: a small map under short names (every write is billed by the
item's size), the claim a sender holds on it, and the fields and update actions that record an outcome."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from qunyun.adapters.deliveries_tables import DayItem
from qunyun.domain.deliveries import Delivery, Status

# Delivery fields → their names in a record's map. Times are whole microseconds since the epoch.
SHORT = {"kind": "k", "edition": "e", "channel": "c", "status": "s", "reason": "r", "attempts": "a", "error": "x",
         "message_ids": "m", "quota_period": "q", "created_at": "t0", "updated_at": "t", "sent_at": "ts"}
_TIMES = frozenset({"created_at", "updated_at", "sent_at"})
STATUS = SHORT["status"]
# A sender's claim on a planned record while it sends (adapters/delivery_claims.py): its token, since when, and
# how many parts of the message reached the group before a transient failure.
CLAIM, CLAIMED_AT, PARTS_SENT = "cl", "ct", "p"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def micros(t: datetime) -> int:
    return (t - _EPOCH) // _MICRO


def from_micros(n: int | float) -> datetime:
    return _EPOCH + int(n) * _MICRO


def encode(d: Delivery) -> dict:
    """A record's map: its fields under their short names, those without a value left out."""
    out = {}
    for name, short in SHORT.items():
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
    values = {name: data.get(short) for name, short in SHORT.items()}
    for name in _TIMES:
        values[name] = from_micros(values[name]) if values[name] is not None else None
    values["attempts"] = int(values["attempts"] or 0)
    values["message_ids"] = list(values["message_ids"] or [])
    return Delivery(tenant_id=tenant_id, group_id=group_id, date=day, push_id=push_id, **values)


def record_field(push_id: str, name: str):
    """The document path of one field of a push's record (a Delivery field name, or CLAIM/CLAIMED_AT/PARTS_SENT)."""
    return DayItem.records[push_id][SHORT.get(name, name)]


def written(record: Delivery, claim: tuple[str, datetime] | None) -> dict:
    """A planned record's map as `spend` writes it: claimed for a sender (its token, the time, one more attempt)
    when `claim` is given."""
    data = encode(record)
    if claim is not None:
        data.update({CLAIM: claim[0], CLAIMED_AT: micros(claim[1]), SHORT["attempts"]: record.attempts + 1})
    return data


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


def short(fields: dict) -> dict:
    """Delivery fields by their short names."""
    return {SHORT[name]: value for name, value in fields.items()}


def pending_claim(data: dict) -> str | None:
    """The claim token of a record still `planned` and claimed (its outcome may be on that token's page)."""
    return data.get(CLAIM) if data.get(STATUS) == Status.planned.value else None


def finished(data: dict, fields: dict) -> dict:
    """A record's map once `finish` recorded the outcome `fields` (`outcome_fields`, short names) and ended the
    claim: the fields set, message ids added to any there."""
    out = {k: v for k, v in data.items() if k not in (CLAIM, CLAIMED_AT)}
    ids = SHORT["message_ids"]
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
