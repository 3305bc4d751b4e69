"""The group rules of API.md §7: checked whole (a bad regex names its line, nothing changes), and one combined
matcher for words, patterns, links and invitation codes, with links allowed by domain and subdomain."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from qunyun.domain.errors import InvalidRequest
from qunyun.domain.guard_rules import GroupRules, GuardSection, Matcher
from qunyun_ops.cli.yamlfile import load_model

API_EXAMPLE = """\
guard:
  words: [加微信, 兼职, 刷单]
  patterns: ['[vV]\\s*[xX]\\s*[:：]']      # regular expressions
  allow_domains: [example.com]           # any other link is an offence
  ladder: warn_then_remove               # warn_then_remove | warn_only | remove
  window_days: 30
  exempt: {roles: [owner, admin], members: ['telegram:1001'], top_points: 20}
sweep:
  silent_days: 7
  min_messages_30d: 3
  newcomer_grace_days: 7
  mode: report                           # report | remove
  max_per_run: 20
  notice: 根据群规，长期未发言的群友将被移出，欢迎随时回来。
overrides:                               # optional, by group kind or tag
  - for: {kinds: [flash]}
    sweep: {mode: report}
"""


def test_the_api_example_is_accepted(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(API_EXAMPLE, encoding="utf-8")
    rules = load_model(path, GroupRules)
    assert rules.guard.words == ["加微信", "兼职", "刷单"] and rules.guard.exempt.top_points == 20
    assert rules.for_group("flash")[1].mode == "report" and rules.sweep.max_per_run == 20


def test_a_bad_regex_names_its_line(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("guard:\n  words: [ok]\n  patterns:\n    - 'fine'\n    - '(unclosed'\n", encoding="utf-8")
    with pytest.raises(InvalidRequest) as e:
        load_model(path, GroupRules)
    assert "line 5" in e.value.message and "(unclosed" in e.value.message and "Nothing was changed" in e.value.message


@pytest.mark.parametrize("bad", ["guard: {ladder: kick}", "guard: {allow_domains: ['http://x.com/a']}",
                                 "guard: {patterns: ['a*']}", "guard: {patterns: ['(a)\\\\1']}",
                                 "overrides: [{for: {}, sweep: {mode: report}}]",
                                 "overrides: [{for: {kinds: [flash]}, sweep: {mode: purge}}]",
                                 "sweep: {max_per_run: 0}", "guard: {surprise: 1}"])
def test_any_error_refuses_the_file(tmp_path, bad):
    path = tmp_path / "rules.yaml"
    path.write_text(bad + "\n", encoding="utf-8")
    with pytest.raises(InvalidRequest) as e:
        load_model(path, GroupRules)
    assert "line 1" in e.value.message


def test_one_matcher_finds_words_patterns_links_and_codes():
    m = Matcher(GuardSection(words=["加微信", "Spam"], patterns=[r"[vV]\s*[xX]\s*[:：]"],
                             allow_domains=["example.com"]))
    assert m.first("good morning, see https://example.com/a and shop.example.com") is None
    assert m.first("hello 加微信 now").rule == "word 1"
    assert m.first("cheap SPAM").rule == "word 2"
    assert m.first("vx: abc").rule == "pattern 1"
    hit = m.first("https://notexample.com/x")
    assert (hit.rule, hit.detail) == ("link", "notexample.com")
    assert m.first("go to evil.cn now").rule == "link"
    assert m.first("邀请码: AB12CD").rule == "invite code"
    assert m.first(None) is None
    # the matcher is one regex, whatever the number of rules
    assert m._regex.pattern.count("|") >= 4


def test_overrides_apply_by_kind_or_tag_in_order():
    rules = GroupRules.model_validate({"guard": {"ladder": "warn_only"}, "overrides": [
        {"for": {"tags": ["vip"]}, "guard": {"ladder": "remove", "window_days": 7}},
        {"for": {"kinds": ["flash"]}, "guard": {"window_days": 3}}]})
    assert rules.for_group("traffic")[0].ladder == "warn_only"
    assert rules.for_group("traffic", ["vip"])[0].ladder == "remove"
    assert rules.for_group("flash", ["vip"])[0].window_days == 3


def _rule_by_rule(guard: GuardSection, text: str):
    """What a loop over the rules finds: the leftmost offence, and at one place the first rule in the file's order
    (words, then patterns, then invitation codes, then links not allowed)."""
    import re

    from qunyun.domain.guard_rules import INVITE_CODE, LINK, link_host

    rules = [(f"word {i + 1}", f"(?i:{re.escape(w)})") for i, w in enumerate(guard.words)]
    rules += [(f"pattern {i + 1}", f"(?:{p})") for i, p in enumerate(guard.patterns)]
    rules += [("invite code", f"(?i:{INVITE_CODE})"), ("link", f"(?i:{LINK})")]
    allowed = Matcher(GuardSection(allow_domains=guard.allow_domains)).allowed
    for pos in range(len(text) + 1):
        for name, rule in rules:
            m = re.compile(rule).match(text, pos)
            if m and not (name == "link" and allowed(link_host(m.group()))):
                return name
    return None


@given(st.lists(st.text("abAB加微", min_size=1, max_size=3), max_size=4),
       st.lists(st.sampled_from([r"a+b", r"[bB]\s*加", r"微{2}", r"ab|ba"]), max_size=3),
       st.text("abAB加微 .xcom:/", max_size=24))
def test_the_combined_matcher_finds_what_each_rule_would(words, patterns, text):
    # GIVEN words and patterns that overlap each other, links and codes; WHEN a message is matched
    guard = GuardSection(words=[w for w in words if w.strip()], patterns=patterns, allow_domains=["x.com"])
    hit = Matcher(guard).first(text)
    # THEN the rule named is the one a rule-by-rule scan finds first
    assert (hit.rule if hit else None) == _rule_by_rule(guard, text)
