"""The group CSV (API.md §4): every bad row is reported with its line number and reason."""

from __future__ import annotations

import pytest
from qunyun.domain.group_csv import parse_group_csv
from qunyun.domain.groups import Channel, Kind

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501


def parse(*rows: str, header: str = HEADER):
    return parse_group_csv("\n".join([header, *rows]) + "\n")


def test_a_good_file_with_defaults():
    rows, errors = parse(
        "g1,宝妈交流群,learning,outbox,,,,,,,,vip;parents,,,",
        "g2,闪购群,flash,wecom_robot,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K,,,,Asia/Tokyo,07:30,-,,"
        "s1,rep1,2026-11-30T22:00:00+08:00",
        "g3,客户群,store,wecom_customer_group,,,zhangsan,wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA,,,,,,,",
    )
    assert errors == []
    g1, g2, g3 = rows
    assert (g1.kind, g1.channel, g1.morning, g1.evening, g1.tags, g1.timezone) == (
        Kind.learning, Channel.outbox, "08:00", "20:30", ["vip", "parents"], None)
    assert (g2.morning, g2.evening, g2.timezone, g2.store, g2.ends_at.isoformat()) == (
        "07:30", None, "Asia/Tokyo", "s1", "2026-11-30T22:00:00+08:00")
    assert (g3.owner, g3.chat_id) == ("zhangsan", "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA")


@pytest.mark.parametrize(
    "row, field, words",
    [
        ("g1,n,flashy,outbox,,,,,,,,,,,", "kind", "is not one of"),
        ("g1,n,other,carrier_pigeon,,,,,,,,,,,", "channel", "is not one of"),
        ("g1,n,other,outbox,,,,,Mars/Olympus,,,,,,", "timezone", "IANA"),
        ("g1,n,other,outbox,,,,,,8:00,,,,,", "morning", "HH:MM"),
        ("g1,n,other,outbox,,,,,,,24:00,,,,", "evening", "HH:MM"),
        ("g1,n,flash,outbox,,,,,,,,,,,", None, "ends_at"),
        ("g1,n,flash,outbox,,,,,,,,,,,2026-11-30", "ends_at", "UTC offset"),
        ("g1,n,flash,outbox,,,,,,,,,,,tomorrow", "ends_at", "ISO 8601"),
        ("g1,n,other,wecom_robot,,,,,,,,,,,", None, "needs webhook_url"),
        ("g1,n,other,wecom_robot,ftp://x/y,,,,,,,,,,", "webhook_url", "http(s) URL"),
        ("g1,n,other,wecom_customer_group,,,owner1,,,,,,,,", None, "needs chat_id"),
        ("g1,n,other,telegram_bot,,,,,,,,,,,", None, "needs secret and chat_id"),
        ("g1,n,other,signed_webhook,https://bridge.example/x,,,,,,,,,,", None, "needs secret"),
        ("bad id!,n,other,outbox,,,,,,,,,,,", "group_id", "letters, digits"),
        (",n,other,outbox,,,,,,,,,,,", "group_id", ""),
        ("g1,,other,outbox,,,,,,,,,,,", "name", ""),
        ("g1,n,other,outbox", None, "expected 15 values, found 4"),
    ],
)
def test_each_bad_row_is_named_with_line_field_and_reason(row, field, words):
    rows, errors = parse("ok1,fine,other,outbox,,,,,,,,,,,", row)
    assert [r.group_id for r in rows] == ["ok1"]
    assert errors, "the bad row must be reported"
    assert all(e.line == 3 for e in errors)
    assert any((e.field == field or field is None) and words in e.message for e in errors), errors


def test_duplicate_group_ids_name_the_first_line():
    _, errors = parse("g1,a,other,outbox,,,,,,,,,,,", "g2,b,other,outbox,,,,,,,,,,,", "g1,c,other,outbox,,,,,,,,,,,")
    assert [(e.line, e.field) for e in errors] == [(4, "group_id")]
    assert "line 2" in errors[0].message


def test_header_problems_are_reported_on_line_1():
    _, errors = parse("g1,a,other,outbox", header="group_id,name,kind,colour")
    assert [e.line for e in errors] == [1]
    assert "unknown columns ['colour']" in errors[0].message and "missing columns ['channel']" in errors[0].message


def test_empty_file_and_bom_and_quoted_newlines():
    assert parse_group_csv("")[1][0].line == 1
    text = "\ufeffgroup_id,name,kind,channel\r\n" 'g1,"two\nlines",other,outbox\r\n' "g2,x,y,z\r\n"
    rows, errors = parse_group_csv(text)
    assert [r.name for r in rows] == ["two\nlines"]
    assert {e.line for e in errors} == {4}  # the quoted newline counts as a line of the file


def test_a_subset_of_columns_in_any_order_is_accepted():
    rows, errors = parse_group_csv("channel,kind,name,group_id\noutbox,other,n,g1\n")
    assert errors == [] and rows[0].group_id == "g1"
