"""Channel base URLs come from the environment (DESIGN.md §2) and default to the real platforms."""

from __future__ import annotations

import pytest
from qunyun.settings import Settings, get_settings


@pytest.fixture
def fresh_settings():
    get_settings.cache_clear()
    yield get_settings
    get_settings.cache_clear()


def test_base_urls_default_to_the_platforms():
    s = Settings()
    assert (s.wecom_base_url, s.feishu_base_url, s.dingtalk_base_url, s.slack_base_url, s.telegram_base_url) == (
        "https://qyapi.weixin.qq.com", "https://open.feishu.cn", "https://oapi.dingtalk.com",
        "https://hooks.slack.com", "https://api.telegram.org")


def test_environment_points_channels_at_local_fakes(monkeypatch, fresh_settings):
    monkeypatch.setenv("QUNYUN_WECOM_BASE_URL", "http://127.0.0.1:9001/")
    monkeypatch.setenv("QUNYUN_TELEGRAM_BASE_URL", "http://127.0.0.1:9002")
    monkeypatch.setenv("QUNYUN_CHANNEL_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("QUNYUN_OUTBOX_DIR", "/tmp/outbox")
    s = fresh_settings()
    assert (s.wecom_base_url, s.telegram_base_url, s.feishu_base_url) == (
        "http://127.0.0.1:9001", "http://127.0.0.1:9002", "https://open.feishu.cn")
    assert (s.channel_timeout_seconds, s.outbox_dir) == (2.5, "/tmp/outbox")


def test_a_channel_takes_its_base_url_and_timeout_from_settings(monkeypatch, fresh_settings):
    from qunyun.channels.dingtalk_robot import DingtalkRobot

    monkeypatch.setenv("QUNYUN_DINGTALK_BASE_URL", "http://127.0.0.1:9003")
    monkeypatch.setenv("QUNYUN_CHANNEL_TIMEOUT_SECONDS", "4")
    robot = DingtalkRobot()
    assert robot.base_url == "http://127.0.0.1:9003" and robot.client.timeout.read == 4.0
