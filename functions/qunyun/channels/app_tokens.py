"""App access tokens (Feishu's tenant_access_token, DingTalk's access_token), cached per app in the execution
environment until a few minutes before they expire, and dropped when the platform says one is no longer valid."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MARGIN_SECONDS = 300  # refresh this long before the platform's expiry: a call in flight must not outlive it


class TokenCache:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self.monotonic = monotonic
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, app: str, fetch: Callable[[], tuple[str, float] | str]) -> str:
        """The cached token of `app`, or one fetched: `fetch` answers (token, seconds valid) or a refusal text,
        raised as TokenRefused."""
        with self._lock:
            hit = self._tokens.get(app)
        if hit is not None and self.monotonic() < hit[1]:
            return hit[0]
        fetched = fetch()
        if isinstance(fetched, str):
            raise TokenRefused(fetched)
        token, seconds = fetched
        with self._lock:
            self._tokens[app] = (token, self.monotonic() + max(0.0, seconds - MARGIN_SECONDS))
        return token

    def drop(self, app: str) -> None:
        with self._lock:
            self._tokens.pop(app, None)


class TokenRefused(Exception):
    """The platform would not give the app a token (wrong credentials, app disabled): its words."""
