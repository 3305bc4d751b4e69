"""The local SQS endpoint: moto's server mode in a process of its own (`python -m qunyun_ops.local.sqs_server`).

Its own process keeps moto's in-memory state out of the stack's process and off its GIL. moto serves each
request on a thread but does not lock a queue's message list: a DeleteMessage rebuilding the list while a
SendMessage appends to it loses the new message. Here every message operation on a queue holds that queue's
lock (the condition moto already waits on during long polls, so a long poll still lets sends in).

moto's SQS asks its clock for the time twice per queued message on every send (a send reads the queue's
attributes, which count visible and delayed messages), receive and attribute count, and that clock builds two
datetimes per call: with 2,000 messages queued a SendMessageBatch took ~300 ms and a receive with its delete
~1.6 s. Here the SQS models read the same clock (seconds since the epoch, now) from `time.time()`.

A client keeps its connection between calls (KeepAliveHandler), as with SQS: werkzeug's server opened a new one
for every call, which cost the endpoint and its caller more CPU than the send itself.
"""

from __future__ import annotations

import argparse
import functools
import io
import logging
import os
import signal
import string
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler

from qunyun_ops.local.server import die_with_parent

_QUEUE_OPERATIONS = (
    "send_message",
    "send_message_batch",
    "receive_message",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "purge_queue",
)


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        # An RLock under a Condition: moto's long poll waits on it and so releases it while it waits.
        with queue._messages_lock:
            return method(self, queue_name, *args, **kwargs)

    return wrapper


def serialise_queues() -> None:
    """Makes moto's per-queue message operations atomic with respect to each other."""
    from moto.sqs.models import SQSBackend

    for name in _QUEUE_OPERATIONS:
        method = getattr(SQSBackend, name, None)
        if method is not None and not getattr(method, "_qunyun_locked", False):
            wrapped = _locked(method)
            wrapped._qunyun_locked = True  # type: ignore[attr-defined]
            setattr(SQSBackend, name, wrapped)


