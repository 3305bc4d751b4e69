"""Every key of the points table, written once: the domain names a member, lot, guard, record or shard,
and these functions say where it lives (the layout is in points_tables.py)."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

from qunyun.domain.ledger import Guard, JobRun, LotId, Read

Key = tuple[str, str]
DUE_SHARDS = 4
FULFIL_SHARDS = 4
BALANCE_SK = "#BALANCE"
STOCK_SK = "#STOCK"
RECORD_SK = {"event": "#EVENT", "purchase": "#ORDER", "invite": "#INVITE", "redemption": "#ORDER"}
RECORD_TAG = {"event": "EV", "purchase": "OR", "invite": "IN", "redemption": "RD"}


def member_pk(tenant_id: str, member_id: str) -> str:
    return f"{tenant_id}#{member_id}"


def member_key(tenant_id: str, member_id: str) -> Key:
    return member_pk(tenant_id, member_id), BALANCE_SK


def split_member_pk(pk: str) -> tuple[str, str]:
    tenant_id, _, member_id = pk.partition("#")
    return tenant_id, member_id


def record_key(kind: str, tenant_id: str, record_id: str) -> Key:
    """A points event's idempotency record, a purchase, an invite or a redemption."""
    return f"{tenant_id}#{RECORD_TAG[kind]}#{record_id}", RECORD_SK[kind]


def is_order(pk: str) -> bool:
    """A purchase's order record (a redemption's shares its sort key)."""
    return f"#{RECORD_TAG['purchase']}#" in pk


def is_redemption(pk: str) -> bool:
    """A redemption's order record."""
    return f"#{RECORD_TAG['redemption']}#" in pk


def record_id(pk: str) -> str:
    return pk.rsplit("#", 1)[-1]


def record_tenant(kind: str, pk: str) -> str:
    return pk.split(f"#{RECORD_TAG[kind]}#")[0]


def guard_sk(guard: Guard) -> str:
    return "#".join(("G", guard.kind, *guard.parts))


QUIZ_MARK = "G#quiz#"  # a question's mark: an item of its own, which a staged answer takes as it would an order


def guard_of(sk: str) -> Guard:
    _, kind, *parts = sk.split("#")
    return Guard(kind, tuple(parts))


def lot_sk(lot: LotId) -> str:
    return f"L#{lot.name}" if lot.source == "expiry" else f"P#{lot.source}#{lot.name}"


def lot_of(sk: str) -> LotId:
    if sk.startswith("L#"):
        return LotId.expiring(sk.removeprefix("L#"))
    _, source, name = sk.split("#", 2)
    return LotId(source, name)


def in_order(lot: LotId) -> bool:
    """A purchase's pending points live in its order item (OrderItem's lot fields), written with it: no item of
    their own. Invites' pending points and available lots are items under their member."""
    return lot.source == "purchase"


def lot_key(tenant_id: str, member_id: str, lot: LotId) -> Key:
    """Where a lot lives: a purchase's in its order, any other under its member."""
    if in_order(lot):
        return record_key("purchase", tenant_id, lot.name)
    return member_pk(tenant_id, member_id), lot_sk(lot)


def lot_prefix(pending: bool) -> str:
    return "P#" if pending else "L#"


def lots_stored(lots: dict[LotId, int]) -> dict[str, int]:
    return {lot_sk(lot): points for lot, points in lots.items()}


def lots_read(stored: dict[str, int] | None) -> dict[LotId, int]:
    return {lot_of(sk): int(points) for sk, points in (stored or {}).items()}


def due_shard(pk: str) -> str:
    return due_queues()[zlib.crc32(pk.encode()) % DUE_SHARDS]


def due_queues() -> list[str]:
    return [f"DUE#{i}" for i in range(DUE_SHARDS)]


def due_sk(pk: str, sk: str, at: str) -> str:
    """A lot's key in the `lots_due` index, which lots written before the due pages are listed in."""
    return f"{at}#{pk}#{sk}"


def due_sk_time(due: str) -> str:
    """The due time a `lots_due` key names (due_sk's `at`)."""
    return due.split("#", 1)[0]


def due_pages_pk(shard: str) -> str:
    """Where a due shard keeps its pages of lots by due hour (adapters/due_pages.py)."""
    return f"{shard}#PAGES"


def members_pages_pk(tenant_id: str) -> str:
    """Where a tenant keeps its pages of members, one line each (adapters/member_pages.py); no member id holds `#`."""
    return f"{tenant_id}#MEMBERS#PAGES"


def rewards_pk(tenant_id: str) -> str:
    return f"{tenant_id}#REWARDS"


def stock_pk(tenant_id: str, reward_id: str, shard: int) -> str:
    return f"{tenant_id}#RW#{reward_id}#S{shard}"


def shard_of(pk: str) -> int:
    return int(pk.rsplit("#S", 1)[-1])


