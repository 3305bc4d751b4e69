"""Helpers the platforms' normalisers share: times and digests of callbacks that carry no id of their own."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime


def from_unix(seconds: float | int | str) -> datetime:
    return datetime.fromtimestamp(float(seconds), UTC)


def from_unix_ms(millis: float | int | str) -> datetime:
    return datetime.fromtimestamp(float(millis) / 1000, UTC)


def digest(*parts: object) -> str:
    """An event id for a callback without one: the same callback again gives the same id."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:40]
