"""A tenant's group rules (API.md §7): what the guard counts as an offence, what it does about it, and whom the
inactivity sweep prunes; overridable per group kind or tag.

The rules compile into one matcher: a single alternation regex over the words, the patterns and link and
invitation-code detection, so a message is scanned once however many rules there are."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

Ladder = Literal["warn_then_remove", "warn_only", "remove"]
DEFAULT_NOTICE = "根据群规，长期未发言的群友将被移出，欢迎随时回来。"
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Group references (named or numbered) would point elsewhere once the patterns are joined into one regex.
_BACKREF = re.compile(r"\\[1-9]|\(\?P=|\\g<")
_TLDS = "com|cn|net|org|io|me|cc|co|top|xyz|info|biz|vip|shop|app|link|site|online|club|ly|gl|to|tk|ru|hk|tw"
# A link: a scheme or www., or a bare host with a common top-level domain ("example.com/x").
LINK = (r"(?:https?://|www\.)[^\s<>\"'，。]+"
        rf"|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})\b(?:/[^\s<>\"'，。]*)?")
INVITE_CODE = r"(?:邀请码|邀請碼|invit(?:e|ation)\s*code)\s*[:：]?\s*[A-Za-z0-9]{4,}"


class Exempt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: list[Literal["owner", "admin"]] = ["owner", "admin"]
    members: list[str] = Field(default_factory=list, max_length=1000)
    top_points: int = Field(0, ge=0, le=1000)


def _word(w: str) -> str:
    if not w.strip() or len(w) > 100:
        raise ValueError(f"a word must be 1 to 100 characters, not {w!r}")
    return w


def _pattern(p: str) -> str:
    if _BACKREF.search(p):
        raise ValueError(f"pattern {p!r}: backreferences are not allowed")
    try:
        re.compile(f"(?:{p})")  # as it will stand inside the combined matcher
    except re.error as e:
        raise ValueError(f"pattern {p!r} is not a valid regular expression ({e})") from None
    if re.compile(p).match(""):
        raise ValueError(f"pattern {p!r} matches an empty message: every message would be an offence")
    return p


def _domain(d: str) -> str:
    out = d.strip().lower().removeprefix("www.")
    if not _DOMAIN.match(out):
        raise ValueError(f"{d!r} is not a domain (write example.com, without scheme or path)")
    return out


# Checked one by one, so that an error names the list item's own line.
Word = Annotated[str, AfterValidator(_word)]
Pattern = Annotated[str, AfterValidator(_pattern)]
Domain = Annotated[str, AfterValidator(_domain)]


class GuardSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    words: list[Word] = Field(default_factory=list, max_length=2000)
    patterns: list[Pattern] = Field(default_factory=list, max_length=500)
    allow_domains: list[Domain] = Field(default_factory=list, max_length=500)
    ladder: Ladder = "warn_then_remove"
    window_days: int = Field(30, ge=1, le=365)
    exempt: Exempt = Exempt()


class SweepSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    silent_days: int = Field(7, ge=1, le=365)
    min_messages_30d: int = Field(3, ge=0, le=10000)
    newcomer_grace_days: int = Field(7, ge=0, le=365)
    mode: Literal["report", "remove"] = "report"
    max_per_run: int = Field(20, ge=1, le=500)
    notice: str = Field(DEFAULT_NOTICE, min_length=1, max_length=500)


class OverrideFor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kinds: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    for_: OverrideFor = Field(alias="for")
    guard: dict = Field(default_factory=dict)
    sweep: dict = Field(default_factory=dict)

    @field_validator("for_")
    @classmethod
    def _for(cls, for_: OverrideFor) -> OverrideFor:
        if not (for_.kinds or for_.tags):
            raise ValueError("an override needs `for: {kinds: [...]}` or `for: {tags: [...]}`")
        return for_

    # Each part checked as a section of its own, so a bad override is refused when set, naming its line.
    @field_validator("guard")
    @classmethod
    def _guard(cls, guard: dict) -> dict:
        GuardSection.model_validate(guard)
        return guard

    @field_validator("sweep")
    @classmethod
    def _sweep(cls, sweep: dict) -> dict:
        SweepSection.model_validate(sweep)
        return sweep


class GroupRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    guard: GuardSection = GuardSection()
    sweep: SweepSection = SweepSection()
    overrides: list[Override] = Field(default_factory=list, max_length=50)

    def for_group(self, kind: str, tags: list[str] | tuple[str, ...] = ()) -> tuple[GuardSection, SweepSection]:
        """The rules in force in a group of this kind and tags: the tenant's, then each matching override in
        the file's order."""
        guard, sweep = self.guard.model_dump(), self.sweep.model_dump()
        for o in self.overrides:
            if kind in o.for_.kinds or set(tags) & set(o.for_.tags):
                guard |= o.guard
                sweep |= o.sweep
        return GuardSection.model_validate(guard), SweepSection.model_validate(sweep)


@dataclass(frozen=True)
class Hit:
    rule: str  # "word 3", "pattern 1", "link", "invite code": named in warnings, never the text it matched
    detail: str  # the word, pattern or link host, kept with the evidence for the operator only


class Matcher:
    """The guard's rules as one regex; `first(text)` is the first offence in a message, or None.

    The words are one case-insensitive alternation and the patterns another: which one matched is found after a
    hit, trying each in order where the match starts (the alternative the regex took). A named group per rule
    kept Python's regex engine from testing a list of words at once: 150 words cost ~100 us of CPU a message."""

    def __init__(self, guard: GuardSection):
        self.allow = tuple(guard.allow_domains)
        parts = [f"(?P<word>(?i:{'|'.join(re.escape(w) for w in guard.words)}))"] if guard.words else []
        parts += [f"(?P<pattern>{'|'.join(f'(?:{p})' for p in guard.patterns)})"] if guard.patterns else []
        parts += [f"(?P<code>(?i:{INVITE_CODE}))", f"(?P<link>(?i:{LINK}))"]
        self._words, self._patterns = guard.words, guard.patterns
        self._each_word = [re.compile(f"(?i:{re.escape(w)})") for w in guard.words]
        self._each_pattern = [re.compile(f"(?:{p})") for p in guard.patterns]
        self._regex = re.compile("|".join(parts))

    def first(self, text: str | None) -> Hit | None:
        for m in self._regex.finditer(text or ""):
            name = m.lastgroup or ""
            if name == "link":
                host = link_host(m.group())
                if self.allowed(host):
                    continue
                return Hit("link", host)
            if name == "code":
                return Hit("invite code", "invitation code")
            each = self._each_word if name == "word" else self._each_pattern
            index = next(i for i, rule in enumerate(each) if rule.match(m.string, m.start()))
            if name == "word":
                return Hit(f"word {index + 1}", self._words[index])
            return Hit(f"pattern {index + 1}", self._patterns[index])
        return None

    def allowed(self, host: str) -> bool:
        return any(host == d or host.endswith("." + d) for d in self.allow)


def link_host(link: str) -> str:
    rest = re.sub(r"^(?i:https?://)", "", link)
    host = re.split(r"[/?#:]", rest, maxsplit=1)[0].lower()
    return host.removeprefix("www.")
