"""What one send to a channel came to: delivered, a transient failure to retry, or a permanent failure.

A send never raises for anything the platform or the network does; it classifies. The brief sender decides
what to do next: retry a transient failure after `retry_after` (resuming at `delivered_parts`, so no part
reaches a group twice), mark the group's channel broken on a permanent one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    delivered = "delivered"
    transient = "transient"  # try again later: rate limit, 5xx, timeout, connection refused
    permanent = "permanent"  # the channel is broken until the operator fixes it: revoked key, bad signature


@dataclass(frozen=True)
class Message:
    """What to send, already rendered in the channel's markup (markdown, Telegram HTML, Slack mrkdwn)."""

    text: str
    title: str = ""  # DingTalk's markdown and Feishu's post need one; shown in the chat list
    read_more_url: str | None = None  # where the full text lives when a message has to be trimmed
    read_more_label: str = "阅读全文"
    key: str | None = None  # the caller's idempotency key (e.g. brief delivery id), passed on where possible


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    message_ids: tuple[str, ...] = ()  # platform ids of the parts delivered by this call, where it gives any
    texts: tuple[str, ...] = ()  # every part the message became, in order: what the group sees
    delivered_parts: int = 0  # parts accepted so far, counting those of earlier calls (`first_part`)
    retry_after: float | None = None  # seconds, when the platform said or its documented window implies
    code: str = ""  # the platform's error code, or http_503, timeout, connection_error
    detail: str = field(default="", compare=False)  # a sentence for the operator; never a credential

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.delivered

    @property
    def parts(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class Target:
    """Where a group's messages go: the fields of its CSV row (API.md §4), credentials resolved."""

    webhook_url: str | None = None  # a robot's or bridge's URL; for WeCom and DingTalk it holds the key
    secret: str | None = None  # the signing secret (Feishu, DingTalk, signed_webhook) or Telegram's bot token
    chat_id: str | None = None  # Telegram's chat
    tenant_id: str = ""
    group_id: str = ""


def delivered(texts: list[str], message_ids: list[str]) -> SendResult:
    return SendResult(Outcome.delivered, tuple(message_ids), tuple(texts), len(texts))


@dataclass(frozen=True)
class Failure:
    """A classified platform or network failure, before it is placed in a multi-part send."""

    outcome: Outcome
    code: str
    detail: str
    retry_after: float | None = None

    def result(self, texts: list[str], sent_ids: list[str], delivered_parts: int) -> SendResult:
        return SendResult(self.outcome, tuple(sent_ids), tuple(texts), delivered_parts, self.retry_after,
                          self.code, self.detail)


def transient(code: str, detail: str, retry_after: float | None = None) -> Failure:
    return Failure(Outcome.transient, code, detail, retry_after)


def permanent(code: str, detail: str) -> Failure:
    return Failure(Outcome.permanent, code, detail)
