"""Delivery channels (DESIGN.md §2): how a rendered message reaches a group.

One module per channel; each sends a `Message` to a `Target` and returns a `SendResult` (delivered,
transient, permanent) instead of raising. `split` fits text into each platform's size limit. WeCom customer
groups are different: `wecom_customer_group` creates owner-confirmed tasks rather than sending.

Modules are imported on first use, so a handler pays only for the channel it sends through.
"""

from __future__ import annotations

from importlib import import_module

from qunyun.channels.base import Channel
from qunyun.channels.result import Message, Outcome, SendResult, Target

__all__ = ["CHANNELS", "Channel", "Message", "Outcome", "SendResult", "Target", "channel"]

CHANNELS = {
    "wecom_robot": "wecom_robot:WecomRobot",
    "feishu_bot": "feishu_bot:FeishuBot",
    "dingtalk_robot": "dingtalk_robot:DingtalkRobot",
    "slack_webhook": "slack_webhook:SlackWebhook",
    "telegram_bot": "telegram_bot:TelegramBot",
    "signed_webhook": "signed_webhook:SignedWebhook",
    "outbox": "outbox:Outbox",
}


def channel(name: str, **kwargs) -> Channel:
    """The sender for a group's channel (a `Channel` value of domain/groups.py), built from the settings."""
    module, _, cls = CHANNELS[str(name)].partition(":")
    return getattr(import_module(f"qunyun.channels.{module}"), cls)(**kwargs)
