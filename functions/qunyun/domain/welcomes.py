"""The welcome of a window's newcomers: the window, the default text in each locale, the line naming them, and a
tenant's own welcome file (API.md §6: `text`, `window_seconds`, `overrides` by group kind or tag)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qunyun.domain.groups import Kind
from qunyun.domain.guard_rules import GroupRules, OverrideFor
from qunyun.domain.member_names import MAX_NAMED

WELCOME_WINDOW = 60  # seconds: joins within one window are welcomed together
# A window's welcome waits until it closes, and SQS delays a message 900 s at most: 600 leaves room to settle.
MIN_WINDOW, MAX_WINDOW = 10, 600
MAX_TEXT = 2000  # characters of a welcome template
WECOM_TEXT_BYTES = 3000  # text.content of group_welcome_template/add|edit (WeCom doc 92366)
WECOM_NICKNAME = "%NICKNAME%"  # WeCom puts the newcomer's nickname here when it sends the template
# The default welcome, a template rendered in the sandbox like a tenant's own (values escaped for the channel).
WELCOME_LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {"title": "欢迎新朋友", "sep": "、", "others": " 等 {n} 人", "group": "本群",
              "text": "欢迎 {{ newcomers }} 加入{{ group.name }}！请先看看群公告，每天发“签到”领积分。"},
    "en": {"title": "Welcome", "sep": ", ", "others": " and {n} others", "group": "the group",
           "text": "Welcome {{ newcomers }} to {{ group.name }}! Please read the group notice; "
                   "say “签到” each day for points."},
}


def labels_of(locale: str) -> dict[str, str]:
    return WELCOME_LABELS.get(locale, WELCOME_LABELS["zh-CN"])


def newcomers_line(names: list[str], locale: str) -> str:
    """Up to MAX_NAMED names, then how many others (a wave of joins is one welcome)."""
    labels = labels_of(locale)
    shown = labels["sep"].join(names[:MAX_NAMED])
    more = len(names) - min(len(names), MAX_NAMED)
    return shown + (labels["others"].format(n=more) if more else "")


class WelcomeOverride(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    for_: OverrideFor = Field(alias="for")
    text: str = Field(min_length=1, max_length=MAX_TEXT)

    @field_validator("for_")
    @classmethod
    def _for(cls, for_: OverrideFor) -> OverrideFor:
        if not (for_.kinds or for_.tags):
            raise ValueError("an override needs `for: {kinds: [...]}` or `for: {tags: [...]}`")
        unknown = [k for k in for_.kinds if k not in Kind.__members__]
        if unknown:  # a misspelt kind would never match, silently
            raise ValueError(f"unknown group kind {unknown[0]!r}; expected one of {', '.join(Kind.__members__)}")
        return for_


class WelcomeFile(BaseModel):
    """A tenant's welcome file; without `text` the default welcome of the tenant's locale is sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = Field(None, min_length=1, max_length=MAX_TEXT)
    window_seconds: int = Field(WELCOME_WINDOW, ge=MIN_WINDOW, le=MAX_WINDOW)
    overrides: list[WelcomeOverride] = Field(default_factory=list, max_length=50)

    def text_for(self, kind: str, tags: Sequence[str] = ()) -> str | None:
        """The text in force in a group of this kind and tags: the file's, then each matching override's in the
        file's order (the last one matching wins, as the guard's overrides do)."""
        text = self.text
        for o in self.overrides:
            if kind in o.for_.kinds or set(tags) & set(o.for_.tags):
                text = o.text
        return text

    def templates(self) -> list[tuple[tuple, str, str, tuple[str, ...]]]:
        """Each template of the file with where it stands (`("text",)`, `("overrides", 2, "text")`) and a group
        kind and tags it is sent to."""
        found = [(("text",), self.text, "traffic", ())] if self.text is not None else []
        return found + [(("overrides", i, "text"), o.text, (o.for_.kinds or ["traffic"])[0], tuple(o.for_.tags))
                        for i, o in enumerate(self.overrides)]


@dataclass(frozen=True)
class WelcomeSettings:
    """A tenant's welcome as stored: the checked file, its version, and its WeCom group welcome template."""

    file: WelcomeFile
    version: int
    set_at: datetime
    wecom_template_id: str | None = None
    wecom_text: str | None = None


def welcome_context(group: dict, newcomers: str, rules: GroupRules, kind: str, tags: Sequence[str],
                    checkin_keywords: Sequence[str]) -> dict:
    """What a welcome template sees: the group, the newcomers' line, and the group's rules in force (the guard's
    and the sweep's, overrides applied, and the check-in keywords)."""
    guard, sweep = rules.for_group(kind, tuple(tags))
    return {"group": group, "newcomers": newcomers,
            "rules": {"guard": guard.model_dump(mode="json"), "sweep": sweep.model_dump(mode="json"),
                      "checkin_keywords": list(checkin_keywords)}}
