"""In-group check-in: which messages are check-ins, and the points event id a check-in message is recorded by."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from qunyun.domain.events import ID
from qunyun.domain.member_names import MAX_NAMED

_ID = re.compile(ID)
# Said around the word, not part of it: "签到！" and "打卡~" are check-ins too.
_AROUND = " \t\r\n!！。.~～,，"


def says_checkin(text: str | None, keywords: Iterable[str]) -> bool:
    """A message is a check-in when its text, trimmed, is one of the keywords (any case)."""
    if not text:
        return False
    said = text.strip(_AROUND).casefold()
    return any(said == k.casefold() for k in keywords)


def checkin_event_id(platform: str, chat_id: str, message_id: str) -> str:
    """The points event id of a check-in message: the platform's message id (with its chat, since some platforms
    number messages per chat), so a replayed callback is the same event; a digest where it is not a valid id."""
    readable = f"{platform}.{chat_id}.{message_id}"
    if _ID.match(readable):
        return readable
    return f"{platform}.{hashlib.sha256(readable.encode()).hexdigest()[:40]}"


REPLY_LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {"title": "签到成功", "colon": "：", "sep": "、", "streak": "（连续 {n} 天）", "others": " 等 {n} 人"},
    "en": {"title": "Checked in", "colon": ": ", "sep": ", ", "streak": " ({n}-day streak)",
           "others": " and {n} others"},
}


def compose_checkin_reply(checked: list[tuple[str, int]], locale: str) -> dict:
    """What templates/notices/{dialect}/checkin_reply.j2 sees: up to MAX_NAMED (name, streak) in order of
    check-in, and how many more."""
    labels = REPLY_LABELS.get(locale, REPLY_LABELS["zh-CN"])
    named = [{"name": name, "streak": labels["streak"].format(n=streak) if streak > 1 else ""}
             for name, streak in checked[:MAX_NAMED]]
    more = len(checked) - len(named)
    return {"labels": labels, "named": named, "others": labels["others"].format(n=more) if more else ""}