def fulfil_pk(tenant_id: str, order_id: str, state: str) -> str:
    """Owed notices are spread over FULFIL shards by order; parked ones stay listed under their tenant."""
    return f"PARKED#{tenant_id}" if state == "parked" else f"FULFIL#{int(order_id[-6:], 16) % FULFIL_SHARDS}"


def fulfil_sk(tenant_id: str, order_id: str, at: str) -> str:
    return f"{at}#{tenant_id}#{order_id}"


def fulfil_queues(tenant_id: str | None = None) -> list[str]:
    """The due shards, or a tenant's parked list."""
    return [f"PARKED#{tenant_id}"] if tenant_id else [f"FULFIL#{i}" for i in range(FULFIL_SHARDS)]


def run_key(run: JobRun) -> Key:
    return f"JOB#{run.job}#{run.at.isoformat()}", "run"


def boards_pk(tenant_id: str) -> str:
    return f"{tenant_id}#BOARD"


def board_sk(scope: str, period: str, start: str) -> str:
    return f"{scope}#{period}#{start}"


def boards_built_key(tenant_id: str, day: str) -> Key:
    """The job item SettlePoints writes once a day's boards are all stored."""
    return boards_pk(tenant_id), f"built#{day}"


def board_day_pk(tenant_id: str, day: str) -> str:
    return f"{tenant_id}#{day}"


def redemptions_day_pk(tenant_id: str, day: str) -> str:
    """The list of a program day's redemptions, apart from its earnings (no tenant id holds `#`)."""
    return f"{tenant_id}#REDEEM#{day}"


def pages_pk(list_pk: str) -> str:
    """Where a day's list (board_day_pk or redemptions_day_pk) keeps its pages."""
    return f"{list_pk}#PAGES"


PAGE_SK = "PG#"


def entry_sk(at: datetime, entry_id: str = "") -> str:
    """Entries sort by the UTC time they were written."""
    return f"E#{at.astimezone(UTC).isoformat(timespec='microseconds')}" + (f"#{entry_id}" if entry_id else "")


def key_of(read: Read) -> Key:
    """Where one domain read lives."""
    t, i = read.tenant_id, read.id
    if read.kind == "member":
        return member_key(t, i)
    if read.kind == "guard":
        return member_pk(t, i), guard_sk(read.part)
    if read.kind == "lot":
        return lot_key(t, i, read.part)
    if read.kind == "reward":
        return rewards_pk(t), i
    if read.kind == "stock":
        return stock_pk(t, i, read.part), STOCK_SK
    return record_key(read.kind, t, i)


# ---- guards held in the member item --------------------------------------------------------------------
HELD_KINDS = ("checkin", "cap", "limit")
HELD_DAYS = 8  # events over 7 days old are refused, and a program-day is at most a day before its UTC date
_MARK = "@"  # a day's check-in mark among that day's cap counters


def held(guard: Guard) -> bool:
    return guard.kind in HELD_KINDS


def held_stored(guards: dict[Guard, int]) -> dict:
    """Compact for the member item: {"days": {day: {"@": 0, source: granted}}, "limits": {"reward#window": n}}."""
    days: dict[str, dict[str, int]] = {}
    limits: dict[str, int] = {}
    for guard, n in sorted(guards.items(), key=lambda kv: kv[0].parts):
        if guard.kind == "limit":
            limits["#".join(guard.parts)] = n
        else:
            day, *source = guard.parts
            days.setdefault(day, {})[source[0] if source else _MARK] = n
    return {k: v for k, v in (("days", days), ("limits", limits)) if v}


def held_read(stored: dict | None) -> dict[Guard, int]:
    guards: dict[Guard, int] = {}
    for day, marks in (stored or {}).get("days", {}).items():
        for name, n in marks.items():
            guards[Guard.checkin(day) if name == _MARK else Guard.cap(day, name)] = int(n)
    for name, n in (stored or {}).get("limits", {}).items():
        reward_id, _, window = name.rpartition("#")
        guards[Guard.limit(reward_id, window)] = int(n)
    return guards


def held_fresh(guard: Guard, now: datetime) -> bool:
    """Whether a held guard may still matter: a day's marks for HELD_DAYS, a limit window while it runs
    (a day or week window keyed by its first day, a month by "YYYY-MM"; "total" always)."""
    oldest = (now.astimezone(UTC).date() - timedelta(days=HELD_DAYS)).isoformat()
    if guard.kind != "limit":
        return guard.parts[0] >= oldest
    window = guard.parts[-1]
    if window == "total":
        return True
    return window >= (oldest if len(window) == 10 else oldest[:7])


def stored_key(read: Read) -> Key:
    """Where a read is served from: a held guard from its member's item, anything else from its own."""
    if read.kind == "guard" and held(read.part):
        return member_key(read.tenant_id, read.id)
    return key_of(read)
