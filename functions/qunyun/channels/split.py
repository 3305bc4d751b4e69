"""Fitting a message into a platform's size limit without losing or mangling it.

Platforms count differently (reference/channels.md): WeCom counts UTF-8 bytes (a Chinese character is 3),
Telegram counts characters, Slack characters. A message that is too long is never rejected: it is split
into several messages at the best boundary that fits (paragraph, line, sentence, word, character, in that
order), never inside a character, a grapheme (accents, emoji sequences, flags) or a markup construct (a
link, bold text, a mention, an HTML tag or entity, a code block), or trimmed with a "read more" link where
more messages would do more harm than good.

Pure functions: no I/O, deterministic, so a retry that resumes at part N sends the same part N.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from typing import Literal

Unit = Literal["bytes", "chars", "utf16"]
Markup = Literal["plain", "markdown", "html", "mrkdwn"]

ELLIPSIS = "…"
# Below this nothing useful fits next to a read-more link; 4 is the least that holds any character.
MIN_LIMIT = 8

_URL = r"https?://[^\s<>()\[\]{}\"']+"
_CONSTRUCTS: dict[str, re.Pattern[str]] = {
    "plain": re.compile(_URL),
    "markdown": re.compile(
        r"```.*?```"  # fenced code
        r"|`[^`\n]+`"  # inline code
        r"|!?\[[^\]\n]*\]\([^)\s]*\)"  # link or image
        r"|\*\*[^\n]+?\*\*"  # bold
        r"|<font\b[^>]*>.*?</font>"  # WeCom coloured text
        r"|<[^<>\n]+>"  # <@userid> mentions and other tags
        r"|" + _URL,
        re.DOTALL,
    ),
    "html": re.compile(
        r"<(b|strong|i|em|u|ins|s|strike|del|span|tg-spoiler|a|code|pre|blockquote|tg-emoji)\b[^>]*>.*?</\1\s*>"
        r"|<[^<>]+>"  # any other tag
        r"|&(?:#\d+|#x[0-9a-fA-F]+|\w+);"  # entity
        r"|" + _URL,
        re.DOTALL,
    ),
    "mrkdwn": re.compile(
        r"```.*?```|`[^`\n]+`"
        r"|<[^<>\n]+>"  # <url|label>, <@U123>, <!here>
        r"|\*[^*\n]+\*|_[^_\n]+_|~[^~\n]+~"
        r"|" + _URL,
        re.DOTALL,
    ),
}
# Preferred cut points, best first; a cut lands at the start of the match (the match goes to the next part).
_BREAKS = (
    re.compile(r"\n[ \t]*\n"),  # paragraph
    re.compile(r"\n"),  # line
    re.compile(r"(?<=[。！？；…])|(?<=[!?;.])(?=\s)"),  # after a sentence (not inside 3.14)
    re.compile(r"(?<=[，、：])|(?<=[,:])(?=\s)|\s"),  # after a clause (not inside 1,000), or between words
)


def cost(ch: str, unit: Unit) -> int:
    """What one code point counts for: UTF-8 bytes, characters, or UTF-16 code units (Telegram's entities)."""
    if unit == "chars":
        return 1
    c = ord(ch)
    if unit == "utf16":
        return 2 if c > 0xFFFF else 1
    return 1 if c < 0x80 else 2 if c < 0x800 else 3 if c < 0x10000 else 4


def size(text: str, unit: Unit) -> int:
    if unit == "bytes":
        return len(text.encode("utf-8"))
    if unit == "utf16":
        return len(text.encode("utf-16-le")) // 2
    return len(text)


def _joins_previous(text: str, i: int) -> bool:
    """True when text[i] belongs to the grapheme before it, so no cut may fall at i."""
    ch, prev = text[i], text[i - 1]
    if unicodedata.combining(ch) or ch in "\u200d\ufe0e\ufe0f" or prev == "\u200d" or (prev, ch) == ("\r", "\n"):
        return True
    if 0x1F3FB <= ord(ch) <= 0x1F3FF or 0xE0020 <= ord(ch) <= 0xE007F:  # skin tones, tag sequences
        return True
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF and 0x1F1E6 <= ord(prev) <= 0x1F1FF  # a flag's two halves


def _blocked(text: str, markup: Markup) -> tuple[bytearray, bytearray]:
    """Per position: 1 where a cut would split a grapheme (hard), and where it would split markup (soft)."""
    grapheme = bytearray(len(text) + 1)
    for i in range(1, len(text)):
        if _joins_previous(text, i):
            grapheme[i] = 1
    construct = bytearray(grapheme)
    for m in _CONSTRUCTS[markup].finditer(text):
        construct[m.start() + 1:m.end()] = b"\x01" * max(0, m.end() - m.start() - 1)
    return grapheme, construct


def _best_cut(text: str, lo: int, hi: int, blocked: bytearray) -> int | None:
    """The best allowed cut in (lo, hi]: the last paragraph break, else line, sentence, word, character."""
    window = text[lo:hi + 1]
    for pattern in _BREAKS:
        cuts = [lo + m.start() for m in pattern.finditer(window) if 0 < m.start() <= hi - lo]
        for c in reversed(cuts):
            if not blocked[c]:
                return c
    for c in range(hi, lo, -1):
        if not blocked[c]:
            return c
    return None


def spans(text: str, limit: int, *, unit: Unit = "bytes", markup: Markup = "plain") -> list[tuple[int, int]]:
    """Contiguous (start, end) slices covering all of `text`; each slice, stripped, fits within `limit`."""
    if limit < MIN_LIMIT:
        raise ValueError(f"a size limit below {MIN_LIMIT} cannot hold a useful message")
    return _spans(text, limit, unit, markup)


def _spans(text: str, limit: int, unit: Unit, markup: Markup) -> list[tuple[int, int]]:
    content = text.strip()
    if not content:
        return []
    if size(content, unit) <= limit:
        return [(0, len(text))]  # most messages fit whole: no need to weigh every character
    prefix = [0]
    for ch in text:
        prefix.append(prefix[-1] + cost(ch, unit))
    grapheme, construct = _blocked(text, markup)
    out: list[tuple[int, int]] = []
    start, end = 0, len(text.rstrip())
    while start < end:
        cs = start + len(text[start:end]) - len(text[start:end].lstrip())  # content start
        if prefix[end] - prefix[cs] <= limit:
            out.append((start, len(text)))
            return out
        hi = bisect.bisect_right(prefix, prefix[cs] + limit) - 1  # the farthest end that fits
        # Markup is kept whole when it fits; a construct longer than the limit has to be cut somewhere.
        cut = _best_cut(text, cs, hi, construct) or _best_cut(text, cs, hi, grapheme) or hi
        out.append((start, cut))
        start = cut
    if out:
        out[-1] = (out[-1][0], len(text))  # trailing whitespace belongs to the last part
    return out


def split(text: str, limit: int, *, unit: Unit = "bytes", markup: Markup = "plain") -> list[str]:
    """Splits `text` into messages of at most `limit` units each, at the best boundaries; [] for blank text.

    Joining the parts with whitespace gives back the text: only whitespace at a cut is dropped.
    """
    return [text[a:b].strip() for a, b in spans(text, limit, unit=unit, markup=markup)]


def read_more(url: str | None, label: str, markup: Markup) -> str:
    """The tail of a trimmed message: an ellipsis and, when there is a URL, a link to the full text."""
    if not url:
        return ELLIPSIS
    if markup == "html":
        from html import escape

        return f'{ELLIPSIS}\n\n<a href="{escape(url, quote=True)}">{escape(label, quote=False)}</a>'
    if markup == "markdown":
        safe = url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
        return f"{ELLIPSIS}\n\n[{label}]({safe})"
    if markup == "mrkdwn":
        safe = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
        return f"{ELLIPSIS}\n\n<{safe}|{label}>"
    return f"{ELLIPSIS}\n\n{label}: {url}"


def trim(text: str, limit: int, *, unit: Unit = "bytes", markup: Markup = "plain", read_more_url: str | None = None,
         read_more_label: str = "阅读全文") -> str:
    """`text` unchanged when it fits; otherwise its best-fitting head followed by a read-more link."""
    text = text.strip()
    if size(text, unit) <= limit:
        return text
    tail = read_more(read_more_url, read_more_label, markup)
    if size(tail, unit) > limit // 2:  # an absurdly long URL: an ellipsis is better than no text
        tail = ELLIPSIS
    a, b = _spans(text, limit - size(tail, unit), unit, markup)[0]
    return text[a:b].strip() + tail


def fit(text: str, limit: int, *, unit: Unit = "bytes", markup: Markup = "plain", max_parts: int | None = None,
        read_more_url: str | None = None, read_more_label: str = "阅读全文") -> list[str]:
    """Splits `text` into at most `max_parts` messages; whatever does not fit in them is trimmed off the last
    one, which then ends with a read-more link. `max_parts=1` is plain trimming."""
    cuts = spans(text, limit, unit=unit, markup=markup)
    if max_parts is None or len(cuts) <= max_parts:
        return [text[a:b].strip() for a, b in cuts]
    head = [text[a:b].strip() for a, b in cuts[:max_parts - 1]]
    rest = text[cuts[max_parts - 1][0]:]
    return head + [trim(rest, limit, unit=unit, markup=markup, read_more_url=read_more_url,
                        read_more_label=read_more_label)]
