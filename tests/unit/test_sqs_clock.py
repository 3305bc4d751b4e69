"""The local SQS endpoint's clock (qunyun_ops/local/sqs_server.py `fast_clock`): moto's SQS models tell the
same time as moto's own clock, read from `time.time()`, and their messages' visibility and delay follow it."""

from __future__ import annotations

import time
from datetime import datetime

import moto.core.utils as moto_clock
import moto.sqs.models as sqs_models
import pytest
from qunyun_ops.local.sqs_server import fast_clock


@pytest.fixture
def fast(monkeypatch):
    # monkeypatch puts moto's own clock back after the test
    monkeypatch.setattr(sqs_models, "unix_time", sqs_models.unix_time)
    monkeypatch.setattr(sqs_models, "unix_time_millis", sqs_models.unix_time_millis)
    fast_clock()
    fast_clock()  # a second call changes nothing


def test_the_fast_clock_tells_the_time_moto_tells(fast):
    assert sqs_models.unix_time is not moto_clock.unix_time
    assert abs(sqs_models.unix_time_millis() - moto_clock.unix_time_millis()) < 50
    when = datetime(2026, 12, 1, 0, 0, 0, 123000)  # a given instant is converted as moto converts it
    assert sqs_models.unix_time(when) == moto_clock.unix_time(when)
    assert sqs_models.unix_time_millis(when) == moto_clock.unix_time_millis(when)


def test_a_received_message_is_hidden_until_its_visibility_timeout_passes_by_that_clock(fast, monkeypatch):
    message = sqs_models.Message("m-1", "body")
    message.mark_sent(delay_seconds=1)
    assert message.delayed
    message.mark_received(visibility_timeout=30)
    assert not message.visible
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 31)
    assert message.visible and not message.delayed
