"""The loop every channel shares: fit the message into parts, send them in order, stop at the first failure."""

from __future__ import annotations

import time
from collections.abc import Callable

from qunyun.channels.result import Failure, Message, SendResult, Target, delivered, permanent

Clock = Callable[[], float]


class Channel:
    """A channel sends one rendered message to one group; subclasses fit the text and send one part."""

    name = ""

    def prepare(self, message: Message) -> list[str]:
        """The messages the group will receive, in order: what a preview shows. No network."""
        raise NotImplementedError

    def check(self, target: Target) -> Failure | None:
        """A permanent failure when the target lacks what this channel cannot work without."""
        return None

    def send_part(self, target: Target, message: Message, text: str, index: int, count: int) -> str | None | Failure:
        """Sends one part; returns the platform's message id (or None when it gives none), or the failure."""
        raise NotImplementedError

    def send(self, target: Target, message: Message, *, first_part: int = 0) -> SendResult:
        """Sends `message` to the group, resuming at `first_part` after a transient failure.

        Never raises for what the platform or the network does. The result says how many parts arrived, so
        a retry resumes after them and no part reaches the group twice.
        """
        texts = self.prepare(message)
        if not texts:
            return permanent("empty_message", "the message is empty").result(texts, [], 0)
        missing = self.check(target)
        if missing:
            return missing.result(texts, [], first_part)
        ids: list[str] = []
        for i in range(first_part, len(texts)):
            sent = self.send_part(target, message, texts[i], i, len(texts))
            if isinstance(sent, Failure):
                return sent.result(texts, ids, i)
            if sent is not None:
                ids.append(str(sent))
        return delivered(texts, ids)


class HttpChannel(Channel):
    """A channel behind an HTTP API at a configurable base URL (DESIGN.md §2), with an injectable client."""

    setting = ""  # the Settings field naming the base URL

    def __init__(self, base_url: str | None = None, *, client=None, timeout: float | None = None,
                 clock: Clock = time.time):
        if base_url is None or timeout is None:
            from qunyun.settings import get_settings

            settings = get_settings()
            base_url = getattr(settings, self.setting) if base_url is None else base_url
            timeout = settings.channel_timeout_seconds if timeout is None else timeout
        from qunyun.channels.transport import make_client

        self.base_url = base_url.rstrip("/")
        self.client = client or make_client(timeout)
        self.clock = clock

    def close(self) -> None:
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def credential(webhook_url: str | None, *, query: str | None = None, after: str | None = None) -> str | None:
    """The credential in a robot's webhook URL: a query parameter (`key`, `access_token`) or the path after a
    marker (`/hook/`, `/services/`). A bare value is taken as the credential itself.

    Requests always go to the configured host with this credential, never to the host the URL names, so a
    mistyped or malicious URL in a group CSV cannot send a tenant's messages anywhere else.
    """
    if not webhook_url:
        return None
    if "://" not in webhook_url:
        return webhook_url.strip() or None
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(webhook_url)
    if query:
        values = parse_qs(parts.query).get(query)
        return values[0] if values else None
    if after and after in parts.path:
        return parts.path.split(after, 1)[1].strip("/") or None
    return None
