"""`qunyun local up` as an operator and a mall see it: a real process, real HTTP, the real CLI.

The stack runs in a subprocess on free ports with its own state folder; requests are signed
independently here with hmac/hashlib rather than with qunyun's own signing code.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from support_stack import DEMO, Stack, java_processes, sign, sqs_servers


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("state")).up("--no-schedule")
    yield s
    if s.proc.poll() is None:
        s.stop()


@pytest.fixture(scope="module")
def tenants(stack):
    made = {}
    for tid, tz in (("shop-a", "Asia/Shanghai"), ("shop-b", "Europe/Berlin")):
        result = stack.cli("tenants", "create", tid, "--name", f"Shop {tid}", "--timezone", tz, "--local", "--json")
        assert result.returncode == 0, result.stderr
        made[tid] = json.loads(result.stdout)["webhook_secret"]
    return made


def test_signed_get_tenant_over_http(stack, tenants):
    resp = stack.get("/v1/tenant", "shop-a", tenants["shop-a"])
    assert resp.status_code == 200
    assert resp.json() == {"tenant_id": "shop-a", "name": "Shop shop-a", "timezone": "Asia/Shanghai"}


def test_wrong_other_tenant_and_stale_signatures(stack, tenants):
    wrong = stack.get("/v1/tenant", "shop-a", "not-the-secret")
    other = stack.get("/v1/tenant", "shop-a", tenants["shop-b"])
    stale = stack.get("/v1/tenant", "shop-a", tenants["shop-a"], ts=int(time.time()) - 301)
    unknown = stack.get("/v1/tenant", "no-such-shop", tenants["shop-a"])
    assert [(r.status_code, r.json()["error"]["code"]) for r in (wrong, other, stale, unknown)] == [
        (401, "signature_invalid"), (401, "signature_invalid"), (401, "timestamp_out_of_window"),
        (401, "signature_invalid")]


def test_unsigned_and_oversized_requests(stack, tenants):
    r = httpx.get(f"http://127.0.0.1:{stack.port}/v1/tenant", timeout=30)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "signature_missing")
    body = b"{" + b" " * 70_000 + b"}"
    ts = str(int(time.time()))
    r = httpx.request("GET", f"http://127.0.0.1:{stack.port}/v1/tenant", content=body, timeout=30, headers={
        "X-Qunyun-Tenant": "shop-a", "X-Qunyun-Timestamp": ts,
        "X-Qunyun-Signature": sign(tenants["shop-a"], ts, "GET", "/v1/tenant", body)})
    assert (r.status_code, r.json()["error"]["code"]) == (413, "payload_too_large")
    r = httpx.get(f"http://127.0.0.1:{stack.port}/v1/not-a-route", timeout=30)
    assert r.status_code == 404


def test_csv_with_one_bad_row_imports_nothing_and_names_the_row(stack, tenants):
    bad = stack.cli("groups", "import", str(DEMO / "groups_bad.csv"), "--tenant", "shop-a", "--local")
    assert bad.returncode == 2
    assert "line 3" in bad.stderr and "ends_at" in bad.stderr
    assert "line 4" in bad.stderr and "evening" in bad.stderr
    listed = stack.cli("groups", "list", "--tenant", "shop-a", "--local", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_import_list_show_and_isolation(stack, tenants):
    ok = stack.cli("groups", "import", str(DEMO / "groups.csv"), "--tenant", "shop-a", "--local")
    assert ok.returncode == 0, ok.stderr
    assert "Imported 6 groups" in ok.stdout
    groups = json.loads(stack.cli("groups", "list", "--tenant", "shop-a", "--local", "--json").stdout)
    assert len(groups) == 6
    table = stack.cli("groups", "list", "--tenant", "shop-a", "--local").stdout
    assert "tea-learning" in table and "6 groups of shop-a" in table
    shown = json.loads(stack.cli("groups", "show", "tea-learning", "--tenant", "shop-a", "--local", "--json").stdout)
    assert shown["webhook_host"] == "qyapi.weixin.qq.com" and "demo-robot-key" not in json.dumps(shown)
    assert json.loads(stack.cli("groups", "list", "--tenant", "shop-b", "--local", "--json").stdout) == []
    missing = stack.cli("groups", "show", "tea-learning", "--tenant", "shop-b", "--local")
    assert missing.returncode == 2 and "no group" in missing.stderr


def test_cli_errors_are_sentences(stack, tenants):
    dup = stack.cli("tenants", "create", "shop-a", "--name", "again", "--local")
    assert dup.returncode == 2 and "already exists" in dup.stderr
    badtz = stack.cli("tenants", "create", "shop-z", "--name", "z", "--timezone", "Mars/Base", "--local")
    assert badtz.returncode == 2 and "IANA" in badtz.stderr
    nofile = stack.cli("groups", "import", "/nonexistent.csv", "--tenant", "shop-a", "--local")
    assert nofile.returncode == 2 and "no such file" in nofile.stderr


def test_commands_without_a_running_stack_say_so(tmp_path):
    idle = Stack(tmp_path)
    result = idle.cli("groups", "list", "--tenant", "x", "--local")
    assert result.returncode == 1 and "qunyun local up" in result.stderr


def test_sigterm_stops_everything_and_leaves_no_java(tmp_path):
    # GIVEN a running stack with its scheduler on
    s = Stack(tmp_path).up()
    assert java_processes(s.ddb_port) and sqs_servers(s.proc.pid)
    # WHEN it gets SIGTERM
    code = s.stop()
    # THEN it exits cleanly, DynamoDB Local and the SQS endpoint are gone and the state file is removed
    assert code == 0
    assert java_processes(s.ddb_port) == [] and sqs_servers(s.proc.pid) == []
    assert not (tmp_path / "local.json").exists()


def test_a_killed_cli_takes_dynamodb_local_with_it(tmp_path):
    s = Stack(tmp_path).up("--no-schedule")
    assert java_processes(s.ddb_port) and sqs_servers(s.proc.pid)
    s.proc.kill()
    s.proc.wait()
    deadline = time.monotonic() + 15
    while (java_processes(s.ddb_port) or sqs_servers(s.proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert java_processes(s.ddb_port) == [] and sqs_servers(s.proc.pid) == []
