"""The local SQS endpoint's lean queues (qunyun_ops/local/sqs_server.py `lean_queues`): moto's queues answer
sends, receives, deletes and attribute counts as before, without walking every message on every call."""

from __future__ import annotations

import uuid

import pytest
from moto.sqs.models import Queue, ReceiptHandleIsInvalid, SQSBackend
from qunyun_ops.local.sqs_server import lean_queues

PATCHED = ("messages", "wait_for_messages", "approximate_number_of_messages", "approximate_number_of_messages_delayed",
           "approximate_number_of_messages_not_visible", "delete_message", "_qunyun_lean")


@pytest.fixture(params=["moto's own", "lean"])
def backend(request, monkeypatch):
    """A fresh SQS backend, with moto's queues as they come or lean (put back after the test)."""
    for name in PATCHED:
        monkeypatch.setattr(Queue, name, getattr(Queue, name, False), raising=False)
    monkeypatch.setattr(SQSBackend, "send_message", SQSBackend.send_message)
    monkeypatch.setattr(SQSBackend, "is_message_valid_based_on_retention_period",
                        SQSBackend.is_message_valid_based_on_retention_period)
    if request.param == "lean":
        lean_queues()
        lean_queues()  # a second call changes nothing
    return SQSBackend("us-east-1", "123456789012")


def counts(backend: SQSBackend, name: str) -> tuple[int, int, int]:
    attrs = backend.get_queue_attributes(name, ["All"])
    return (int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"]),
            int(attrs["ApproximateNumberOfMessagesDelayed"]))


def test_sends_receives_deletes_and_counts_answer_as_moto_does(backend):
    name = f"lean-{uuid.uuid4().hex[:8]}"
    backend.create_queue(name)
    # GIVEN 25 messages sent, 2 of them delayed
    for i in range(25):
        backend.send_message(name, f"m{i}", delay_seconds=60 if i in (3, 4) else None)
    assert counts(backend, name) == (23, 0, 2)
    # WHEN 10 are received, then 10 more
    first = backend.receive_message(name, 10, 0, 30)
    second = backend.receive_message(name, 10, 0, 30)
    # THEN they come in the order sent, skipping the delayed, and are hidden while received
    assert [m.body for m in first + second] == [f"m{i}" for i in range(25) if i not in (3, 4)][:20]
    assert counts(backend, name) == (3, 20, 2)
    # AND deleting a received message removes it alone, a second delete of it is fine, a made-up handle is not
    backend.delete_message(name, first[0].receipt_handle)
    backend.delete_message(name, first[0].receipt_handle)
    with pytest.raises(ReceiptHandleIsInvalid):
        backend.delete_message(name, "not-a-receipt-handle")
    assert counts(backend, name) == (3, 19, 2)
    assert [m.body for m in backend.receive_message(name, 10, 0, 30)] == ["m22", "m23", "m24"]


def test_a_fifo_queue_still_drops_a_repeated_body_with_content_based_deduplication(backend):
    name = f"lean-{uuid.uuid4().hex[:8]}.fifo"
    backend.create_queue(name, FifoQueue="true", ContentBasedDeduplication="true")
    backend.send_message(name, "same", group_id="g")
    backend.send_message(name, "same", group_id="g")
    assert [m.body for m in backend.receive_message(name, 10, 0, 30)] == ["same"]



def test_a_message_past_the_queues_retention_period_is_not_received(backend):
    name = f"lean-{uuid.uuid4().hex[:8]}"
    backend.create_queue(name, MessageRetentionPeriod="60")
    # GIVEN a queue that keeps messages 60 seconds, holding a fresh message, one sent 61 seconds ago, and another
    for body in ("a", "old", "b"):
        backend.send_message(name, body)
    backend.get_queue(name)._messages[1].sent_timestamp -= 61_000
    # WHEN messages are received
    got = backend.receive_message(name, 10, 0, 30)
    # THEN the expired one is not given, and the receive ends there, as moto's own queue answers
    assert [m.body for m in got] == ["a"]


def test_a_long_poll_on_a_queue_with_nothing_visible_sleeps_instead_of_spinning(backend, monkeypatch):
    name = f"lean-{uuid.uuid4().hex[:8]}"
    backend.create_queue(name)
    # GIVEN a queue whose only message is in flight
    backend.send_message(name, "m")
    assert len(backend.receive_message(name, 10, 0, 30)) == 1
    looks = []
    wait = Queue.wait_for_messages
    monkeypatch.setattr(Queue, "wait_for_messages", lambda self, timeout: (looks.append(1), wait(self, timeout))[1])
    # WHEN a receive long-polls it for a second
    assert backend.receive_message(name, 10, 1, 30) == []
    # THEN it waited rather than looking again and again until the second was over
    assert len(looks) <= 3, len(looks)
