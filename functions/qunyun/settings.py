"""Environment variables, parsed once into a typed settings object."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from pydantic import BaseModel


class Settings(BaseModel):
    stack_name: str = "qunyun"
    region: str = "us-east-1"
    # DynamoDB Local on the local stack and in tests; None means the region's real endpoint.
    dynamodb_endpoint: str | None = None
    # The local stack keeps channel credentials and tenant secrets in this file; on AWS they live in
    # SSM Parameter Store as SecureStrings.
    secrets_file: str | None = None
    # Jinja2 templates: the TemplatesLayer at /opt on Lambda (template.yaml sets QUNYUN_TEMPLATES_DIR);
    # the checkout's templates/ otherwise, wherever the command runs from.
    templates_dir: str = str(Path(__file__).resolve().parents[2] / "templates")
    signature_window_seconds: int = 300
    max_body_bytes: int = 64 * 1024
    # How long an execution environment trusts the tenant item it read to check a signature (its secret
    # reference, timezone, policy and rules), sparing one GetItem per request; a tenant's changes reach the
    # webhooks within this many seconds. 0 reads the tenant on every request.
    tenant_cache_seconds: float = 5.0
    # Where each channel's API lives (DESIGN.md §2): the real platforms by default, local fakes in tests.
    # Robots and bots are addressed by the credential in the group's webhook URL, always at these hosts.
    wecom_base_url: str = "https://qyapi.weixin.qq.com"
    feishu_base_url: str = "https://open.feishu.cn"
    dingtalk_base_url: str = "https://oapi.dingtalk.com"
    slack_base_url: str = "https://hooks.slack.com"
    telegram_base_url: str = "https://api.telegram.org"
    # Slack's Web API (chat.delete, conversations.kick): another host than its incoming webhooks'.
    slack_api_base_url: str = "https://slack.com"
    channel_timeout_seconds: float = 10.0
    # Where InboundApi queues group events for ProcessGroupEvents (template.yaml sets GROUP_EVENT_QUEUE_URL).
    group_event_queue_url: str | None = None
    # Where ProcessGroupEvents hands the messages that match a group rule to GuardOffences (template.yaml sets
    # GUARD_QUEUE_URL, a FIFO queue); None guards them in ProcessGroupEvents' own batch.
    guard_queue_url: str | None = None
    # How long an environment trusts a platform connection it read (or found missing) for callbacks: the same
    # for both, so an unknown tenant costs what a known one does.
    connection_cache_seconds: float = 5.0
    # The outbox channel writes what it would send here (one JSON line per message); None keeps it in memory.
    outbox_dir: str | None = None
    # The push queue (SQS) that BriefDispatch, SendReminders and ExpireFlashGroups send to and SendPushes
    # consumes; None where nothing is queued (a function that needs it says so on its first send).
    push_queue_url: str | None = None
    # The push queue's maxReceiveCount: SendPushes records a push failed on its last receive instead of asking
    # for another try, since the queue's redrive would move it to the dead letters unrecorded.
    push_max_receives: int = 5
    # BriefDispatch's own queue of dispatch pages (template.yaml sets it): its scheduled run queues a slot's
    # groups there in pages, and each page's invocation queues their pushes. None queues them in the run itself.
    dispatch_page_queue_url: str | None = None
    # The dead-letter queues whose depth the console's today page shows (template.yaml sets DEAD_LETTER_QUEUE_URLS,
    # comma-separated).
    dead_letter_queue_urls: tuple[str, ...] = ()

    def table(self, name: str) -> str:
        return f"{self.stack_name}-{name}"


@cache
def get_settings() -> Settings:
    env = os.environ
    return Settings(
        stack_name=env.get("STACK_NAME", "qunyun"),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        dynamodb_endpoint=env.get("DYNAMODB_ENDPOINT") or None,
        secrets_file=env.get("QUNYUN_SECRETS_FILE") or None,
        templates_dir=env.get("QUNYUN_TEMPLATES_DIR") or Settings.model_fields["templates_dir"].default,
        group_event_queue_url=env.get("GROUP_EVENT_QUEUE_URL") or None,
        guard_queue_url=env.get("GUARD_QUEUE_URL") or None,
        **_channel_settings(env),
        **_push_settings(env),
        dead_letter_queue_urls=tuple(u for u in (env.get("DEAD_LETTER_QUEUE_URLS") or "").split(",") if u.strip()),
    )


def _channel_settings(env) -> dict:
    """QUNYUN_WECOM_BASE_URL and friends; only those set, so the defaults stay in one place."""
    out: dict = {f"{name}_base_url": env[f"QUNYUN_{name.upper()}_BASE_URL"].rstrip("/")
                 for name in ("wecom", "feishu", "dingtalk", "slack", "telegram", "slack_api")
                 if env.get(f"QUNYUN_{name.upper()}_BASE_URL")}
    if env.get("QUNYUN_CHANNEL_TIMEOUT_SECONDS"):
        out["channel_timeout_seconds"] = float(env["QUNYUN_CHANNEL_TIMEOUT_SECONDS"])
    if env.get("QUNYUN_TENANT_CACHE_SECONDS"):
        out["tenant_cache_seconds"] = float(env["QUNYUN_TENANT_CACHE_SECONDS"])
    if env.get("QUNYUN_CONNECTION_CACHE_SECONDS"):
        out["connection_cache_seconds"] = float(env["QUNYUN_CONNECTION_CACHE_SECONDS"])
    if env.get("QUNYUN_OUTBOX_DIR"):
        out["outbox_dir"] = env["QUNYUN_OUTBOX_DIR"]
    return out


def _push_settings(env) -> dict:
    """PUSH_QUEUE_URL, PUSH_MAX_RECEIVES and DISPATCH_PAGE_QUEUE_URL (template.yaml sets them); only those set."""
    out: dict = {}
    if env.get("PUSH_QUEUE_URL"):
        out["push_queue_url"] = env["PUSH_QUEUE_URL"]
    if env.get("DISPATCH_PAGE_QUEUE_URL"):
        out["dispatch_page_queue_url"] = env["DISPATCH_PAGE_QUEUE_URL"]
    if env.get("PUSH_MAX_RECEIVES"):
        out["push_max_receives"] = int(env["PUSH_MAX_RECEIVES"])
    return out