def fast_clock() -> None:
    """moto's SQS models tell the time with `time.time()`: the same instant, without two datetimes a call."""
    import moto.sqs.models as sqs_models

    if getattr(sqs_models.unix_time, "_qunyun_fast", False):
        return
    slow = sqs_models.unix_time

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else slow(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    unix_time._qunyun_fast = True  # type: ignore[attr-defined]
    sqs_models.unix_time, sqs_models.unix_time_millis = unix_time, unix_time_millis


def lean_queues() -> None:
    """moto's SQS queue walks its whole message list more often than a queue needs: every message sent reads
    all the queue's attributes to learn one (ContentBasedDeduplication), counting visible, delayed and
    in-flight messages three times; a receive first lists every visible message, then takes the first ten, and
    builds all the queue's attributes (counts included) three times for each message it takes, to read the
    retention period; a delete scans the list twice and copies it. Here a send skips the counts it never
    reads, a receive stops at the messages it takes and reads the retention period alone (a long poll still
    sleeps until a message is visible), and a delete removes its message in one pass. What each call answers is
    unchanged (tests/unit/test_sqs_lean.py)."""
    import moto.sqs.models as sqs_models
    from moto.sqs.models import Queue, ReceiptHandleIsInvalid, SQSBackend

    if getattr(Queue, "_qunyun_lean", False):
        return
    sending = threading.local()

    def counted(prop: property) -> property:
        def count(self: Any) -> int:
            return 0 if getattr(sending, "on", False) else prop.fget(self)

        return property(count)

    for name in ("approximate_number_of_messages_delayed", "approximate_number_of_messages_not_visible"):
        setattr(Queue, name, counted(getattr(Queue, name)))
    Queue.approximate_number_of_messages = counted(
        property(lambda self: sum(1 for m in self._messages if m.visible and not m.delayed)))
    # Only receive_message iterates this (and stops at its batch); it was a list of every visible message.
    Queue.messages = property(lambda self: (m for m in self._messages if m.visible and not m.delayed))

    def wait_for_messages(self: Any, timeout: int) -> None:
        # A long poll waits until a message is visible; moto's test (`self.messages`, a list) would be always
        # true of a generator, and the poll would spin instead of waiting.
        with self._messages_lock:
            self._messages_lock.wait_for(lambda: next(self.messages, None) is not None, timeout=timeout)

    Queue.wait_for_messages = wait_for_messages

    def delete_message(self: Any, receipt_handle: str) -> None:
        if receipt_handle in self.deleted_messages:
            return  # already deleted: deleting again is fine
        for i, message in enumerate(self._messages):
            if message.had_receipt_handle(receipt_handle):
                self.pending_messages.discard(message)
                self.deleted_messages.update(message.all_receipt_handles)
                del self._messages[i]
                return
        raise ReceiptHandleIsInvalid()

    Queue.delete_message = delete_message
    send = SQSBackend.send_message

    @functools.wraps(send)
    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        sending.on = True
        try:
            return send(self, *args, **kwargs)
        finally:
            sending.on = False

    SQSBackend.send_message = send_message

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        # moto asks for the queue's MessageRetentionPeriod through get_queue_attributes, which builds every
        # attribute, counts included, three times: for each message received.
        retention = self.get_queue(queue_name).message_retention_period
        return retention + message.sent_timestamp / 1000 > sqs_models.unix_time()

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period
    Queue._qunyun_lean = True


def lean_requests() -> None:
    """Work moto repeats on every request that gives the same answer each time, done once: which backend a
    host names (moto walks its module list and every service's URL patterns twice a request), the attribute
    names of a queue (a send builds every attribute of its queue, converting each name from CamelCase by regular
    expressions), the actions a response class has (listed with `inspect.getmembers` on every request, a tenth of
    a send's time), and a receipt handle's 185 random letters and a request id's 52 drawn in one call each instead
    of one a letter. A profile of
    500 sends, receives and deletes of 10 messages spent half of moto's time there. What each call answers is
    unchanged (tests/unit/test_sqs_lean.py)."""
    import moto.core.responses as responses
    import moto.sqs.models as sqs_models
    import moto.sqs.utils as sqs_utils
    from moto.moto_api._internal.moto_random import MotoRandom
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication, "_qunyun_lean", False):
        return
    sqs_models.camelcase_to_underscores = functools.lru_cache(maxsize=None)(sqs_models.camelcase_to_underscores)
    # A class's functions do not change while the server runs; callers only test membership.
    responses.method_names_from_class = functools.lru_cache(maxsize=None)(responses.method_names_from_class)
    letters = string.ascii_lowercase

    def generate_receipt_handle() -> str:
        return "".join(sqs_utils.random.choices(letters, k=185))

    sqs_models.generate_receipt_handle = generate_receipt_handle

    def get_random_string(self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False) -> str:
        text = "".join(self.choices(string.ascii_letters + (string.digits if include_digits else ""), k=length))
        return text.lower() if lower_case else text

    MotoRandom.get_random_string = get_random_string
    find = DomainDispatcherApplication.get_backend_for_host

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        # Called under the application's lock; the backend index does not change while the server runs.
        known = self.__dict__.setdefault("_qunyun_backends", {})
        if host not in known:
            known[host] = find(self, host)
        return known[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host
    DomainDispatcherApplication._qunyun_lean = True


class KeepAliveHandler(MotoRequestHandler):
    """HTTP/1.1 connections kept open between calls, as SQS's endpoint keeps them. werkzeug's server closes every
    connection after one answer (it cannot tell where a body the application left unread ends), so each call of a
    client paid a new TCP connection and a new server thread, and the server then waited 10 ms for stray bytes.
    Here the body is read whole, by its Content-Length, before moto sees it, and the answer carries its length;
    a chunked body or an application error closes the connection as before."""

    protocol_version = "HTTP/1.1"

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length", "0").strip()
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or not length.isdigit():
            self.close_connection = True
            return super().run_wsgi()
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(self.rfile.read(int(length)))
        answer: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            answer[:] = [status, headers]
            return lambda data: None  # the legacy write(): moto's Flask app never calls it

        try:
            chunks = self.server.app(environ, start_response)
            try:
                body = b"".join(chunks)
            finally:
                getattr(chunks, "close", lambda: None)()
        except Exception:
            logging.getLogger("werkzeug").exception("sqs: error on %s %s", self.command, self.path)
            answer, body, self.close_connection = ["500 INTERNAL SERVER ERROR", []], b"", True
        code, _, reason = answer[0].partition(" ")
        self.send_response(int(code), reason)
        for name, value in answer[1]:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        # The head and the body in one write: a second small write waits for the client's delayed ACK (40 ms).
        self._headers_buffer.append(b"\r\n" + (body if self.command != "HEAD" else b""))
        self.flush_headers()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if logging.getLogger("werkzeug").isEnabledFor(logging.INFO):  # main() sets it to WARNING
            super().log_request(code, size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent", type=int, help="exit at once if this process is already gone")
    args = parser.parse_args(argv)
    die_with_parent()  # this server dies with the stack that started it
    if args.parent and os.getppid() != args.parent:
        return  # the stack died before the death signal was armed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group; the stack stops this one
    import moto.moto_server.werkzeug_app as moto_app
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    serialise_queues()
    fast_clock()
    lean_queues()
    lean_requests()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    # SQS sends no CORS headers to an SDK (MOTO_DISABLE_GLOBAL_CORS, read before this module could set it).
    moto_app.DISABLE_GLOBAL_CORS = True
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=KeepAliveHandler)
    print(f"sqs: moto server on http://127.0.0.1:{args.port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

