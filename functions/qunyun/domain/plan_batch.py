"""Plans of one scheduled run written together: what a plan touches, how many items its transaction holds, and
several plans of different members as one plan whose run counters are added once.

A settlement or an expiry is a few items (the member, its lots, the entry) and the run's counters. Written one
transaction each, the counter item is a third to a fifth of every transaction's items, and DynamoDB bills each
item of a transaction twice. Written 24-33 to a transaction, the counters are written once for all of them, and
stay exact: the pieces and their counts commit or fail together.
"""

from __future__ import annotations

from collections import Counter

from qunyun.domain.ledger import Plan, invite_checks

TRANSACTION_ITEMS = 100  # DynamoDB's limit on the items of one TransactWriteItems


def writes(plan: Plan) -> int:
    """At most how many items the plan's transaction writes or checks, its run counters included."""
    n = sum(1 + len({lot.lot for lot in c.lots}) + len(c.entries) + len(c.guards) + (c.cap is not None)
            for c in plan.changes)
    n += len(invite_checks(plan)) + len(plan.unchanged) + len(plan.stock)
    return n + sum(x is not None for x in (plan.event, plan.purchase, plan.invite, plan.redemption, plan.job))


def touched(plan: Plan) -> set[tuple[str, str]]:
    """The members and invite records the plan writes or checks: two plans that share one cannot be one
    transaction (DynamoDB refuses two operations on an item), and the second was planned from a stale read."""
    keys = {("member", c.member.member_id) for c in plan.changes}
    keys |= {("member", m.member_id) for m in plan.unchanged}
    keys |= {("invite", invitee_id) for invitee_id in plan.absent_invites}
    if plan.invite is not None:
        keys.add(("invite", plan.invite.key))
    return keys


def lone(plan: Plan) -> bool:
    """A job plan of one member and nothing else (no invite record, no check of another member's): its member's
    write under its version condition is all it holds to, so it may be written without a transaction, its counts
    added with its window's (services/job_batch.py `Tally`)."""
    return (plan.job is not None and len(plan.changes) == 1 and plan.invite is None and not invite_checks(plan)
            and not plan.unchanged and not plan.stock and not any((plan.event, plan.purchase, plan.redemption)))


def together(plans: list[Plan]) -> Plan:
    """Job plans of one tenant and run, touching nothing in common, as one plan; one plan is itself."""
    if len(plans) == 1:
        return plans[0]
    first, runs = plans[0], {p.job[0] for p in plans if p.job}
    if any(p.tenant_id != first.tenant_id or p.event or p.purchase or p.redemption or p.stock for p in plans):
        raise ValueError("only job plans of one tenant are written together")
    if sum(p.invite is not None for p in plans) > 1 or len(runs) > 1:
        raise ValueError("plans written together hold at most one invite record and one run's counters")
    counters: Counter[str] = Counter()
    for p in plans:
        counters.update(p.job[1] if p.job else {})
    return Plan(first.tenant_id, changes=[c for p in plans for c in p.changes],
                invite=next((p.invite for p in plans if p.invite is not None), None),
                job=(runs.pop(), {k: v for k, v in counters.items() if v}) if runs else None,
                absent_invites=[i for p in plans for i in p.absent_invites],
                unchanged=[m for p in plans for m in p.unchanged])
