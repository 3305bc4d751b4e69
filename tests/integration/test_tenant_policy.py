"""`qunyun tenants policy`: an operator's settings, checked all together before any is changed."""

from __future__ import annotations

import json

from qunyun.adapters.tenants import TenantRepository
from qunyun_ops.cli import app
from typer.testing import CliRunner


def policy(*args: str):
    return CliRunner().invoke(app, ["tenants", "policy", *args])


def test_show_and_change_settings(tenant):
    # GIVEN a new tenant with the default policy
    shown = policy(tenant.tenant_id, "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["daily_push_cap"] == 2
    # WHEN the operator changes three settings, one of them a list
    changed = policy(tenant.tenant_id, "--set", "daily_push_cap=3", "--set", "quiet_hours=23:00-07:30",
                     "--set", "reminder_ladder=eve@19:00, 2h")
    # THEN each change is shown with what it was, and the tenant has them
    assert changed.exit_code == 0, changed.output
    assert "daily_push_cap = 3  (was 2)" in changed.output
    got = TenantRepository().get(tenant.tenant_id).policy
    assert (got.daily_push_cap, got.quiet_hours, got.reminder_ladder) == (3, "23:00-07:30", ["eve@19:00", "2h"])


def test_a_bad_setting_changes_nothing(tenant):
    before = TenantRepository().get(tenant.tenant_id).policy
    for bad, words in [(["daily_push_cap=4", "quiet_hours=late"], "quiet hours 'late'"),
                       (["daily_push_cap=0"], "daily_push_cap"),
                       (["reminder_ladder=eve@25:00"], "reminder_ladder"),
                       (["no_such=1"], "KEY one of"),
                       (["daily_push_cap"], "KEY=VALUE"),
                       (["quota_period=year"], "quota_period")]:
        args = [a for b in bad for a in ("--set", b)]
        result = policy(tenant.tenant_id, *args)
        assert result.exit_code != 0 and words in result.output, (bad, result.output)
    assert TenantRepository().get(tenant.tenant_id).policy == before


def test_an_unknown_tenant_is_named():
    result = policy("nobody-here", "--set", "daily_push_cap=3")
    assert result.exit_code != 0 and "no tenant 'nobody-here'" in result.output
