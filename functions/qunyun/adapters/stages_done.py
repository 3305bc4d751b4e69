"""The stages this process wrote to the end (adapters/points_stage.py, standing.py): a member holding one of their
tokens is settled without a read of what settles it."""

from __future__ import annotations

from collections import OrderedDict

_DONE: OrderedDict[str, None] = OrderedDict()
_KEPT = 10_000


def finished(token: str) -> None:
    _DONE[token] = None
    while len(_DONE) > _KEPT:
        _DONE.popitem(last=False)


def is_finished(token: str) -> bool:
    return token in _DONE
