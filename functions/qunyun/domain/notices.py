"""Notices: a flash group's farewell and an event's reminders, as a template sees them.

Like a brief, a notice renders per channel dialect from `templates/notices/{dialect}/{name}.j2` (`farewell`,
`reminder`, `cancelled`), with every value escaped for the dialect; these functions build what the template
sees, in the group's timezone and the tenant's words.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from qunyun.domain.briefs import show_time

NOTICES: tuple[str, ...] = ("farewell", "reminder", "cancelled")
LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "farewell": "感谢相伴", "thanks": "本群活动已圆满结束，感谢每一位群友的支持！",
        "colon": "：", "after_sales": "售后咨询", "hours": "服务时间", "invite": "诚邀加入长期群",
        "invite_top": "特别感谢本群积分前几名的群友，欢迎加入", "points": "分",
        "reminder": "活动提醒", "starts": "开始时间", "open": "点这里进入",
        "eve": "明天见！", "soon": "还有 {n}，不要错过", "hours_unit": " 小时", "minutes_unit": " 分钟",
        "cancelled": "活动取消", "cancelled_text": "很抱歉，以下活动已取消：",
    },
    "en": {
        "farewell": "Thank you", "thanks": "This group's sale has ended. Thank you all for being here!",
        "colon": ": ", "after_sales": "After-sales help", "hours": "Hours", "invite": "Join our long-term group",
        "invite_top": "A special thank-you to our top members, who are invited to join", "points": " pts",
        "reminder": "Reminder", "starts": "Starts", "open": "Join here",
        "eve": "See you tomorrow!", "soon": "Starting in {n}, don't miss it", "hours_unit": " h",
        "minutes_unit": " min", "cancelled": "Event cancelled", "cancelled_text": "Sorry, this event is cancelled:",
    },
}


def _labels(locale: str) -> dict[str, str]:
    return LABELS.get(locale, LABELS["zh-CN"])


def lead_phrase(lead: str, before: timedelta | None, locale: str) -> str:
    """How a rung reads: `eve` rungs say see you tomorrow; the others how long is left."""
    labels = _labels(locale)
    if before is None:
        return labels["eve"]
    minutes = int(before.total_seconds() // 60)
    amount = (f"{minutes // 60}{labels['hours_unit']}" if minutes % 60 == 0
              else f"{minutes}{labels['minutes_unit']}")
    return labels["soon"].replace("{n}", amount)


def compose_farewell(group: dict, after_sales: dict, invite: dict | None, top: list[dict], locale: str) -> dict:
    """A flash group's farewell: `group` {id, name}, `after_sales` {contact, hours}, `invite` {name, link} or
    None, `top` [{rank, name, points}] (the members the invitation is addressed to; empty without one)."""
    return {"group": group, "after_sales": after_sales, "invite": invite, "top": top if invite else [],
            "labels": _labels(locale), "locale": locale}


def compose_reminder(event: dict, group: dict, lead: str, before: timedelta | None, starts_at: datetime,
                     timezone: str, locale: str) -> dict:
    """One rung of an event's reminder: `event` {id, title, link}, shown in the group's timezone."""
    return {"event": {**event, "time": show_time(starts_at, timezone, locale)}, "group": group, "lead": lead,
            "phrase": lead_phrase(lead, before, locale), "labels": _labels(locale), "locale": locale}


def compose_cancellation(event: dict, group: dict, starts_at: datetime, timezone: str, locale: str) -> dict:
    return {"event": {**event, "time": show_time(starts_at, timezone, locale)}, "group": group,
            "labels": _labels(locale), "locale": locale}
