"""Fitting messages into platform limits: examples, then properties checked by Hypothesis over text that
mixes Chinese, emoji sequences, combining accents and markup."""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qunyun.channels.split import fit, read_more, size, spans, split, trim

WORDS = ["早安", "签到", "积分", "商城", "hello", "world", "Ünïcode", "e\u0301", "👨\u200d👩\u200d👧", "🇨🇳", "👍🏽",
         "𝔘𝔫𝔦", "1,000", "3.14", "a"]
SEPARATORS = [" ", " ", "\n", "\n\n", "。", "，", "！"]
CONSTRUCTS = {
    "markdown": ["[签到](https://e.com/c)", "**粗体**", "<@zhangsan>", "`code`", "<font color=\"info\">绿</font>"],
    "html": ["<b>粗体</b>", "&amp;", "<a href=\"https://e.com/a\">链接</a>", "<i>斜</i>"],
    "mrkdwn": ["<https://e.com/s|link>", "*bold*", "<@U123>"],
    "plain": ["https://e.com/p?q=1 "],  # a URL ends at whitespace; two glued together are one long URL
}
UNITS = ["bytes", "chars", "utf16"]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@st.composite
def documents(draw, markup: str):
    tokens = st.sampled_from(WORDS) | st.sampled_from(SEPARATORS) | st.sampled_from(CONSTRUCTS[markup])
    return "".join(draw(st.lists(tokens, max_size=200)))


@st.composite
def cases(draw, min_limit: int = 8):
    markup = draw(st.sampled_from(sorted(CONSTRUCTS)))
    return draw(documents(markup)), draw(st.integers(min_limit, 300)), draw(st.sampled_from(UNITS)), markup


def starts_inside_a_grapheme(part: str) -> bool:
    first = part[0]
    return bool(unicodedata.combining(first)) or first in "\u200d\ufe0f" or 0x1F3FB <= ord(first) <= 0x1F3FF


# --- examples --------------------------------------------------------------------------------------------------------


def test_short_text_is_one_part_unchanged():
    assert split("早安，今日签到", 4096) == ["早安，今日签到"]


def test_blank_text_is_no_parts():
    assert split(" \n\n ", 100) == [] and fit("", 100) == []


def test_paragraphs_beat_lines_beat_words():
    assert split("aaaa bbbb\ncccc\n\ndddd", 16) == ["aaaa bbbb\ncccc", "dddd"]
    assert split("aaaa bbbb\ncccc dddd", 12) == ["aaaa bbbb", "cccc dddd"]
    assert split("aaaa bbbb cccc", 10) == ["aaaa bbbb", "cccc"]


def test_chinese_is_cut_after_a_sentence_and_counted_in_bytes():
    text = "今天签到送积分。" * 3  # 24 characters, 72 bytes
    parts = split(text, 50)
    assert parts == ["今天签到送积分。今天签到送积分。", "今天签到送积分。"]
    assert [size(p, "bytes") for p in parts] == [48, 24]
    assert split(text, 50, unit="chars") == ["今天签到送积分。今天签到送积分。今天签到送积分。"]


def test_numbers_are_not_cut_at_their_points_or_commas():
    parts = split("价格 3.14 元 1,000 分 " * 3, 20, unit="chars")
    assert all("3." not in p or "3.14" in p for p in parts) and all("1," not in p or "1,000" in p for p in parts)


def test_a_link_that_fits_is_never_cut():
    text = "签到" * 10 + "[签到有礼](https://example.com/checkin?from=brief)" + "积分" * 10
    for limit in range(60, 120):
        assert any("[签到有礼](https://example.com/checkin?from=brief)" in p for p in split(text, limit,
                                                                                          markup="markdown"))


def test_html_elements_stay_balanced():
    text = ("<b>" + "粗体字" * 5 + "</b> 普通 ") * 10
    for part in split(text, 40, unit="chars", markup="html"):
        assert part.count("<b>") == part.count("</b>")


