"""The guard's platform calls: delete a message, post a warning, remove a member, let a removed member back,
each addressed to the platform of the group's channel (one module per platform: moderation_*.py).

A platform or channel without the API answers `unsupported`; the guard records a deletion or warning it could not
make as failed and turns a removal into an operator task with the evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from qunyun.channels import transport
from qunyun.channels.moderation_dingtalk import DingtalkModeration
from qunyun.channels.moderation_feishu import FeishuModeration
from qunyun.channels.moderation_slack import SlackModeration
from qunyun.channels.moderation_telegram import TelegramModeration
from qunyun.domain.guard import Outcome


@dataclass(frozen=True)
class ModTarget:
    platform: str
    chat_id: str
    secret: str | None  # Telegram: the group's bot token
    # The platform connection's app credentials (`qunyun connect`): Feishu app_id/app_secret, Slack bot_token,
    # DingTalk app_key/app_secret.
    app: Mapping[str, str] = field(default_factory=dict, compare=False)
    webhook_url: str | None = None  # DingTalk: the group's robot, which posts the warnings


class PlatformModeration(Protocol):
    def delete(self, target: ModTarget, message_id: str) -> Outcome: ...
    def post(self, target: ModTarget, text: str) -> Outcome: ...
    def remove(self, target: ModTarget, user_id: str) -> Outcome: ...
    def restore(self, target: ModTarget, user_id: str) -> Outcome: ...


def unsupported(platform: str, what: str) -> Outcome:
    return Outcome(False, f"qunyun cannot {what} on {platform}", unsupported=True)


class Moderation:
    """One client per platform, sharing one HTTP client; each built from its platform's base URL."""

    def __init__(self, telegram_base_url: str, *, feishu_base_url: str = "https://open.feishu.cn",
                 slack_api_base_url: str = "https://slack.com", dingtalk_base_url: str = "https://oapi.dingtalk.com",
                 timeout: float = 5.0):
        self.client = transport.make_client(timeout)
        self.platforms: dict[str, PlatformModeration] = {
            "telegram": TelegramModeration(telegram_base_url, self.client),
            "feishu": FeishuModeration(feishu_base_url, self.client),
            "slack": SlackModeration(slack_api_base_url, self.client),
            "dingtalk": DingtalkModeration(dingtalk_base_url, self.client),
        }

    def _of(self, target: ModTarget) -> PlatformModeration | None:
        return self.platforms.get(target.platform)

    def delete(self, target: ModTarget, message_id: str) -> Outcome:
        found = self._of(target)
        return found.delete(target, message_id) if found else unsupported(target.platform, "delete a message")

    def delete_many(self, target: ModTarget, message_ids: list[str]) -> list[Outcome]:
        """A batch's messages of one chat: in one call where the platform has one (Telegram), else one by one."""
        found = self._of(target)
        if found is not None and hasattr(found, "delete_many"):
            return found.delete_many(target, message_ids)
        return [self.delete(target, m) for m in message_ids]

    def post(self, target: ModTarget, text: str) -> Outcome:
        found = self._of(target)
        return found.post(target, text) if found else unsupported(target.platform, "post a warning")

    def remove(self, target: ModTarget, user_id: str) -> Outcome:
        found = self._of(target)
        return found.remove(target, user_id) if found else unsupported(target.platform, "remove a member")

    def restore(self, target: ModTarget, user_id: str) -> Outcome:
        found = self._of(target)
        return found.restore(target, user_id) if found else unsupported(target.platform, "let a member back")
