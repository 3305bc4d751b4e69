"""`qunyun connect`: a tenant's platform credentials go to the secret store, the connection's public part (their
references, never their values) to the community table, and the callback URL back to the operator."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Protocol

from qunyun.adapters.secrets import SecretStore, corp_ref
from qunyun.domain.connections import SECRETS, Connection, callback_path, secret_name
from qunyun.domain.errors import InvalidRequest, NotFound
from qunyun.inbound.telegram import TOKEN

# Every platform's EncodingAESKey / aes_key is 43 characters of base64 for 32 bytes.
_AES_KEY = re.compile(r"[A-Za-z0-9+/]{43}")
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,256}")

class Tenants(Protocol):
    def get(self, tenant_id: str) -> object | None: ...

class ConnectionRepository(Protocol):
    def get(self, tenant_id: str, platform: str) -> Connection | None: ...
    def list(self, tenant_id: str) -> list[Connection]: ...
    def save(self, connection: Connection) -> None: ...

def _check(platform: str, values: dict[str, str]) -> None:
    for name, value in values.items():
        if name == "aes_key":
            try:
                ok = bool(_AES_KEY.fullmatch(value)) and len(base64.b64decode(value + "=")) == 32
            except (binascii.Error, ValueError):
                ok = False
            if not ok:
                raise InvalidRequest("The EncodingAESKey (aes_key) is the 43 characters the console shows.",
                                     field="aes_key")
        elif name == "secret_token" and not TOKEN.fullmatch(value):
            raise InvalidRequest("A Telegram secret token is 1 to 256 of A-Z, a-z, 0-9, _ and -.", field=name)
        elif not _PRINTABLE.fullmatch(value):
            raise InvalidRequest(f"{name} is 1 to 256 printable characters without spaces.", field=name)

def connect(tenant_id: str, platform: str, values: dict[str, str], *, tenants: Tenants,
            connections: ConnectionRepository, secrets: SecretStore, now: datetime) -> Connection:
    """Checks every value, stores them, and saves the connection; WeCom's corp id defaults to the one
    `qunyun tenants wecom` stored. A connection made again replaces its secrets and keeps its counters."""
    if tenants.get(tenant_id) is None:
        raise NotFound(f"There is no tenant {tenant_id!r}; create it with `qunyun tenants create`.",
                       code="unknown_tenant")
    values = {name: (value or "").strip() for name, value in values.items() if value}
    refs: dict[str, str] = {}
    if platform == "wecom" and "corp_id" not in values:
        ref = corp_ref(secrets, tenant_id, "corp_id")
        if not secrets.get(ref):
            raise InvalidRequest("Give --corp-id, or store the corp id first with `qunyun tenants wecom`.",
                                 field="corp_id")
        refs["corp_id"] = ref
    missing = [name for name in SECRETS[platform] if name not in values and name not in refs]
    if missing:
        raise InvalidRequest(f"{', '.join(missing)} must be given.", field=missing[0])
    _check(platform, values)
    stored = secrets.put_many({secret_name(tenant_id, platform, name): value for name, value in values.items()})
    refs |= {name: stored[secret_name(tenant_id, platform, name)] for name in values}
    connection = Connection(tenant_id=tenant_id, platform=platform, connected_at=now, secret_refs=refs)
    connections.save(connection)
    return connection

def callback_url(base_url: str, platform: str, tenant_id: str) -> str:
    return base_url.rstrip("/") + callback_path(platform, tenant_id)

def show(tenant_id: str, base_url: str, *, connections: ConnectionRepository) -> list[dict]:
    """What `connect show` prints: each connection, its callback URL, last event and refusals by reason."""
    return [{"platform": c.platform, "callback_url": callback_url(base_url, c.platform, tenant_id),
             "connected_at": c.connected_at.isoformat(),
             "last_event_at": c.last_event_at.isoformat() if c.last_event_at else None,
             "refusals": dict(sorted(c.refusals.items())), "secrets": sorted(c.secret_refs)}
            for c in sorted(connections.list(tenant_id), key=lambda c: c.platform)]
