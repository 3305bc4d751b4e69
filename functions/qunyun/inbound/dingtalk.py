"""DingTalk's event callbacks: `{"encrypt": …}` with `signature`, `timestamp` and `nonce` in the query, opened
with the shared MsgCrypt under the app key; every callback, the `check_url` probe included, is answered with
the word `success` encrypted and signed the same way."""

from __future__ import annotations

import json
import secrets

from qunyun.inbound.msgcrypt import MsgCrypt
from qunyun.inbound.refusal import CallbackRefused


def open_event(crypt: MsgCrypt, query: dict[str, str], body: bytes) -> dict:
    try:
        encrypted = json.loads(body).get("encrypt")
    except (ValueError, AttributeError, UnicodeDecodeError):
        raise CallbackRefused("unparsable", "the body is not DingTalk's JSON") from None
    parts = [query.get(name) for name in ("signature", "timestamp", "nonce")]
    if not all(parts) or not isinstance(encrypted, str):
        raise CallbackRefused("signature_invalid", "signature, timestamp, nonce or encrypt is missing")
    try:
        event = json.loads(crypt.open(parts[0], parts[1], parts[2], encrypted))
    except ValueError:
        raise CallbackRefused("unparsable", "the decrypted event is not JSON") from None
    if not isinstance(event, dict):
        raise CallbackRefused("unparsable", "the decrypted event is not an object")
    return event


def success(crypt: MsgCrypt, timestamp: str) -> dict[str, str]:
    return crypt.seal("success", timestamp, secrets.token_hex(8))
