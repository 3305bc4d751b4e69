"""One callback through its platform's scheme: verified with the connection's secrets, answered as the platform
expects, and normalised into group events. Pure: the caller looks up the secrets and queues the events."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from qunyun.domain.group_events import GroupEvent
from qunyun.inbound import (
    dingtalk,
    dingtalk_events,
    feishu,
    feishu_events,
    slack,
    slack_events,
    telegram,
    telegram_events,
    wecom,
    wecom_events,
)
from qunyun.inbound.msgcrypt import MsgCrypt
from qunyun.inbound.refusal import CallbackRefused


@dataclass(frozen=True)
class Callback:
    method: str
    headers: dict[str, str]  # lower-case names
    query: dict[str, str]  # URL-decoded
    body: bytes


@dataclass(frozen=True)
class Handled:
    events: list[GroupEvent] = field(default_factory=list)
    answer: str | dict = ""  # text/plain, or a JSON object


def _json(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise CallbackRefused("unparsable", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise CallbackRefused("unparsable", "the body is not a JSON object")
    return data


def _wecom(tenant_id: str, s: dict[str, str], cb: Callback, now: float) -> Handled:
    crypt = MsgCrypt(s["token"], s["aes_key"], s["corp_id"])
    if cb.method == "GET":
        return Handled(answer=wecom.url_check(crypt, cb.query))
    return Handled(wecom_events.group_events(tenant_id, wecom.open_event(crypt, cb.query, cb.body)))


def _dingtalk(tenant_id: str, s: dict[str, str], cb: Callback, now: float) -> Handled:
    if "signature" not in cb.query and "sign" in cb.headers:  # the robot's HTTP callback
        dingtalk.verify_robot(s["app_secret"], cb.headers, int(now * 1000))
        return Handled(dingtalk_events.robot_message(tenant_id, _json(cb.body)))
    crypt = MsgCrypt(s["token"], s["aes_key"], s["app_key"])
    event = dingtalk.open_event(crypt, cb.query, cb.body)
    answer = dingtalk.success(crypt, str(int(now * 1000)))
    return Handled(dingtalk_events.group_events(tenant_id, event), answer)


def _feishu(tenant_id: str, s: dict[str, str], cb: Callback, now: float) -> Handled:
    event = feishu.open_event(cb.body, cb.headers, s["encrypt_key"], s["verification_token"])
    if event.get("type") == "url_verification":
        return Handled(answer={"challenge": str(event.get("challenge", ""))})
    return Handled(feishu_events.group_events(tenant_id, event))


def _slack(tenant_id: str, s: dict[str, str], cb: Callback, now: float) -> Handled:
    slack.verify(s["signing_secret"], cb.headers, cb.body, now)
    envelope = _json(cb.body)
    if envelope.get("type") == "url_verification":
        return Handled(answer={"challenge": str(envelope.get("challenge", ""))})
    return Handled(slack_events.group_events(tenant_id, envelope))


def _telegram(tenant_id: str, s: dict[str, str], cb: Callback, now: float) -> Handled:
    telegram.verify(s["secret_token"], cb.headers)
    return Handled(telegram_events.group_events(tenant_id, _json(cb.body)))


SCHEMES: dict[str, Callable[[str, dict[str, str], Callback, float], Handled]] = {
    "wecom": _wecom, "dingtalk": _dingtalk, "feishu": _feishu, "slack": _slack, "telegram": _telegram}


def handle(platform: str, tenant_id: str, secrets: dict[str, str], callback: Callback, now: float) -> Handled:
    """Raises CallbackRefused when the callback fails its scheme or cannot be read."""
    try:
        return SCHEMES[platform](tenant_id, secrets, callback, now)
    except CallbackRefused:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        # A verified payload of a shape the normaliser cannot read is refused as unparsable, never a 5xx.
        raise CallbackRefused("unparsable", f"the callback's content cannot be read ({type(err).__name__})") from None
