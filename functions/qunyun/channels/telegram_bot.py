"""Telegram Bot API `sendMessage` with parse_mode HTML, to the group's chat_id, with the group's bot token.

Facts (reference/channels.md): text is 1–4096 characters after entity parsing; at most 20 messages a
minute to one group and about 30 a second overall; a 429 carries `parameters.retry_after`. Telegram counts
entity offsets in UTF-16 code units, so parts are measured in those (never fewer than characters).
"""

from __future__ import annotations

from qunyun.channels import transport
from qunyun.channels.base import HttpChannel
from qunyun.channels.result import Failure, Message, Target, permanent, transient
from qunyun.channels.split import fit

LIMIT = 4096
MAX_PARTS = 5  # a quarter of a group's minute


def classify(status: int, body: dict) -> Failure | None:
    if body.get("ok"):
        return None
    description = str(body.get("description", ""))[:200]
    parameters = body.get("parameters") or {}
    if status == 429 or "retry_after" in parameters:
        return transient("429", f"Telegram is rate limiting this chat: {description}",
                         float(parameters.get("retry_after") or 1))
    if status >= 500:
        return transient(str(status), f"Telegram answered {status}: {description}", 1.0)
    if "migrate_to_chat_id" in parameters:
        # The group became a supergroup: the operator must update chat_id in the group CSV.
        description = f"{description} (new chat_id {parameters['migrate_to_chat_id']})"
    meaning = {401: "the bot token is invalid or revoked", 403: "the bot was removed from the group"}.get(status)
    return permanent(str(body.get("error_code", status)), f"{meaning}: {description}" if meaning else description)


class TelegramBot(HttpChannel):
    name = "telegram_bot"
    setting = "telegram_base_url"

    def prepare(self, message: Message) -> list[str]:
        return fit(message.text, LIMIT, unit="utf16", markup="html", max_parts=MAX_PARTS,
                   read_more_url=message.read_more_url, read_more_label=message.read_more_label)

    def check(self, target: Target) -> Failure | None:
        if not target.secret or not target.chat_id:
            return permanent("not_configured", "a telegram_bot group needs the bot token (secret) and chat_id")
        return None

    def send_part(self, target: Target, message: Message, text: str, index: int, count: int):
        payload = {"chat_id": target.chat_id, "text": text, "parse_mode": "HTML",
                   "link_preview_options": {"is_disabled": True}}
        resp = transport.post(self.client, f"{self.base_url}/bot{target.secret}/sendMessage", payload=payload)
        if isinstance(resp, Failure):
            return resp
        body = transport.json_body(resp)
        if body is None or "ok" not in body:
            return transport.unexpected(resp, "Telegram")
        failure = classify(resp.status_code, body)
        if failure:
            return failure
        return str((body.get("result") or {}).get("message_id", "")) or None
