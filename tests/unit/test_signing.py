"""The signature of API.md §1, checked against a value computed independently with hmac/hashlib."""

from __future__ import annotations

import hashlib
import hmac

from qunyun.domain import signing


def test_signature_matches_the_documented_recipe():
    secret, ts, body = "s3cret", "1764000000", b'{"a":1}'
    expected = hmac.new(b"s3cret", b'1764000000.POST./v1/points/events?x=1.{"a":1}', hashlib.sha256).hexdigest()
    assert signing.sign(secret, ts, "post", "/v1/points/events?x=1", body) == "sha256=" + expected


def test_matches_rejects_any_change():
    good = signing.sign("k", "1", "GET", "/v1/tenant", b"")
    assert signing.matches("k", good, "1", "GET", "/v1/tenant", b"")
    assert not signing.matches("k", good, "2", "GET", "/v1/tenant", b"")
    assert not signing.matches("k", good, "1", "GET", "/v1/tenant?", b"")
    assert not signing.matches("k", good, "1", "GET", "/v1/tenant", b" ")
    assert not signing.matches("other", good, "1", "GET", "/v1/tenant", b"")
    assert not signing.matches("k", good.upper(), "1", "GET", "/v1/tenant", b"")
