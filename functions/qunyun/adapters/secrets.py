"""Channel credentials and tenant secrets live outside the tables; items hold only a reference.

On AWS the store is SSM Parameter Store (SecureString), read through Powertools parameters with a cache.
On the local stack it is a gitignored JSON file. A reference looks like `ssm:/qunyun/STACK/NAME` or
`local:NAME`, so an item says where its secret is without saying what it is.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Protocol

from qunyun.settings import Settings, get_settings


class SecretStore(Protocol):
    def put_many(self, values: dict[str, str]) -> dict[str, str]:
        """Stores name → value pairs and returns name → reference."""

    def get(self, ref: str) -> str | None: ...


def webhook_secret_name(tenant_id: str) -> str:
    """Where a tenant's webhook secret (HMAC of its webhooks) lives in the secret store."""
    return f"{tenant_id}/webhook_secret"


def group_secret_name(tenant_id: str, group_id: str, name: str) -> str:
    """Where a group's channel credential lives in the secret store: its `webhook_url` or its `secret`."""
    return f"{tenant_id}/groups/{group_id}/{name}"


def wecom_corp_name(tenant_id: str, name: str) -> str:
    """Where a tenant's WeCom corp credentials live in the secret store: `{tenant}/wecom/corp_id` and
    `{tenant}/wecom/corp_secret` (the 客户联系 secret), stored by `qunyun tenants wecom`."""
    return f"{tenant_id}/wecom/{name}"


def corp_ref(store: SecretStore, tenant_id: str, name: str) -> str:
    """The reference of one of them, under the store's own prefix."""
    return f"{store.PREFIX}{getattr(store, 'root', '')}{wecom_corp_name(tenant_id, name)}"


class LocalSecretStore:
    """A JSON file, rewritten atomically under a file lock; safe across the CLI and the local stack."""

    PREFIX = "local:"

    def __init__(self, path: Path):
        self.path = path
        self._cache: tuple[float, dict[str, str]] | None = None
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return {}
        with self._lock:
            if self._cache is None or self._cache[0] != mtime:
                self._cache = (mtime, json.loads(self.path.read_text(encoding="utf-8") or "{}"))
            return self._cache[1]

    def put_many(self, values: dict[str, str]) -> dict[str, str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = json.loads(self.path.read_text(encoding="utf-8") or "{}") if self.path.exists() else {}
            current.update(values)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(current, f, ensure_ascii=False)
            os.replace(tmp, self.path)
        return {name: self.PREFIX + name for name in values}

    def get(self, ref: str) -> str | None:
        if not ref.startswith(self.PREFIX):
            return None
        return self._read().get(ref.removeprefix(self.PREFIX))


class SsmSecretStore:
    """SSM Parameter Store SecureStrings under /qunyun/{stack}/; reads cached for 5 minutes by Powertools."""

    PREFIX = "ssm:"

    def __init__(self, settings: Settings, client=None):
        self.root = f"/qunyun/{settings.stack_name}/"
        self._client = client

    def put_many(self, values: dict[str, str]) -> dict[str, str]:
        import boto3  # only the CLI writes secrets; handlers only read them

        client = self._client or boto3.client("ssm")
        refs = {}
        for name, value in values.items():
            path = self.root + name
            client.put_parameter(Name=path, Value=value, Type="SecureString", Overwrite=True)
            refs[name] = self.PREFIX + path
        return refs

    def get(self, ref: str) -> str | None:
        if not ref.startswith(self.PREFIX):
            return None
        from aws_lambda_powertools.utilities import parameters

        try:
            return parameters.get_parameter(ref.removeprefix(self.PREFIX), decrypt=True, max_age=300)
        except parameters.exceptions.GetParameterError:
            return None


def secret_store(settings: Settings | None = None) -> SecretStore:
    settings = settings or get_settings()
    if settings.secrets_file:
        return LocalSecretStore(Path(settings.secrets_file))
    return SsmSecretStore(settings)
