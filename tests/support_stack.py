"""A real `qunyun local up` in a subprocess, with its own state folder and free ports, for end-to-end tests.

Requests are signed here independently with hmac/hashlib rather than with qunyun's own signing code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
from qunyun_ops.local.dynamodb import free_port
from qunyun_ops.local.server import die_with_parent, processes_with

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "infra" / "demo"


def sign(secret: str, ts: str, method: str, path: str, body: bytes = b"") -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{ts}.{method}.{path}.".encode() + body, hashlib.sha256).hexdigest()


class Stack:
    def __init__(self, state: Path):
        self.state = state
        self.port, self.ddb_port = free_port(), free_port()
        self.env = {**os.environ, "QUNYUN_STATE_DIR": str(state), "PYTHONUNBUFFERED": "1"}
        for key in ("DYNAMODB_ENDPOINT", "STACK_NAME", "QUNYUN_SECRETS_FILE"):
            self.env.pop(key, None)  # the CLI must find everything through --local
        self.proc: subprocess.Popen | None = None

    def up(self, *extra: str) -> Stack:
        # the stack (and so its servers) stops if this test process dies, even by SIGKILL
        # Its log goes to a file: a pipe nobody reads fills at 64 KB, and the stack then blocks on its next line.
        self.state.mkdir(parents=True, exist_ok=True)
        self.log = self.state / "stack.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "qunyun_ops.cli", "local", "up", "--port", str(self.port),
                 "--ddb-port", str(self.ddb_port), *extra],
                env=self.env, cwd=ROOT, stderr=log, text=True, preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            if (self.state / "local.json").exists():
                return self
            time.sleep(0.1)
        raise AssertionError("local stack did not start")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "qunyun_ops.cli", *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)

    def get(self, path: str, tenant: str, secret: str, ts: int | None = None) -> httpx.Response:
        stamp = str(int(time.time()) if ts is None else ts)
        headers = {"X-Qunyun-Tenant": tenant, "X-Qunyun-Timestamp": stamp,
                   "X-Qunyun-Signature": sign(secret, stamp, "GET", path)}
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", headers=headers, timeout=30)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def java_processes(port: int) -> list[int]:
    return processes_with("DynamoDBLocal.jar", str(port))


def sqs_servers(parent_pid: int) -> list[int]:
    """The local SQS endpoints (moto) a stack with this pid started."""
    return processes_with("qunyun_ops.local.sqs_server", str(parent_pid))


HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr
    return result


@contextmanager
def stack_with_robot(state: Path, *keys: str):
    """`qunyun local up --no-schedule` whose WeCom robot channel goes to an independent fake with these keys;
    yields (stack, robot)."""
    from fakes.wecom_robot import FakeWecomRobot

    with FakeWecomRobot() as robot:
        for key in keys:
            robot.add_robot(key)
        stack = Stack(state)
        stack.env["QUNYUN_WECOM_BASE_URL"] = robot.base_url
        stack.up("--no-schedule")
        try:
            yield stack, robot
        finally:
            if stack.proc.poll() is None:
                stack.stop()


def post_json(stack: Stack, path: str, tenant: str, secret: str, body) -> httpx.Response:
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    headers = {"X-Qunyun-Tenant": tenant, "X-Qunyun-Timestamp": stamp, "content-type": "application/json",
               "X-Qunyun-Signature": sign(secret, stamp, "POST", path, raw)}
    return httpx.post(f"http://127.0.0.1:{stack.port}{path}", content=raw, headers=headers, timeout=30)
