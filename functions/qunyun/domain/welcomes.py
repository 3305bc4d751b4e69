"""The welcome of a window's newcomers: the window, the default text in each locale, the line naming them."""

from __future__ import annotations

from qunyun.domain.member_names import MAX_NAMED

WELCOME_WINDOW = 60  # seconds: joins within one window are welcomed together
# The default welcome, a template rendered in the sandbox like a tenant's own (values escaped for the channel).
WELCOME_LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {"title": "欢迎新朋友", "sep": "、", "others": " 等 {n} 人",
              "text": "欢迎 {{ newcomers }} 加入{{ group.name }}！请先看看群公告，每天发“签到”领积分。"},
    "en": {"title": "Welcome", "sep": ", ", "others": " and {n} others",
           "text": "Welcome {{ newcomers }} to {{ group.name }}! Please read the group notice; "
                   "say “签到” each day for points."},
}


def newcomers_line(names: list[str], locale: str) -> str:
    """Up to MAX_NAMED names, then how many others (a wave of joins is one welcome)."""
    labels = WELCOME_LABELS.get(locale, WELCOME_LABELS["zh-CN"])
    shown = labels["sep"].join(names[:MAX_NAMED])
    more = len(names) - min(len(names), MAX_NAMED)
    return shown + (labels["others"].format(n=more) if more else "")
