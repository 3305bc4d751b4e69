"""The console's pages: Jinja2 templates under templates/console/ with autoescaping, and one message catalogue
(templates/console/messages.json: key → {"zh": ..., "en": ...}), Chinese unless English is asked for."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from qunyun.settings import get_settings

LANGUAGES = ("zh", "en")


def language(asked: str | None, remembered: str | None, accept_language: str | None) -> str:
    """`?lang=` first, then the language the browser was last given (cookie), then its Accept-Language; Chinese
    by default."""
    for choice in (asked, remembered):
        if choice in LANGUAGES:
            return choice
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "zh"


def local_time(value: str | datetime | None, timezone: str) -> str:
    """An instant as operators read it: the group's or tenant's local date and minute."""
    if not value:
        return ""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _folder() -> Path:
    return Path(get_settings().templates_dir) / "console"


@cache
def catalogue() -> dict[str, dict[str, str]]:
    return json.loads((_folder() / "messages.json").read_text(encoding="utf-8"))


@cache
def _environment() -> Environment:
    # The templates ship with the function and never change under it: no file is checked again once compiled.
    env = Environment(loader=FileSystemLoader(str(_folder())), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.filters["percent"] = lambda v: "—" if v is None else f"{v * 100:.1f}%"
    env.filters["at"] = local_time
    env.filters["svg"] = Markup  # charts are built as SVG text with their labels escaped (domain/charts.py)
    return env


def translator(lang: str):
    """`text(key, **values)`: the catalogue's sentence in `lang` (the key itself where it has none)."""
    messages = catalogue()

    def text(key: str, **values) -> str:
        entry = messages.get(key)
        sentence = entry.get(lang) or entry.get("zh") if entry else key
        return sentence.format(**values) if values else sentence

    return text


def render(template: str, lang: str, **context) -> str:
    return _environment().get_template(template).render(t=translator(lang), lang=lang, **context)
