"""Serves the template's HttpApi routes on 127.0.0.1 the way API Gateway HTTP APIs call Lambda (payload 2.0)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from qunyun_ops.local.template import Route, Template
from qunyun_ops.local.workers import ACCOUNT_ID, FunctionPool, InvocationError

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
API_ID = "qylocal001"
# Measured on AWS: only these reach Lambda as text; everything else (form posts, a missing content-type) is base64.
_TEXT_TYPES = re.compile(r"text/.*|application/(json|xml|javascript)")
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


@dataclass(frozen=True)
class CompiledRoute:
    """A route with its path template compiled; `rank` orders candidates, most specific first."""

    route: Route
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    rank: tuple[int, int, int, int]

    @property
    def route_key(self) -> str:
        return f"{self.route.method} {self.route.path}"


def compile_route(route: Route) -> CompiledRoute:
    """Turns /v1/members/{member_id} and /files/{proxy+} into a regex with named segments."""
    parts, names = [], []
    variables = greedy = literals = 0
    segments = [s for s in route.path.strip("/").split("/") if s]
    for segment in segments:
        m = re.fullmatch(r"\{([^{}+]+)(\+?)\}", segment)
        if not m:
            parts.append(re.escape(segment))
            literals += 1
            continue
        names.append(m.group(1))
        group = f"g{len(names) - 1}"
        if m.group(2):
            # As on an HTTP API, /console/ reaches /console/{proxy+} (an empty remainder); /console does not.
            parts.append(f"(?P<{group}>.*)")
            greedy = 1
        else:
            parts.append(f"(?P<{group}>[^/]+)")
            variables += 1
    pattern = re.compile("/" + "/".join(parts))
    # Exact paths beat path variables, which beat greedy ones; a method beats ANY.
    rank = (greedy, variables, -literals, int(route.method == "ANY"))
    return CompiledRoute(route, pattern, tuple(names), rank)


def match(routes: list[CompiledRoute], method: str, path: str) -> tuple[CompiledRoute, dict[str, str]] | None:
    """The most specific route for a method and (decoded) path, with its path parameters."""
    found = []
    for compiled in routes:
        if compiled.route.method not in (method, "ANY"):
            continue
        m = compiled.pattern.fullmatch(path)
        if m:
            params = {name: m.group(f"g{i}") for i, name in enumerate(compiled.names)}
            found.append((compiled.rank, compiled, params))
    if not found:
        return None
    _, compiled, params = min(found, key=lambda f: f[0])
    return compiled, params


def is_text(content_type: str | None) -> bool:
    """Whether API Gateway passes a body of this content-type to Lambda as text."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return bool(_TEXT_TYPES.fullmatch(media))


def clf_time(epoch: float) -> str:
    """12/Mar/2020:19:03:58 +0000, without depending on the locale."""
    t = time.gmtime(epoch)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def _domain(host: str) -> str:
    if host.startswith("["):  # [::1]:3000
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0]


def request_id() -> str:
    """An id shaped like API Gateway's (JKJaXmPLvHcESHA=)."""
    return base64.b64encode(secrets.token_bytes(10)).decode()


@dataclass
class Request:
    """What arrived on the wire, before it becomes an event."""

    method: str
    target: str  # the request-target as sent: path and query, still encoded
    protocol: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    server_port: int


def build_event(req: Request, compiled: CompiledRoute, params: dict[str, str], raw_path: str, rid: str) -> dict:
    """The payload format 2.0 event API Gateway delivers for this request."""
    _, _, raw_query = req.target.partition("?")
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in req.headers:
        name = name.lower()
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {req.source_ip}" if forwarded else req.source_ip
    headers.setdefault("x-forwarded-port", str(req.server_port))
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}")
    now = time.time()
    domain = _domain(headers.get("host", "localhost"))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": compiled.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": req.method,
            "path": raw_path,
            "protocol": req.protocol,
            "sourceIp": req.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": rid,
        "routeKey": compiled.route_key,
        "stage": "$default",
        "time": clf_time(now),
        "timeEpoch": int(now * 1000),
    }
    if params:
        event["pathParameters"] = params
    if req.body:
        try:
            text = req.body.decode("utf-8") if is_text(headers.get("content-type")) else None
        except UnicodeDecodeError:
            text = None
        event["body"] = text if text is not None else base64.b64encode(req.body).decode()
        event["isBase64Encoded"] = text is None
    else:
        event["isBase64Encoded"] = False
    return event