def test_utf16_counts_astral_characters_twice():
    assert size("𝔘a", "utf16") == 3 and size("𝔘a", "chars") == 2 and size("𝔘a", "bytes") == 5


def test_trim_ends_with_a_link_in_each_markup():
    text = "早安，" * 100
    assert trim(text, 100, markup="markdown", read_more_url="https://e.com/b(1)").endswith(
        "…\n\n[阅读全文](https://e.com/b%281%29)")
    assert trim(text, 100, unit="chars", markup="html", read_more_url="https://e.com/?a=1&b=2").endswith(
        '<a href="https://e.com/?a=1&amp;b=2">阅读全文</a>')
    assert trim(text, 100, markup="mrkdwn", read_more_url="https://e.com/x").endswith("<https://e.com/x|阅读全文>")
    assert trim(text, 100, read_more_url="https://e.com/x", read_more_label="Read more").endswith(
        "Read more: https://e.com/x")
    assert trim(text, 100).endswith("…") and size(trim(text, 100), "bytes") <= 100
    assert trim("short", 100, read_more_url="https://e.com/x") == "short"


def test_a_limit_too_small_for_any_message_is_refused():
    with pytest.raises(ValueError):
        split("hello", 3)


def test_a_grapheme_longer_than_the_limit_is_still_cut_without_losing_anything():
    text = "a" + "\u0301" * 30
    assert "".join(split(text, 8)) == text


# --- properties ------------------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(cases())
def test_parts_fit_and_cover_the_text(case):
    text, limit, unit, markup = case
    cuts = spans(text, limit, unit=unit, markup=markup)
    parts = split(text, limit, unit=unit, markup=markup)
    # THEN the slices are contiguous and cover the text exactly
    if cuts:
        assert cuts[0][0] == 0 and cuts[-1][1] == len(text)
        assert all(a[1] == b[0] for a, b in zip(cuts, cuts[1:], strict=False))
        assert "".join(text[a:b] for a, b in cuts) == text
    # AND every part is non-empty and within the limit, in the platform's unit
    assert all(p and size(p, unit) <= limit for p in parts)
    # AND only whitespace at the cuts is dropped: nothing lost, nothing reordered
    assert squeeze("".join(parts)) == squeeze(text)
    # AND every part is whole UTF-8: no character was cut
    assert b"".join(p.encode("utf-8") for p in parts).decode("utf-8") == "".join(parts)


@settings(max_examples=300, deadline=None)
@given(cases(min_limit=40))
def test_graphemes_and_markup_that_fit_are_never_cut(case):
    text, limit, unit, markup = case
    parts = split(text, limit, unit=unit, markup=markup)
    assert not any(starts_inside_a_grapheme(p) for p in parts)
    for construct in CONSTRUCTS[markup]:
        construct = construct.strip()
        assert sum(p.count(construct) for p in parts) == text.count(construct)


@settings(max_examples=200, deadline=None)
@given(cases(min_limit=40), st.integers(1, 4), st.booleans())
def test_fit_keeps_to_max_parts_and_ends_a_trimmed_message_with_the_link(case, max_parts, with_url):
    text, limit, unit, markup = case
    url = "https://e.com/full" if with_url else None
    parts = fit(text, limit, unit=unit, markup=markup, max_parts=max_parts, read_more_url=url)
    assert len(parts) <= max_parts and all(size(p, unit) <= limit for p in parts)
    whole = split(text, limit, unit=unit, markup=markup)
    if len(whole) <= max_parts:
        assert parts == whole
    else:
        tail = read_more(url, "阅读全文", markup)
        tail = tail if size(tail, unit) <= limit // 2 else "…"  # no room for the link: the ellipsis alone
        assert parts[-1].endswith(tail)
        kept = squeeze("".join(parts[:-1]) + parts[-1][:-len(tail)])
        assert squeeze(text).startswith(kept)


def test_importing_the_channels_package_does_not_import_httpx():
    code = ("import sys, qunyun.channels, qunyun.channels.split, qunyun.channels.outbox;"
            "sys.exit('httpx' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd="functions").returncode == 0
