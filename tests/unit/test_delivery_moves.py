"""Where a delivery record may go from each status: forward only, never back from a final one."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from qunyun.domain.deliveries import MOVES, Delivery, Status
from qunyun.domain.quota import Push


@pytest.mark.parametrize("final", [Status.sent, Status.skipped, Status.cancelled])
def test_final_statuses_go_nowhere(final):
    assert MOVES[final] == frozenset()


def test_a_mass_send_awaiting_its_owner_ends_sent_failed_or_cancelled():
    # GIVEN a planned push handed to WeCom as a mass-send task
    assert Status.awaiting_owner in MOVES[Status.planned]
    # THEN it can only end sent, failed or cancelled, never planned or skipped again
    assert MOVES[Status.awaiting_owner] - {Status.awaiting_owner} == {Status.sent, Status.failed, Status.cancelled}


def test_a_record_of_a_push_names_its_kind_and_edition():
    now = datetime(2026, 11, 25, tzinfo=UTC)
    d = Delivery.of("t1", "g1", date(2026, 11, 25), Push.brief("evening"), "outbox", Status.skipped, now,
                    reason="daily_cap")
    assert (d.kind, d.edition, d.push_id, d.reason, d.attempts) == ("brief", "evening", "brief.evening",
                                                                     "daily_cap", 0)
