"""The one place httpx is used: a client with explicit timeouts, and the failures every platform shares.

Only the channels package imports this module, so handlers that never send pay nothing for httpx.
"""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from qunyun.channels.result import Failure, permanent, transient

USER_AGENT = "qunyun"


def make_client(timeout: float) -> httpx.Client:
    """Connect fast or give up: a platform that does not answer in time is a transient failure, retried later."""
    return httpx.Client(timeout=httpx.Timeout(timeout, connect=min(3.0, timeout)), follow_redirects=False,
                        headers={"user-agent": USER_AGENT})


def retry_after(headers: httpx.Headers) -> float | None:
    """Retry-After in seconds, given as seconds or as an HTTP date (RFC 9110 §10.2.3)."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def post(client: httpx.Client, url: str, *, payload: Any = None, content: bytes | None = None,
         params: dict | None = None, headers: dict | None = None) -> httpx.Response | Failure:
    """POSTs JSON; a timeout or a connection failure comes back classified instead of raised."""
    if content is None:
        content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    try:
        return client.post(url, content=content, params=params,
                           headers={"content-type": "application/json; charset=utf-8", **(headers or {})})
    except httpx.TimeoutException as e:
        return transient("timeout", f"the platform did not answer in time ({type(e).__name__})")
    except httpx.TransportError as e:
        # The message of a transport error can hold the URL, and the URL can hold the key: name the type only.
        return transient("connection_error", f"could not reach the platform ({type(e).__name__})")


def get(client: httpx.Client, url: str, params: dict) -> httpx.Response | Failure:
    try:
        return client.get(url, params=params)
    except httpx.TimeoutException as e:
        return transient("timeout", f"the platform did not answer in time ({type(e).__name__})")
    except httpx.TransportError as e:
        return transient("connection_error", f"could not reach the platform ({type(e).__name__})")


def json_body(resp: httpx.Response) -> dict | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def server_failure(resp: httpx.Response) -> Failure | None:
    """5xx and 429 mean the same on every platform: try again, after Retry-After when it is given."""
    if resp.status_code >= 500:
        return transient(f"http_{resp.status_code}", f"the platform answered HTTP {resp.status_code}",
                         retry_after(resp.headers))
    if resp.status_code == 429:
        return transient("http_429", "the platform is rate limiting this channel", retry_after(resp.headers) or 1.0)
    return None


def unexpected(resp: httpx.Response, platform: str) -> Failure:
    """An answer without the platform's JSON: 5xx and 429 are retried; another 4xx will not get better."""
    failure = server_failure(resp)
    if failure:
        return failure
    if 400 <= resp.status_code < 500:
        return permanent(f"http_{resp.status_code}", f"{platform} answered HTTP {resp.status_code}")
    return transient(f"http_{resp.status_code}", f"{platform} answered something that is not its JSON")
