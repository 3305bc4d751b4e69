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


# ---- `qunyun tenants wecom`: the corp credentials customer groups' mass sends use ------------------------
def wecom(*args: str, secret: str):
    return CliRunner().invoke(app, ["tenants", "wecom", *args, "--corp-secret-stdin"], input=secret + "\n")


def stored_corp(tenant_id: str) -> tuple[str | None, str | None]:
    from qunyun.adapters.secrets import corp_ref, secret_store

    store = secret_store()
    return store.get(corp_ref(store, tenant_id, "corp_id")), store.get(corp_ref(store, tenant_id, "corp_secret"))


def test_wecom_corp_credentials_are_stored_where_the_senders_read_them(tenant):
    # GIVEN a tenant without corp credentials
    assert stored_corp(tenant.tenant_id) == (None, None)
    # WHEN the operator stores them, the secret on standard input
    result = wecom(tenant.tenant_id, "--corp-id", "ww0123456789abcdef", secret="S3cret-0f-the-corp_xyz")
    # THEN SendPushes and the follow-up job find them (they read through corp_ref), and the secret was not echoed
    assert result.exit_code == 0, result.output
    assert stored_corp(tenant.tenant_id) == ("ww0123456789abcdef", "S3cret-0f-the-corp_xyz")
    assert "S3cret" not in result.output and "ww0123456789abcdef" in result.output


def test_bad_wecom_corp_credentials_store_nothing(tenant):
    wecom(tenant.tenant_id, "--corp-id", "ww-good", secret="first-secret")
    for args, secret, words in [(["--corp-id", "ww 0123"], "a-good-secret", "corp id"),
                                (["--corp-id", ""], "a-good-secret", "corp id"),
                                (["--corp-id", "w" * 65], "a-good-secret", "corp id"),
                                (["--corp-id", "ww-new"], "short", "secret"),
                                (["--corp-id", "ww-new"], "has a space", "secret"),
                                (["--corp-id", "ww-new"], "", "secret")]:
        result = wecom(tenant.tenant_id, *args, secret=secret)
        assert result.exit_code != 0 and words in result.output, (args, secret, result.output)
        assert secret not in result.output or not secret
    assert stored_corp(tenant.tenant_id) == ("ww-good", "first-secret")
    unknown = wecom("nobody-here", "--corp-id", "ww-x", secret="a-good-secret")
    assert unknown.exit_code != 0 and "no tenant 'nobody-here'" in unknown.output
    assert stored_corp("nobody-here") == (None, None)
