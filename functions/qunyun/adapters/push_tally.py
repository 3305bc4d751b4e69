"""Counts the outcomes SendPushes records (sent, failed, awaiting the owner, skipped and why), so the function can
publish them as metrics (Powertools EMF: a log line, no API call) for the alarm on pushes failing and on WeCom
quota running out. The repositories are the send path's own, counting what they wrote; an outcome recorded through
a nested call (`finish_all` falling back to `finish`) is counted once, by the outermost call."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.delivery_claims import DeliveryClaims, Outcome
from qunyun.domain.deliveries import Delivery, Status


class Tally:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def note(self, status: Status, reason: str | None = None) -> None:
        if status is Status.planned:
            return
        self.counts[status.value] += 1
        if status is Status.skipped and reason == "quota":
            self.counts["skipped_quota"] += 1

    def drain(self) -> dict[str, int]:
        """The counts since the last drain (one invocation's)."""
        out, self.counts = dict(self.counts), Counter()
        return out


class TalliedDeliveries(DeliveryRepository):
    def __init__(self, tally: Tally) -> None:
        super().__init__()
        self.tally = tally

    def add(self, record: Delivery, begun: bool | None = None) -> bool:
        written = super().add(record, begun)
        if written:
            self.tally.note(record.status, record.reason)
        return written

    def move(self, record: Delivery, status: Status, now: datetime, **kwargs) -> Delivery | None:
        moved = super().move(record, status, now, **kwargs)
        if moved is not None and moved.status is status and record.status is not status:
            self.tally.note(status, kwargs.get("reason"))
        return moved


class TalliedClaims(DeliveryClaims):
    def __init__(self, lease: timedelta, deliveries: DeliveryRepository, tally: Tally) -> None:
        super().__init__(lease, deliveries)
        self.tally, self._depth = tally, 0

    def _outer(self, call, outcomes: Sequence[tuple[Status, str | None]]):
        self._depth += 1
        try:
            result = call()
        finally:
            self._depth -= 1
        if self._depth == 0:
            oks = result if isinstance(result, list) else [result is not False] * len(outcomes)
            for (status, reason), ok in zip(outcomes, oks, strict=False):
                if ok:
                    self.tally.note(status, reason)
        return result

    def finish(self, record: Delivery, token: str, status: Status, now: datetime, *, reason: str | None = None,
               error: str | None = None, message_ids: Iterable[str] = ()) -> bool:
        return self._outer(lambda: super(TalliedClaims, self).finish(
            record, token, status, now, reason=reason, error=error, message_ids=message_ids), [(status, reason)])

    def finish_all(self, outcomes: Sequence[Outcome]) -> list[bool]:
        return self._outer(lambda: super(TalliedClaims, self).finish_all(outcomes),
                           [(o.status, o.reason) for o in outcomes])

    def finish_on_page(self, outcomes: Sequence[Outcome]) -> None:
        return self._outer(lambda: super(TalliedClaims, self).finish_on_page(outcomes),
                           [(o.status, o.reason) for o in outcomes])
