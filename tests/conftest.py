"""Shared fixtures: one DynamoDB Local for the whole run, tables created from template.yaml.

The environment is set here, before any test imports `qunyun`, exactly as Lambda sets a function's
environment before importing its handler.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from qunyun_ops.env import local_environment
from qunyun_ops.local.dynamodb import DynamoDBLocal, free_port
from support import STACK

ROOT = Path(__file__).resolve().parents[1]

_DDB_PORT = free_port()
_SECRETS = Path(tempfile.mkdtemp(prefix="qunyun-test-")) / "secrets.json"
os.environ.update(local_environment(f"http://127.0.0.1:{_DDB_PORT}", STACK, _SECRETS))
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


@pytest.fixture(scope="session")
def ddb():
    """DynamoDB Local with every table of template.yaml; yields a boto3 client."""
    from qunyun_ops.local.stack import ddb_client
    from qunyun_ops.local.tables import create_tables
    from qunyun_ops.local.template import Template

    with DynamoDBLocal(_DDB_PORT) as server:
        client = ddb_client(server.endpoint)
        create_tables(client, Template.read(ROOT / "template.yaml"), STACK)
        yield client


@dataclass
class TenantFixture:
    tenant_id: str
    secret: str
    timezone: str


@pytest.fixture
def make_tenant(ddb):
    from qunyun.adapters.secrets import secret_store
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.services.tenants import create_tenant

    def make(timezone: str | None = None, name: str = "Test Tea Shop") -> TenantFixture:
        tid = "t-" + uuid.uuid4().hex[:12]
        tenant, secret = create_tenant(tid, name, timezone, tenants=TenantRepository(), secrets=secret_store())
        return TenantFixture(tenant.tenant_id, secret, tenant.timezone)

    return make


@pytest.fixture
def tenant(make_tenant) -> TenantFixture:
    return make_tenant()


@pytest.fixture
def context():
    from support import FakeContext

    return FakeContext()