class MalformedResponse(ValueError):
    """A handler result API Gateway would refuse (it answers 500)."""


def to_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Maps a handler result to status, headers and body as API Gateway does for payload 2.0."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # The 2.0 rule: valid JSON without a statusCode is a 200 whose body is that JSON.
        return 200, [("content-type", "application/json")], json.dumps(result).encode()
    status = result["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status!r} is not an HTTP status")
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(key), str(v)) for v in values)
    headers.extend(("set-cookie", str(c)) for c in result.get("cookies") or [])
    body = result.get("body")
    if body is None:
        return status, headers, b""
    if not isinstance(body, str):
        raise MalformedResponse(f"body must be a string, got {type(body).__name__}")
    return status, headers, base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()


def _message(status: int, text: str) -> tuple[int, list[tuple[str, str]], bytes]:
    # Byte for byte what API Gateway sends: {"message":"Not Found"}
    return status, [("content-type", "application/json")], json.dumps({"message": text}, separators=(",", ":")).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a burst of concurrent clients must not overflow the listen backlog


class Gateway:
    """An HTTP API on host:port in front of a FunctionPool."""

    def __init__(
        self,
        template: Template,
        pool: FunctionPool,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        access_log: bool = True,
    ):
        self.pool = pool
        self.host = host
        self.port = port
        self.access_log = access_log
        self.routes = [compile_route(r) for r in template.routes]
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Starts serving in a background thread; returns the bound port."""
        gateway = self

        class Handler(_Handler):
            pass

        Handler.gateway = gateway
        self._server = _Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="gateway", daemon=True
        )
        self._thread.start()
        return self.port

    def stop(self) -> None:
        """Stops accepting requests and closes the socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(5)
        self._server = None

    def handle(self, req: Request) -> tuple[int, list[tuple[str, str]], bytes, str]:
        """Routes one request: (status, headers, body, request id)."""
        rid = request_id()
        path = urlsplit(req.target).path if req.target.startswith(("http://", "https://")) else req.target
        # HTTP APIs hand Lambda the path percent-decoded (rawPath); the query string stays as sent.
        raw_path = unquote(path.partition("?")[0])
        found = match(self.routes, req.method, raw_path)
        if found is None:
            return (*_message(404, "Not Found"), rid)
        compiled, params = found
        event = build_event(req, compiled, params, raw_path, rid)
        try:
            result = self.pool.invoke(compiled.route.function, event)
            return (*to_response(result), rid)
        except (InvocationError, MalformedResponse) as exc:
            print(f"gateway: {compiled.route_key} -> {compiled.route.function}: {exc}", file=sys.stderr)
            return (*_message(500, "Internal Server Error"), rid)


class _Handler(BaseHTTPRequestHandler):
    gateway: Gateway
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        started = time.monotonic()
        status, headers, body, rid = self._route()
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("apigw-requestid", rid)
        self.send_header("content-length", str(len(body)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        if self.gateway.access_log:
            ms = (time.monotonic() - started) * 1000
            print(f"gateway: {self.command} {self.path} {status} {ms:.0f}ms", file=sys.stderr)

    def _route(self) -> tuple[int, list[tuple[str, str]], bytes, str]:
        body = self._read_body()
        if isinstance(body, int):
            self.close_connection = True  # the unread body is still on the socket
            text = "Request Entity Too Large" if body == 413 else "Bad Request"
            return (*_message(body, text), request_id())
        req = Request(
            method=self.command,
            target=self.path,
            protocol=self.request_version,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            server_port=self.server.server_address[1],
        )
        return self.gateway.handle(req)

    def _read_body(self) -> bytes | int:
        """The body, or 413/400 when it is too large or its framing is wrong."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        raw = self.headers.get("content-length")
        if raw is None:
            return b""
        if not raw.strip().isdigit():
            return 400
        length = int(raw)
        if length > MAX_BODY:
            return 413
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | int:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                return 400
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                return 413
            chunks.append(self.rfile.read(size))
            self.rfile.readline(3)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request comes from _serve instead

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve
