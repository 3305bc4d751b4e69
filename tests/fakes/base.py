"""What every fake platform shares: the HTTP server, a clock tests move, rate windows, forced failures."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeClock:
    """Time as the fake platform sees it; starts at the real time and moves only when a test says so."""

    def __init__(self, start: float | None = None):
        self.now = time.time() if start is None else start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class RateWindow:
    """At most `limit` hits per `window` seconds per key, as a sliding window."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self.hits: dict[Any, deque[float]] = defaultdict(deque)

    def take(self, key: Any, now: float) -> float | None:
        """Counts a hit and returns None, or returns the seconds until one is allowed again."""
        hits = self.hits[key]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        hits.append(now)
        return None


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, str]  # decoded exactly as a server decodes it: '+' is a space, %2B a plus
    headers: dict[str, str]  # lower-case names
    body: bytes
    raw_path: str  # path and query exactly as sent

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=dict)  # dict/list → JSON, str → text, bytes as they are
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body, ensure_ascii=False).encode(), "application/json; charset=utf-8"


class FakeServer:
    """A platform on 127.0.0.1: subclasses implement `handle`; this class serves, logs and injects faults."""

    def __init__(self, clock: FakeClock | None = None):
        self.clock = clock or FakeClock()
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self._forced: list[tuple[float, Answer]] = []
        self._stall: tuple[float, int] = (0.0, 0)
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # --- what tests call -------------------------------------------------------------------------------------

    def force(self, answer: Answer, seconds: float) -> None:
        """Answer every request with `answer` for the next `seconds` of the fake's clock."""
        with self.lock:
            self._forced.append((self.clock() + seconds, answer))

    def fail_http(self, status: int = 503, seconds: float = 60.0, headers: dict | None = None) -> None:
        self.force(Answer(status, "upstream unavailable", headers or {}), seconds)

    def stall(self, seconds: float, requests: int = 1) -> None:
        """Hold the next `requests` requests for `seconds` of real time before answering: client timeouts."""
        self._stall = (seconds, requests)

    @property
    def base_url(self) -> str:
        assert self._server, "start the fake first (use it as a context manager)"
        return f"http://127.0.0.1:{self._server.server_port}"

    def handle(self, request: Request) -> Answer:
        raise NotImplementedError

    # --- serving -----------------------------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Answer:
        seconds, count = self._stall
        if count:
            self._stall = (seconds, count - 1)
            self._release.wait(seconds)
        with self.lock:
            self.requests.append(request)
            now = self.clock()
            self._forced = [(until, a) for until, a in self._forced if now < until]
            if self._forced:
                return self._forced[-1][1]
            return self.handle(request)

    def __enter__(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; without this, delayed ACKs cost 40 ms a request.
            disable_nagle_algorithm = True

            def _serve(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer = fake._dispatch(Request(self.command, parts.path, query, headers, body, self.path))
                payload, content_type = answer.encode()
                self.send_response(answer.status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _serve  # noqa: N815 - http.server's naming

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._release.set()  # let stalled handlers finish
        if self._server:
            self._server.shutdown()
            self._server.server_close()


def json_or_none(request: Request) -> Any:
    try:
        return request.json()
    except ValueError:
        return None
