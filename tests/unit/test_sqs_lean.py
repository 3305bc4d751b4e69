"""The local SQS endpoint's lean queues and requests (qunyun_ops/local/sqs_server.py `lean_queues`,
`lean_requests`): moto's queues answer sends, receives, deletes and attribute counts as before, without walking
every message on every call, and its server finds a host's backend, a queue's attribute names and a receipt
handle without repeating work that gives the same answer."""

from __future__ import annotations

import uuid

import moto.core.responses as moto_responses
import moto.core.utils as moto_utils
import moto.sqs.models as sqs_models
import pytest
from moto.moto_api._internal.moto_random import MotoRandom
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.sqs.models import Queue, ReceiptHandleIsInvalid, SQSBackend
from moto.sqs.responses import SQSResponse
from qunyun_ops.local.sqs_server import lean_queues, lean_requests

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
    for module, name in ((sqs_models, "camelcase_to_underscores"), (sqs_models, "generate_receipt_handle"),
                         (DomainDispatcherApplication, "get_backend_for_host"),
                         (moto_responses, "method_names_from_class"), (MotoRandom, "get_random_string")):
        monkeypatch.setattr(module, name, getattr(module, name))
    monkeypatch.setattr(DomainDispatcherApplication, "_qunyun_lean", False, raising=False)
    if request.param == "lean":
        lean_queues()
        lean_queues()  # a second call changes nothing
        lean_requests()
        lean_requests()
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


def test_receipt_handles_are_185_letters_and_each_receive_gets_new_ones(backend):
    name = f"lean-{uuid.uuid4().hex[:8]}"
    backend.create_queue(name, VisibilityTimeout="0")
    for i in range(5):
        backend.send_message(name, f"m{i}")
    first = [m.receipt_handle for m in backend.receive_message(name, 10, 0, 0)]
    again = [m.receipt_handle for m in backend.receive_message(name, 10, 0, 0)]
    assert all(len(h) == 185 and h.isascii() and h.isalpha() and h.islower() for h in first + again)
    assert len(set(first + again)) == 10
    # AND every handle a message was given still deletes it (SQS accepts any of them)
    backend.delete_message(name, first[2])
    assert sorted(m.body for m in backend.receive_message(name, 10, 0, 0)) == ["m0", "m1", "m3", "m4"]


def test_a_queues_attributes_answer_as_moto_does(backend):
    name = f"lean-{uuid.uuid4().hex[:8]}"
    backend.create_queue(name, VisibilityTimeout="45", DelaySeconds="2", MaximumMessageSize="2048")
    attrs = backend.get_queue_attributes(name, ["All"])
    assert (attrs["VisibilityTimeout"], attrs["DelaySeconds"], attrs["MaximumMessageSize"]) == (45, 2, 2048)
    assert attrs["QueueArn"] == f"arn:aws:sqs:us-east-1:123456789012:{name}"
    assert backend.get_queue_attributes(name, ["VisibilityTimeout"]) == {"VisibilityTimeout": 45}


@pytest.mark.parametrize("host", [None, "moto_api", "sqs", "sqs.us-east-1.amazonaws.com", "127.0.0.1:5000",
                                  "dynamodb.us-east-1.amazonaws.com", "nothing.example"])
def test_the_server_finds_each_hosts_backend_as_moto_does_and_once(host, monkeypatch):
    import moto.backends as moto_backends

    monkeypatch.setattr(DomainDispatcherApplication, "get_backend_for_host",
                        DomainDispatcherApplication.get_backend_for_host)
    monkeypatch.setattr(DomainDispatcherApplication, "_qunyun_lean", False, raising=False)
    expected = DomainDispatcherApplication(create_backend_app).get_backend_for_host(host)
    lean_requests()
    app = DomainDispatcherApplication(create_backend_app)
    walks = []
    modules = moto_backends.list_of_moto_modules
    monkeypatch.setattr(moto_backends, "list_of_moto_modules", lambda: (walks.append(1), modules())[1])
    assert [app.get_backend_for_host(host) for _ in range(3)] == [expected] * 3
    assert len(walks) <= 1, walks


def test_a_response_class_lists_its_actions_as_moto_does_and_once(backend, monkeypatch):
    import inspect

    class Fresh(SQSResponse):  # a class no earlier test has asked about
        pass

    # GIVEN moto's list of the class's actions, and the inspection it makes counted
    expected = [name for name, _ in inspect.getmembers(Fresh, predicate=inspect.isfunction)]
    looks = []
    members = inspect.getmembers
    monkeypatch.setattr(inspect, "getmembers", lambda *a, **k: (looks.append(1), members(*a, **k))[1])
    # WHEN the server asks three times
    answers = [moto_responses.method_names_from_class(Fresh) for _ in range(3)]
    # THEN every answer is moto's (send_message_batch among them), inspected once when lean
    assert answers == [expected] * 3 and "send_message_batch" in expected
    assert len(looks) == (1 if moto_responses.method_names_from_class is not moto_utils.method_names_from_class
                          else 3)


def test_random_strings_are_of_the_length_and_letters_asked(backend):
    from moto.moto_api._internal import mock_random

    ids = {mock_random.get_random_string(length=52) for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 52 and i.isascii() and i.isalnum() for i in ids)
    lower = mock_random.get_random_string(length=30, include_digits=False, lower_case=True)
    assert len(lower) == 30 and lower.isalpha() and lower.islower()
