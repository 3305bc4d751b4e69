"""A batch's outcome pages: the outcomes of the pushes it sent, written together, 25 to an item.

Each page is written on its claim token's outcome page (DeliveryClaims.finish_on_page); the pushes claimed with
that token read their outcome there until their days are written. A process that dies before a page is written
leaves those groups' claims behind (at most 25), and they are recorded `unknown_after_crash` as any send whose
outcome was not recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from qunyun.adapters.deliveries import STATEMENTS_PER_REQUEST
from qunyun.adapters.delivery_claims import DeliveryClaims, Outcome


class OutcomePages:
    """The outcomes of one batch of messages (one invocation) waiting to be written, and its claim token."""

    def __init__(self, claims: DeliveryClaims):
        self.claims = claims
        self._batch: str | None = None
        self._pages = 0
        self._waiting: list[Outcome] = []

    @property
    def token(self) -> str:
        """The claim token of the batch's next message: the batch's, with the number of the outcome page its
        outcomes go on (one more after each page written), so a record's claim names its outcome page."""
        if self._batch is None:
            self._batch = uuid.uuid4().hex
        return f"{self._batch}.{self._pages}"

    def finish_later(self, outcome: Outcome) -> None:
        """Records a sent push's outcome with the next ones, 25 to a request (`finish_pending`)."""
        self._waiting.append(outcome)
        if len(self._waiting) >= STATEMENTS_PER_REQUEST:
            self.finish_pending()

    def waiting_on(self, tenant_id: str, group_id: str, day: date) -> bool:
        """Whether an outcome of the group's day waits to be written."""
        return any((o.record.tenant_id, o.record.group_id, o.record.date) == (tenant_id, group_id, day)
                   for o in self._waiting)

    def finish_pending(self) -> None:
        """Writes the outcomes waiting on their claim token's page (one item for the 25); the messages after get
        the next token. The batch's handler calls it before it returns, and on any exception."""
        waiting, self._waiting = self._waiting, []
        if waiting:
            self._pages += 1
            self.claims.finish_on_page(waiting)

    @contextmanager
    def written(self) -> Iterator[None]:
        """Writes the outcomes still waiting when the block ends, by returning or by an exception (a RetryLater
        of another group of the batch, say). Not on what only a dying process raises (SystemExit): a crash writes
        nothing."""
        try:
            yield
        except Exception:
            self.finish_pending()
            raise
        self.finish_pending()
