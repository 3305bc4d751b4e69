"""Jinja2 rendering of briefs, one dialect per channel family (reference/channels.md).

Every `{{ value }}` passes through the dialect's escape (Jinja2's `finalize`), so no text a member or an
operator wrote can mention everyone, inject markup or a link; links go through the `href` filter, which
encodes them for the dialect and marks them as already safe. The shipped templates run in a normal
environment; a tenant's own templates run in the sandbox with the same escaping. Both are compiled once per
process and kept.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import cache, lru_cache
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from qunyun.domain.briefs import DIALECT_NAMES, BriefRenderError
from qunyun.settings import get_settings

MAX_OUTPUT = 64 * 1024
MAX_TEMPLATE = 20 * 1024


class Safe(str):
    """Text already written for the dialect (an encoded link); the escape leaves it alone."""


# Characters that start a mention (@all, <@id>, <at>, <!channel>), markup (<b>) or a link ([x](y)),
# replaced by their full-width forms: they read the same to a member and mean nothing to the platform.
_INERT = {"@": "＠", "<": "＜", ">": "＞", "[": "［", "]": "］"}
_PLAIN = str.maketrans(_INERT)
_MARKDOWN = str.maketrans({**_INERT, "*": "＊", "`": "｀", "#": "＃"})
_MENTIONS = str.maketrans({k: v for k, v in _INERT.items() if k in "@[]"})
_URL_SAFE = "/:?#=&%+;,@!$~-._'"


def _plain(s: str) -> str:
    return s.translate(_PLAIN)


def _markdown(s: str) -> str:
    return s.translate(_MARKDOWN)


def _slack(s: str) -> str:
    # Slack's own rule: & < > escaped as entities are never control sequences (<!channel>, <@U123>, <url|x>).
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").translate(_MENTIONS)


def _telegram(s: str) -> str:
    return html.escape(s, quote=False).translate(_MENTIONS)


def inert(text: str) -> str:
    """Text shown outside the markup (a Feishu post's or a DingTalk message's title), made as inert."""
    return _plain(text)


ESCAPES: dict[str, Callable[[str], str]] = {
    "wecom_markdown": _markdown,
    "dingtalk_markdown": _markdown,
    "feishu_post": _plain,  # lines the feishu_bot channel turns into a post: [label](url) is its link
    "slack_mrkdwn": _slack,
    "telegram_html": _telegram,
    "text": _plain,
}

HREFS: dict[str, Callable[[str], str]] = {
    "wecom_markdown": lambda u: quote(u, safe=_URL_SAFE),
    "dingtalk_markdown": lambda u: quote(u, safe=_URL_SAFE),
    "feishu_post": lambda u: quote(u, safe=_URL_SAFE),
    "slack_mrkdwn": lambda u: quote(u, safe=_URL_SAFE).replace("&", "&amp;"),
    "telegram_html": lambda u: html.escape(quote(u, safe=_URL_SAFE), quote=True),
    "text": lambda u: u,
}


def _finalize(escape: Callable[[str], str]) -> Callable[[object], str]:
    def finalize(value: object) -> str:
        if isinstance(value, Safe):
            return value
        if value is None:
            return ""
        return escape(value if isinstance(value, str) else str(value))

    return finalize


def _configure(env: Environment, dialect: str) -> Environment:
    href = HREFS[dialect]
    env.filters["href"] = lambda url: Safe(href(str(url)))
    return env


def _options(dialect: str) -> dict:
    return {"loader": FileSystemLoader(get_settings().templates_dir), "undefined": StrictUndefined,
            "autoescape": False, "trim_blocks": True, "lstrip_blocks": True, "auto_reload": False,
            "finalize": _finalize(ESCAPES[dialect])}


@cache
def shipped(dialect: str) -> Environment:
    """The environment of the templates qunyun ships (templates/briefs/{dialect}/{edition}.j2)."""
    return _configure(Environment(**_options(dialect)), dialect)


@cache
def sandbox(dialect: str) -> ImmutableSandboxedEnvironment:
    """Tenants' own templates: no attribute of Python internals, no mutation, same escaping; they may
    extend or include the shipped templates."""
    return _configure(ImmutableSandboxedEnvironment(**_options(dialect)), dialect)


@lru_cache(maxsize=512)
def _compiled_override(dialect: str, source: str):
    return sandbox(dialect).from_string(source)


def check_dialect(dialect: str) -> str:
    if dialect not in DIALECT_NAMES:
        raise ValueError(f"unknown dialect {dialect!r}; expected one of {', '.join(DIALECT_NAMES)}")
    return dialect


def compile_override(dialect: str, source: str):
    """Compiles a tenant's template in the sandbox; a syntax error is a BriefRenderError with its line."""
    check_dialect(dialect)
    if len(source.encode()) > MAX_TEMPLATE:
        raise BriefRenderError(f"the template is over {MAX_TEMPLATE // 1024} KB")
    try:
        return _compiled_override(dialect, source)
    except TemplateError as e:
        raise BriefRenderError(_reason(e)) from None


def _reason(e: TemplateError) -> str:
    line = getattr(e, "lineno", None)
    return f"{type(e).__name__}: {e.message or e}" + (f" (template line {line})" if line else "")


_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING = re.compile(r"[ \t]+\n")


def _tidy(text: str) -> str:
    return _BLANK_LINES.sub("\n\n", _TRAILING.sub("\n", text)).strip()


def render(dialect: str, edition: str, context: dict, override: str | None = None, family: str = "briefs") -> str:
    """The message text of one group's brief (or, with `family="notices"`, of a farewell, reminder or
    cancellation named by `edition`); any failure is a BriefRenderError saying why."""
    try:
        template = (compile_override(dialect, override) if override is not None
                    else shipped(check_dialect(dialect)).get_template(f"{family}/{dialect}/{edition}.j2"))
        text = template.render(context)
    except BriefRenderError:
        raise
    except TemplateError as e:
        raise BriefRenderError(_reason(e)) from None
    except Exception as e:  # a template's own expressions (1 // 0, a bad format) fail one group, not the run
        raise BriefRenderError(f"{type(e).__name__}: {e}") from None
    text = _tidy(text)
    if not text:
        raise BriefRenderError("the template produced an empty message")
    if len(text) > MAX_OUTPUT:
        raise BriefRenderError(f"the message is over {MAX_OUTPUT // 1024} KB")
    return text
