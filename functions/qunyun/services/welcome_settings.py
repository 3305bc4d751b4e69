"""A tenant's welcome (API.md §6): set whole from a checked file, its WeCom group welcome template kept in step,
and its window read through a cache by ProcessGroupEvents.

`welcome set` changes WeCom before it stores anything: a refused add or edit leaves the stored file and its
template as they were. A template WeCom took but whose storing failed is added again on the next `set` (the
one left over sits unused in the corp's library)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from jinja2 import TemplateSyntaxError

from qunyun.adapters.render import render, sandbox
from qunyun.domain.errors import InvalidRequest
from qunyun.domain.guard_rules import GroupRules
from qunyun.domain.tenants import Tenant
from qunyun.domain.welcomes import (
    WECOM_NICKNAME,
    WECOM_TEXT_BYTES,
    WELCOME_WINDOW,
    WelcomeFile,
    WelcomeSettings,
    labels_of,
    welcome_context,
)

NAME = "welcome"


class WelcomeStore(Protocol):
    def get(self, tenant_id: str) -> WelcomeSettings | None: ...
    def put(self, tenant_id: str, file: WelcomeFile, at: datetime, wecom_template_id: str | None = None,
            wecom_text: str | None = None) -> int: ...


class WecomTemplates(Protocol):
    def connected(self, tenant_id: str) -> bool:
        """Whether the tenant has WeCom credentials (`tenants wecom`)."""

    def save(self, tenant_id: str, template_id: str | None, text: str) -> str | None:
        """Adds or edits the tenant's WeCom template; its id, or None for a tenant without WeCom credentials."""


@dataclass(frozen=True)
class Problem:
    where: tuple  # ("overrides", 0, "text")
    line: int | None  # the template's own line, from 1
    message: str


def _template_line(e: BaseException) -> int | None:
    """The template line a render failed on: Jinja2 rewrites its traceback into frames of `<template>`."""
    if isinstance(e, TemplateSyntaxError):
        return e.lineno
    line, tb = None, e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _message(e: BaseException) -> str:
    return f"{type(e).__name__}: {getattr(e, 'message', None) or e}"


def check_welcome(file: WelcomeFile, tenant: Tenant, rules: GroupRules) -> list[Problem]:
    """Each template of the file compiled in the sandbox and rendered once for a sample group it is sent to, with
    the tenant's rules: a syntax error, an unknown name (`{{ newcomer }}`) or an empty message is a problem at
    its line."""
    problems = []
    for where, source, kind, tags in file.templates():
        group = {"id": "g1", "name": labels_of(tenant.policy.locale)["group"], "kind": kind, "tags": list(tags)}
        context = welcome_context(group, "Ann", rules, kind, tags, tenant.policy.checkin_keywords)
        try:
            text = sandbox("text").from_string(source).render(context)
        except Exception as e:  # a syntax error, or any failure of the template's expressions
            problems.append(Problem(where, _template_line(e), _message(e)))
            continue
        if not text.strip():
            problems.append(Problem(where, None, "the template produced an empty message"))
    return problems


def wecom_text(file: WelcomeFile, tenant: Tenant, rules: GroupRules) -> str:
    """The WeCom template's text: the file's text (or the default) for no group in particular, WeCom's own
    `%NICKNAME%` where the newcomers would be named."""
    labels = labels_of(tenant.policy.locale)
    group = {"id": "", "name": labels["group"], "kind": "", "tags": []}
    context = welcome_context(group, WECOM_NICKNAME, rules, "", (), tenant.policy.checkin_keywords)
    text = render("text", NAME, context, override=file.text or labels["text"], family="notices")
    if len(text.encode()) > WECOM_TEXT_BYTES:
        raise InvalidRequest(f"The WeCom group welcome template would be {len(text.encode())} bytes; WeCom takes "
                             f"{WECOM_TEXT_BYTES} at most. Nothing was changed.")
    return text


def set_welcome(tenant: Tenant, file: WelcomeFile, now: datetime, *, store: WelcomeStore, wecom: WecomTemplates,
                rules: GroupRules, new_template: bool = False) -> tuple[int, WelcomeSettings]:
    """Replaces the tenant's welcome (already checked whole): the WeCom template first (added the first time or
    with `new_template`, edited after), then the file with it. Returns the new version and what is stored."""
    current = store.get(tenant.tenant_id)
    template_id = current.wecom_template_id if current else None
    text = current.wecom_text if current else None  # a tenant without WeCom keeps a template set before
    if wecom.connected(tenant.tenant_id):
        text = wecom_text(file, tenant, rules)
        template_id = wecom.save(tenant.tenant_id, None if new_template else template_id, text) or template_id
    version = store.put(tenant.tenant_id, file, now, template_id, text)
    return version, WelcomeSettings(file, version, now, template_id, text)


class WelcomeWindows:
    """A tenant's welcome window in seconds, read again after `seconds` (a new file is seen within a minute)."""

    def __init__(self, store: WelcomeStore, seconds: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.store, self.seconds, self.clock = store, seconds, clock
        self._windows: dict[str, tuple[float, int]] = {}

    def __call__(self, tenant_id: str) -> int:
        hit = self._windows.get(tenant_id)
        if hit is None or self.clock() - hit[0] > self.seconds:
            found = self.store.get(tenant_id)
            hit = (self.clock(), found.file.window_seconds if found else WELCOME_WINDOW)
            self._windows[tenant_id] = hit
        return hit[1]


def welcome_in_force(tenant: Tenant, *, store: WelcomeStore) -> dict:
    """What `welcome show` prints: the file in force (the default text where none was set), its version and
    WeCom group welcome template."""
    found = store.get(tenant.tenant_id)
    file = found.file if found else WelcomeFile()
    shown = file.model_dump(mode="json", by_alias=True)
    if shown["text"] is None:
        shown["text"] = labels_of(tenant.policy.locale)["text"]
    return {**shown, "default_text": file.text is None, "version": found.version if found else 0,
            "set_at": found.set_at.isoformat() if found else None,
            "wecom_template_id": found.wecom_template_id if found else None,
            "wecom_text": found.wecom_text if found else None}
