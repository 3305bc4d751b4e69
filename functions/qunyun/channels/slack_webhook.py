"""Slack incoming webhook: one message of mrkdwn section blocks, with `text` as the notification fallback.

Facts (reference/channels.md): text is truncated past 40,000 characters; a section block holds at most
3,000; about one message a second, HTTP 429 with Retry-After beyond. A long message becomes several
sections of one message rather than several messages (no throttling), trimmed with a link past 40,000.
"""

from __future__ import annotations

from qunyun.channels import transport
from qunyun.channels.base import HttpChannel, credential
from qunyun.channels.result import Failure, Message, Target, permanent
from qunyun.channels.split import fit, split

TEXT_LIMIT = 40_000
SECTION_LIMIT = 3_000

# Slack's documented webhook errors that will not get better by retrying.
ERRORS = {
    "invalid_token": "the webhook was revoked",
    "no_service": "the webhook is disabled, removed or invalid",
    "no_team": "the Slack workspace no longer exists",
    "team_disabled": "the Slack workspace is disabled",
    "channel_not_found": "the channel was deleted",
    "channel_is_archived": "the channel is archived",
    "action_prohibited": "a Slack admin blocked posting to this channel",
    "invalid_payload": "Slack could not read the message",
    "invalid_blocks": "Slack rejected the message's blocks",
}


def blocks(text: str) -> list[dict]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": part}}
            for part in split(text, SECTION_LIMIT, unit="chars", markup="mrkdwn")]


class SlackWebhook(HttpChannel):
    name = "slack_webhook"
    setting = "slack_base_url"

    def prepare(self, message: Message) -> list[str]:
        return fit(message.text, TEXT_LIMIT, unit="chars", markup="mrkdwn", max_parts=1,
                   read_more_url=message.read_more_url, read_more_label=message.read_more_label)

    def check(self, target: Target) -> Failure | None:
        if not credential(target.webhook_url, after="/services/"):
            return permanent("no_webhook", "the group's webhook URL is not https://hooks.slack.com/services/...")
        return None

    def send_part(self, target: Target, message: Message, text: str, index: int, count: int):
        path = credential(target.webhook_url, after="/services/")
        resp = transport.post(self.client, f"{self.base_url}/services/{path}",
                              payload={"text": text, "blocks": blocks(text)})
        if isinstance(resp, Failure):
            return resp
        if 200 <= resp.status_code < 300:
            return None
        failure = transport.server_failure(resp)
        if failure:
            return failure
        reason = resp.text.strip()[:100]
        return permanent(reason or f"http_{resp.status_code}",
                         ERRORS.get(reason, f"Slack answered HTTP {resp.status_code} {reason}".strip()))
