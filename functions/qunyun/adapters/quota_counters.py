"""Spending a group's slots: the day's cap and, for a WeCom customer group, the mass sends of its quota period,
counted in one item per group and period (CounterItem) so that a period's pushes never outrun WeCom's quota."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import size

from qunyun.adapters.deliveries_tables import CounterItem, DayItem
from qunyun.adapters.delivery_keys import counter_key, day_key, quota_token
from qunyun.adapters.delivery_maps import written
from qunyun.adapters.delivery_statements import execute_statements, mass_send_statement, new_day_statement
from qunyun.adapters.group_days import GroupDay
from qunyun.adapters.tables import conditional_failed
from qunyun.domain.deliveries import Delivery
from qunyun.domain.quota import Allowance, Push, Spent


class QuotaCounters:
    """The spending of DeliveryRepository."""

    def spent(self, tenant_id: str, group_id: str, day: date, period_key: str | None,
              known: GroupDay | None = None, push_id: str | None = None) -> Spent:
        """What the group has spent on the day and in the quota period, read consistently (the day not again
        when `known`, just read, nor the period when it was read with the day). The mass send `push_id` holds in
        the period, if any, is not counted in `period` but said by `period_held`."""
        read_with_day = known is not None and period_key in known.periods
        counter = counter_key(tenant_id, group_id, period_key) if period_key is not None else None
        keys = [] if known is not None else [day_key(tenant_id, day, group_id)]
        keys += [counter] if counter is not None and not read_with_day else []
        # The day and the quota counter share the table and the `pushes` attribute: one request reads both.
        found = {(i.pk, i.sk): i for i in DayItem.batch_get(keys, consistent_read=True)} if keys else {}
        today = known or GroupDay.of(tenant_id, group_id, day, found.get(day_key(tenant_id, day, group_id)))
        if read_with_day:
            tokens = set(known.periods[period_key])
        else:
            period = found.get(counter) if counter is not None else None
            tokens = set(period.pushes or ()) if period is not None else set()
        held = push_id is not None and quota_token(day, push_id) in tokens
        return Spent(day=today.spent, period=len(tokens) - held, pushes=today.pushes, begun=today.begun,
                     period_held=held)

    def spend(self, tenant_id: str, group_id: str, day: date, push: Push, limits: Allowance, record: Delivery,
              *, begun: bool, claim: tuple[str, datetime] | None = None, period_held: bool = False) -> bool:
        """Spends one slot of the day, and a mass send of the quota period when there is one, and writes the
        push's `record` (claimed for a sender when `claim` is given: its token and the time).

        The period's mass send is taken first (unless `period_held`: the push took it before), then the day's
        slot and the record in one conditional write. Conditions make each all or nothing: the push must not
        have spent on the day or have a record yet, and fewer than the allowed pushes (mass sends) may be spent.
        `begun` says whether the day's item existed when read (it is then updated, otherwise created). False
        when a condition failed; the caller reads again and decides again, and gives the period's mass send
        back (`give_back_period`) if the push is not to go after all.

        Why not one transaction: it would bill both items twice (4 write units instead of 2). The price is a
        window between the two writes: a sender that stops there leaves the mass send taken; its retry finds it
        held and writes the day, and without a retry the group has one mass send fewer that period. WeCom's
        quota is never overrun."""
        pk, sk = day_key(tenant_id, day, group_id)
        data = written(record, claim)
        try:
            if limits.period_key is not None and not period_held:
                in_period = CounterItem.pushes.does_not_exist() | (size(CounterItem.pushes) < limits.period)
                CounterItem(*counter_key(tenant_id, group_id, limits.period_key)).update(
                    actions=[CounterItem.pushes.add({quota_token(day, push.push_id)})], condition=in_period)
            if begun:
                on_day = DayItem.pk.exists() & ~DayItem.pushes.contains(push.push_id) \
                    & DayItem.records[push.push_id].does_not_exist() \
                    & (DayItem.spent.does_not_exist() | (DayItem.spent < limits.day))
                slot = 0 if push.free else 1  # a free push (domain/quota.py) spends no slot of the day
                DayItem(pk, sk).update(actions=[DayItem.spent.add(slot), DayItem.pushes.add({push.push_id}),
                                                DayItem.records[push.push_id].set(data)], condition=on_day)
            else:
                DayItem(pk, sk, spent=int(not push.free), pushes={push.push_id}, records={push.push_id: data}).save(
                    condition=DayItem.pk.does_not_exist())
        except (PutError, UpdateError) as err:
            if conditional_failed(err):
                return False
            raise
        return True

    def spend_new_days(self, pushes: Sequence[tuple[Delivery, Allowance, Spent]], claim: tuple[str, datetime]
                       ) -> list[bool]:
        """`spend` for many groups' pushes on days nothing was written to yet, from what was just read: each
        `(record, limits, spent)` (the record's push, group and day; its limits; what was read spent), written
        claimed. The quota periods' mass sends are taken first, then the days and records of the pushes that
        took theirs or held one: PartiQL statements 25 to a request with the single writes' conditions (a new
        item where none was read). Whether each push was spent, in order. One that was not (a condition failed:
        its day or its period changed since the read; or a request failed) may hold its period's mass send: the
        caller spends it alone (`spend` reads again, finds the mass send held, and takes the day or gives the
        mass send back), as after a sender stopped between `spend`'s two writes."""
        counters = [None if read.period_held or limits.period_key is None else mass_send_statement(r, limits, read)
                    for r, limits, read in pushes]
        took = iter(execute_statements([c for c in counters if c is not None]))
        going = [i for i, c in enumerate(counters) if c is None or next(took)]
        written_days = execute_statements([new_day_statement(r, claim) for r, _, _ in (pushes[i] for i in going)])
        done = [False] * len(pushes)
        for i, ok in zip(going, written_days, strict=True):
            done[i] = ok
        return done

    def give_back_period(self, tenant_id: str, group_id: str, day: date, push_id: str, period_key: str) -> None:
        """Returns the mass send a push took in the period (it was skipped after all: the day was full)."""
        CounterItem(*counter_key(tenant_id, group_id, period_key)).update(
            actions=[CounterItem.pushes.delete({quota_token(day, push_id)})])
