"""DingTalk's event callbacks: `{"encrypt": …}` with `signature`, `timestamp` and `nonce` in the query, opened
with the shared MsgCrypt under the app key; every callback, the `check_url` probe included, is answered with
the word `success` encrypted and signed the same way."""

from __future__ import annotations

import base64
import hashlib
import hmac
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


# The robot's HTTP callback is signed, not encrypted: `sign` = Base64(HMAC-SHA256(app secret,
# "{timestamp}\n{app secret}")), with `timestamp` in milliseconds and at most an hour away. The sign does not
# cover the body, so a robot message is trusted only as far as its message id is new.
ROBOT_WINDOW_MS = 3600 * 1000


def robot_sign(app_secret: str, timestamp: str) -> str:
    mac = hmac.new(app_secret.encode(), f"{timestamp}\n{app_secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def verify_robot(app_secret: str, headers: dict[str, str], now_ms: int) -> None:
    timestamp = headers.get("timestamp", "")
    if not timestamp.isdigit():
        raise CallbackRefused("signature_invalid", "the robot callback has no timestamp")
    if abs(now_ms - int(timestamp)) > ROBOT_WINDOW_MS:
        raise CallbackRefused("timestamp_out_of_window", "the robot callback's timestamp is over an hour away")
    if not hmac.compare_digest(robot_sign(app_secret, timestamp), headers.get("sign", "")):
        raise CallbackRefused("signature_invalid", "the robot callback's sign does not match")
