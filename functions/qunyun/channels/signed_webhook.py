"""qunyun's own envelope for a bridge the operator runs: a JSON POST signed like API.md §1, outbound.

Headers `X-Qunyun-Tenant`, `X-Qunyun-Timestamp` and `X-Qunyun-Signature` (`sha256=` + hex HMAC-SHA256 of
`"{timestamp}.POST.{path_and_query}.{raw_body}"` with the group's secret), so a bridge verifies what qunyun
sends exactly as qunyun verifies what it receives. The envelope carries the caller's key, so a bridge can
drop a message it has already posted.

    {"type": "qunyun.message", "tenant_id": "t1", "group_id": "g1", "key": "brief:2026-11-25:morning",
     "title": "早安", "text": "...", "format": "text", "sent_at": 1764028800}
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from qunyun.channels import transport
from qunyun.channels.base import Clock, HttpChannel
from qunyun.channels.result import Failure, Message, Target, permanent
from qunyun.channels.split import fit
from qunyun.domain import signing

BODY_LIMIT_BYTES = 64 * 1024  # what qunyun itself accepts (API.md §1)
TEXT_LIMIT_BYTES = BODY_LIMIT_BYTES - 4 * 1024


def envelope(target: Target, message: Message, text: str, now: int) -> bytes:
    return json.dumps({"type": "qunyun.message", "tenant_id": target.tenant_id, "group_id": target.group_id,
                       "key": message.key, "title": message.title, "text": text, "format": "text",
                       "sent_at": now}, ensure_ascii=False, separators=(",", ":")).encode()


class SignedWebhook(HttpChannel):
    name = "signed_webhook"

    def __init__(self, *, client=None, timeout: float | None = None, clock: Clock | None = None):
        # The bridge's URL is the operator's own, so there is no platform base URL to configure.
        kwargs = {"clock": clock} if clock else {}
        super().__init__("", client=client, timeout=timeout, **kwargs)

    def prepare(self, message: Message) -> list[str]:
        return fit(message.text, TEXT_LIMIT_BYTES, unit="bytes", markup="markdown", max_parts=1,
                   read_more_url=message.read_more_url, read_more_label=message.read_more_label)

    def check(self, target: Target) -> Failure | None:
        parts = urlsplit(target.webhook_url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc or not target.secret:
            return permanent("not_configured", "a signed_webhook group needs an http(s) webhook_url and a secret")
        return None

    def send_part(self, target: Target, message: Message, text: str, index: int, count: int):
        now = int(self.clock())
        body = envelope(target, message, text, now)
        parts = urlsplit(target.webhook_url)
        path_and_query = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = signing.headers(target.tenant_id, target.secret, now, "POST", path_and_query, body)
        resp = transport.post(self.client, target.webhook_url, content=body, headers=headers)
        if isinstance(resp, Failure):
            return resp
        if 200 <= resp.status_code < 300:
            answer = transport.json_body(resp) or {}
            return str(answer.get("message_id") or answer.get("id") or "") or None
        return transport.unexpected(resp, "the bridge")
