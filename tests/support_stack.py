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
from pathlib import Path

import httpx
from qunyun_ops.local.dynamodb import free_port

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
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qunyun_ops.cli", "local", "up", "--port", str(self.port),
             "--ddb-port", str(self.ddb_port), *extra],
            env=self.env, cwd=ROOT, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read()
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
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"DynamoDBLocal.jar" in cmd and str(port).encode() in cmd:
                found.append(int(d.name))
    return found


def sqs_servers(parent_pid: int) -> list[int]:
    """The local SQS endpoints (moto) a stack with this pid started."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"qunyun_ops.local.sqs_server" in cmd and str(parent_pid).encode() in cmd:
                found.append(int(d.name))
    return found


def post_json(stack: Stack, path: str, tenant: str, secret: str, body) -> httpx.Response:
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    headers = {"X-Qunyun-Tenant": tenant, "X-Qunyun-Timestamp": stamp, "content-type": "application/json",
               "X-Qunyun-Signature": sign(secret, stamp, "POST", path, raw)}
    return httpx.post(f"http://127.0.0.1:{stack.port}{path}", content=raw, headers=headers, timeout=30)
