"""Join links' pure rules (domain/links.py): what a link may be for, when a join counts for it, whom a member is
credited to, and the bulk file checked whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from qunyun.domain.errors import InvalidRequest
from qunyun.domain.links import LINK_ID, Link, LinkFor, check_terms, credited, new_link_id, parse_bulk_csv
from qunyun.inbound.telegram_events import group_events

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["store:S1", "rep:王五", "member:telegram:1001", "campaign:双12 KOC"])
def test_what_a_link_is_for_reads_back_as_written(text):
    assert str(LinkFor.parse(text)) == text


@pytest.mark.parametrize("text", ["", "store", "shop:S1", "store:", "member:has space", "rep:" + "x" * 129,
                                  "campaign:a\x00b"])
def test_anything_else_is_refused_with_the_forms_it_may_take(text):
    with pytest.raises(InvalidRequest) as refused:
        LinkFor.parse(text)
    assert refused.value.details["field"] == "for"


def test_a_join_counts_before_revocation_and_expiry_only():
    link = Link("t", new_link_id(), "g", "telegram", LinkFor("store", "S1"), "n", "u", "u", T0,
                expires_at=T0 + timedelta(days=1))
    assert LINK_ID.match(link.link_id)
    assert link.usable_at(T0 + timedelta(hours=1)) and not link.usable_at(T0 + timedelta(days=1))
    link.revoked_at = T0 + timedelta(minutes=5)
    assert link.usable_at(T0 + timedelta(minutes=4)) and not link.usable_at(T0 + timedelta(minutes=5))


def test_a_member_counts_for_the_links_store_or_rep_else_the_groups():
    assert credited("store:S1", "S0", "R0") == ("S1", "R0")
    assert credited("rep:R1", "S0", "R0") == ("S0", "R1")
    assert credited("member:telegram:1", "S0", "R0") == ("S0", "R0")
    assert credited(None, "S0", None) == ("S0", None)


def test_terms_follow_each_platforms_limits():
    check_terms("telegram", 99_999, T0 + timedelta(hours=1), T0)
    for platform, limit, expires in [("telegram", 0, None), ("telegram", 100_000, None), ("wecom", 5, None),
                                     ("wecom", None, T0 + timedelta(hours=1)), ("telegram", None, T0),
                                     ("telegram", None, datetime(2026, 12, 5))]:
        with pytest.raises(InvalidRequest):
            check_terms(platform, limit, expires, T0)


def test_a_bulk_file_names_every_bad_row():
    rows, errors = parse_bulk_csv("\ufeffgroup_id,for,name\ng1,member:u_1,小美\n,store:S1,\ng2,shop:1,\n\n"
                                  "g3,rep:R1\ng4,campaign:618,快闪\n")
    assert [(r.line, r.group_id, str(r.for_), r.name) for r in rows] == [
        (2, "g1", "member:u_1", "小美"), (7, "g4", "campaign:618", "快闪")]
    assert [(e.line, e.field) for e in errors] == [(3, "group_id"), (4, "for"), (6, None)]
    assert parse_bulk_csv("group,for\ng1,store:S1\n")[1][0].line == 1


def test_the_telegram_join_names_the_invite_links_url():
    [joined] = group_events("t", {"update_id": 9, "chat_member": {
        "chat": {"id": -100, "type": "supergroup"}, "from": {"id": 5}, "date": 1_764_000_000,
        "invite_link": {"invite_link": "https://t.me/+AbC", "name": "小美的邀请"},
        "old_chat_member": {"status": "left", "user": {"id": 5}},
        "new_chat_member": {"status": "member", "user": {"id": 5}}}})
    assert (joined.how, joined.invite_link, joined.invite_url) == ("link", "小美的邀请", "https://t.me/+AbC")
