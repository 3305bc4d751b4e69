"""A tenant's connection to a platform's callbacks: which secrets verify them (by reference, never by value),
when the last event came and how many callbacks were refused, by reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from qunyun.domain.group_events import Platform

# The secrets each platform's callbacks are verified with, by their names in the secret store
# (`{tenant}/{platform}/{name}`); `corp_id` on WeCom may be `tenants wecom`'s.
SECRETS: dict[str, tuple[str, ...]] = {
    "wecom": ("token", "aes_key", "corp_id"),
    "feishu": ("app_id", "app_secret", "verification_token", "encrypt_key"),
    "dingtalk": ("app_key", "app_secret", "token", "aes_key"),
    "telegram": ("bot_token", "secret_token"),
    "slack": ("bot_token", "signing_secret"),
}

# The group channels whose chats a platform's callbacks may speak for (API.md §4 `channel`).
CHANNELS: dict[str, frozenset[str]] = {
    "wecom": frozenset({"wecom_customer_group"}),
    "feishu": frozenset({"feishu_bot"}),
    "dingtalk": frozenset({"dingtalk_robot"}),
    "telegram": frozenset({"telegram_bot"}),
    "slack": frozenset({"slack_webhook"}),
}


def secret_name(tenant_id: str, platform: str, name: str) -> str:
    return f"{tenant_id}/{platform}/{name}"


def callback_path(platform: str, tenant_id: str) -> str:
    return f"/v1/inbound/{platform}/{tenant_id}"


class Connection(BaseModel):
    """The public part of a connection: what `connect show` prints and what the callback API reads."""

    tenant_id: str
    platform: Platform
    connected_at: datetime
    secret_refs: dict[str, str] = Field(default_factory=dict)
    last_event_at: datetime | None = None
    refusals: dict[str, int] = Field(default_factory=dict)


@dataclass(frozen=True)
class ChatGroup:
    """A group a platform chat is, as group events need it."""

    group_id: str
    channel: str
    timezone: str | None
