"""The guard's ladder as a property, on DynamoDB Local: for any sequence of messages, the members removed are
exactly those with two offences inside one window and no exemption."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes.telegram import FakeTelegramBot
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.guard_rules import GuardRulesStore
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.guard_rules import GroupRules
from qunyun.services.groups import import_groups
from qunyun.services.guard_rules import set_rules
from test_guard import BOT, CHAT, HEADER, T0, World

WINDOW = 10
EXEMPT = 3
RULES = {"guard": {"words": ["加微信"], "window_days": WINDOW, "exempt": {"members": [f"telegram:{EXEMPT}"]}}}
# Few members, mostly offending, with gaps around the window's length: the cases where the window decides.
said = st.lists(st.tuples(st.integers(1, EXEMPT), st.sampled_from([True, True, False]), st.integers(1, 24 * 14)),
                max_size=12)


@pytest.fixture(scope="module")
def bot():
    with FakeTelegramBot() as fake:
        fake.add_bot(BOT)
        fake.add_chat(CHAT)
        yield fake


def expected(messages: list[tuple[int, bool, datetime]]) -> set[str]:
    times: dict[int, list[datetime]] = {}
    for user, offends, at in messages:
        if offends and user != EXEMPT:
            times.setdefault(user, []).append(at)
    return {str(u) for u, ts in times.items()
            if any(later - earlier < timedelta(days=WINDOW) for earlier, later in zip(ts, ts[1:], strict=False))}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=said, split=st.integers(0, 10))
# Either side of the window's edge: 241 hours apart is two windows' offences, 238 hours one window's.
@example(sequence=[(1, True, 1), (1, True, 241), (2, True, 1), (2, True, 238)], split=2)
def test_removals_are_the_members_with_two_offences_in_a_window(make_tenant, bot, sequence, split):
    tenant = make_tenant()
    import_groups(tenant.tenant_id, "\n".join([HEADER, f"tg,电报群,traffic,telegram_bot,,{BOT},,{CHAT},,,,,,,"]),
                  tenants=TenantRepository(), groups=GroupRepository(), secrets=secret_store())
    set_rules(tenant.tenant_id, GroupRules.model_validate(RULES), datetime.now(UTC), store=GuardRulesStore())
    bot.bans.clear()
    world = World(tenant.tenant_id, bot)
    at, messages = T0, []
    for user, offends, hours in sequence:
        at += timedelta(hours=hours)
        messages.append((user, offends, at))
    for part in (messages[:split], messages[split:]):  # one or two batches, in time order
        if part:
            world.batch(*[(u, "加微信 12345" if offends else "早上好", t) for u, offends, t in part])
    assert {user for _, user in bot.bans} == expected(messages)
