"""The outcomes SendPushes publishes as metrics (Pushes_sent, Pushes_failed, Pushes_skipped_quota ...): GIVEN the
send path's repositories WHEN records are written through each of their ways THEN each outcome written is counted
once, one refused is not, and a drain starts the next invocation at zero."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console_support import csv_rows
from qunyun.adapters.delivery_claims import Outcome
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.push_tally import TalliedClaims, TalliedDeliveries, Tally
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.quota import Push, local_day
from qunyun.services.deliveries import plan_push
from qunyun.services.groups import import_groups

NOW = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


def test_each_outcome_is_counted_once(tenant):
    import_groups(tenant.tenant_id, csv_rows(NOW + timedelta(days=3)), tenants=TenantRepository(),
                  groups=GroupRepository(), secrets=secret_store())
    found, groups = TenantRepository().get(tenant.tenant_id), GroupRepository()
    tally = Tally()
    repo = TalliedDeliveries(tally)
    claims = TalliedClaims(timedelta(minutes=2), repo, tally)
    day = local_day(NOW, found.timezone)
    tea, flash = groups.get(tenant.tenant_id, "g-tea"), groups.get(tenant.tenant_id, "g-flash")
    # planned (not an outcome), then sent through `finish`
    planned, claimed = plan_push(found, tea, Push.brief("morning"), day, deliveries=repo, now=NOW, claim="t1")
    assert claimed and tally.counts == {}
    assert claims.finish(planned, "t1", Status.sent, NOW)
    assert not claims.finish(planned, "t1", Status.failed, NOW)  # not ours any more: nothing written, nothing counted
    # a failure through `finish_all`, a skip through `add` (the planner's), a skip through `move`
    other, _ = plan_push(found, flash, Push.brief("morning"), day, deliveries=repo, now=NOW, claim="t2")
    assert claims.finish_all([Outcome(other, "t2", Status.failed, NOW, reason="channel_broken")]) == [True]
    evening, _ = plan_push(found, tea, Push.brief("evening"), day, deliveries=repo, now=NOW)
    assert repo.move(evening, Status.skipped, NOW, reason="quota").status is Status.skipped
    assert repo.move(evening, Status.skipped, NOW, reason="quota") is None or tally.counts["skipped"] == 1
    wecom = groups.get(tenant.tenant_id, "g-wecom")
    assert repo.add(Delivery.of(tenant.tenant_id, "g-wecom", day, Push.brief("morning"), wecom.channel.value,
                                Status.skipped, NOW, reason="daily_cap"))
    assert tally.drain() == {"sent": 1, "failed": 1, "skipped": 2, "skipped_quota": 1}
    assert tally.drain() == {}
