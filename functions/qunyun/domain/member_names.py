"""How a message qunyun posts names members: their names made harmless, and how many it names at most."""

from __future__ import annotations

import unicodedata

MAX_NAMED = 20  # a check-in reply or a welcome names this many members; the others are counted


def shown_name(name: str | None, member_id: str) -> str:
    """A member's name as a reply shows it: without control or format characters (a bell, a bidi override, a
    line break), at most 32 characters; the member id where nothing is left. Markup and mentions are escaped
    by the dialect's renderer (adapters/render.py)."""
    kept = "".join(c for c in (name or "") if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp")).strip()
    return kept[:32] or member_id
