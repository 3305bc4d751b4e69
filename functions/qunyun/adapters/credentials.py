"""A connection's secrets for verifying callbacks, cached per execution environment for a few seconds; a
connection found missing is cached as long, so an unknown tenant costs a known one's time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from qunyun.adapters.connections import ConnectionStore
from qunyun.adapters.secrets import SecretStore


class CachedCredentials:
    CACHED = 4096  # an environment serving more connections than this starts its cache afresh

    def __init__(self, connections: ConnectionStore, secrets: SecretStore, seconds: float,
                 monotonic: Callable[[], float] = time.monotonic):
        self.connections, self.secrets, self.seconds, self.monotonic = connections, secrets, seconds, monotonic
        self._cache: dict[tuple[str, str], tuple[float, dict[str, str] | None]] = {}
        self._lock = threading.Lock()

    def _read(self, tenant_id: str, platform: str) -> dict[str, str] | None:
        connection = self.connections.get(tenant_id, platform)
        if connection is None:
            return None
        values = {name: self.secrets.get(ref) for name, ref in connection.secret_refs.items()}
        return {name: value for name, value in values.items() if value is not None}

    def get(self, tenant_id: str, platform: str) -> dict[str, str] | None:
        key, now = (tenant_id, platform), self.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.seconds:
            return hit[1]
        found = self._read(tenant_id, platform)
        with self._lock:
            if len(self._cache) >= self.CACHED:
                self._cache.clear()
            self._cache[key] = (now, found)
        return found
