"""A tenant's welcome file (API.md §6): overrides by kind or tag, the last matching one winning; each template
checked in the sandbox for the groups it is sent to; the WeCom template's text with WeCom's own placeholder."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from qunyun.domain.errors import InvalidRequest
from qunyun.domain.guard_rules import GroupRules
from qunyun.domain.tenants import Tenant, TenantPolicy
from qunyun.domain.welcomes import WelcomeFile
from qunyun.services.welcome_settings import check_welcome, wecom_text

TENANT = Tenant(tenant_id="t1", name="Tea", secret_ref="ref", created_at=datetime(2026, 12, 1, tzinfo=UTC))
EN = TENANT.model_copy(update={"policy": TenantPolicy(locale="en", checkin_keywords=["check in"])})


def test_overrides_apply_by_kind_or_tag_and_the_last_one_matching_wins():
    file = WelcomeFile.model_validate({"text": "base", "overrides": [
        {"for": {"kinds": ["flash"]}, "text": "flash"}, {"for": {"tags": ["vip"]}, "text": "vip"}]})
    assert file.text_for("traffic") == "base" and file.text_for("flash") == "flash"
    assert file.text_for("traffic", ["vip"]) == "vip" and file.text_for("flash", ["vip"]) == "vip"
    assert WelcomeFile().text_for("flash") is None and WelcomeFile().window_seconds == 60


@pytest.mark.parametrize("data", [{"window_seconds": 9}, {"window_seconds": 601}, {"window_seconds": 60.5},
                                  {"text": ""}, {"overrides": [{"for": {}, "text": "x"}]},
                                  {"overrides": [{"for": {"kinds": ["flash"]}}]}, {"rules": "x"}])
def test_a_bad_file_is_refused(data):
    with pytest.raises(ValidationError):
        WelcomeFile.model_validate(data)


def test_a_template_is_checked_for_the_groups_it_is_sent_to():
    # GIVEN an override for tagged groups that names the group's first tag, and one that fails on flash groups
    file = WelcomeFile.model_validate({"text": "{{ newcomers }} · {{ rules.sweep.silent_days }}", "overrides": [
        {"for": {"tags": ["vip"]}, "text": "{{ group.tags[0] }} {{ newcomers }}"},
        {"for": {"kinds": ["flash"]}, "text": "ok\n{{ 1 // (group.kind != 'flash') }}"}]})
    # THEN only the second fails, on its second line
    [problem] = check_welcome(file, TENANT, GroupRules())
    assert (problem.where, problem.line) == (("overrides", 1, "text"), 2) and "ZeroDivisionError" in problem.message


def test_the_wecom_text_names_the_newcomer_with_wecoms_placeholder():
    assert wecom_text(WelcomeFile(), TENANT, GroupRules()).startswith("欢迎 %NICKNAME% 加入本群！")
    file = WelcomeFile(text="Hi {{ newcomers }}, welcome to {{ group.name }}; say {{ rules.checkin_keywords[0] }}")
    assert wecom_text(file, EN, GroupRules()) == "Hi %NICKNAME%, welcome to the group; say check in"
    with pytest.raises(InvalidRequest, match="3000"):
        wecom_text(WelcomeFile(text="欢" * 1001), TENANT, GroupRules())


def test_the_api_example_is_accepted(tmp_path):
    from qunyun_ops.cli.yamlfile import load_model

    path = tmp_path / "welcome.yaml"
    path.write_text("""\
text: |                          # Jinja2, sandboxed: group, newcomers (their names, escaped), rules
  欢迎 {{ newcomers }} 加入{{ group.name }}！
  群规：1. 禁止广告 2. 每天 8 点前发"签到"领积分
window_seconds: 60               # joins within the window get one welcome together (default 60)
overrides:                       # optional, by group kind or tag
  - for: {kinds: [flash]}
    text: 欢迎参加本次限时活动！
""", encoding="utf-8")
    file = load_model(path, WelcomeFile)
    assert check_welcome(file, TENANT, GroupRules()) == [] and file.text_for("flash") == "欢迎参加本次限时活动！"
    assert wecom_text(file, TENANT, GroupRules()).startswith("欢迎 %NICKNAME% 加入本群！\n群规：1. 禁止广告")
