"""`make demo`: the local stack end to end, as an operator would use it.

Starts `qunyun local up`, creates a tenant, imports the sample groups (and shows a bad file being
refused), lists them, calls the signed webhook API as a mall would, then stops the stack and checks
that nothing is left running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from qunyun_ops.local.dynamodb import free_port
from qunyun_ops.paths import ROOT, STATE

DEMO = ROOT / "infra" / "demo"
QUNYUN = [sys.executable, "-m", "qunyun_ops.cli"]
TENANT = "demo-tea"


def step(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def qunyun(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    print("$ qunyun " + " ".join(args), flush=True)
    result = subprocess.run([*QUNYUN, *args], text=True, capture_output=True, cwd=ROOT)
    print(result.stdout + result.stderr, end="", flush=True)
    if check and result.returncode != 0:
        raise SystemExit(f"demo: `qunyun {' '.join(args)}` failed with exit code {result.returncode}")
    return result


def wait_ready(proc: subprocess.Popen, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (STATE / "demo-stack.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"demo: `qunyun local up` exited early with code {proc.returncode}:\n{log}")
        try:
            state = json.loads((STATE / "local.json").read_text())
            if state.get("pid") == proc.pid:
                return state
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.2)
    raise SystemExit("demo: the local stack did not become ready in time")


def signed_get(port: int, path: str, tenant: str, secret: str, timestamp: int | None = None) -> tuple[int, dict]:
    from qunyun.domain import signing

    ts = int(time.time()) if timestamp is None else timestamp
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     headers=signing.headers(tenant, secret, ts, "GET", path))
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def main() -> int:
    port, ddb_port = free_port(), free_port()
    step(f"Start the local stack (webhooks on :{port}, DynamoDB Local on :{ddb_port})")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    STATE.mkdir(parents=True, exist_ok=True)
    log_path = STATE / "demo-stack.log"
    print(f"(the stack's own log, with every function's Powertools log lines, goes to {log_path})")
    log = log_path.open("w")
    proc = subprocess.Popen([*QUNYUN, "local", "up", "--port", str(port), "--ddb-port", str(ddb_port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        state = wait_ready(proc)
        java_pid = _java_pid(ddb_port)

        step("Create the demo tenant")
        created = json.loads(qunyun("tenants", "create", TENANT, "--name", "一茶一会 Tea Club", "--local",
                                    "--json").stdout)
        secret = created["webhook_secret"]

        step("Import a CSV with bad rows: nothing is imported, every bad row is named")
        bad = qunyun("groups", "import", str(DEMO / "groups_bad.csv"), "--tenant", TENANT, "--local", check=False)
        assert bad.returncode == 2, "a bad file must be refused"

        step("Import the sample groups")
        qunyun("groups", "import", str(DEMO / "groups.csv"), "--tenant", TENANT, "--local")
        qunyun("groups", "list", "--tenant", TENANT, "--local")
        qunyun("groups", "show", "tea-learning", "--tenant", TENANT, "--local")

        step("Call the signed webhook API as a mall would: GET /v1/tenant")
        for label, args in [
            ("signed with the tenant's secret", (TENANT, secret)),
            ("signed with a wrong secret", (TENANT, "not-the-secret")),
            ("signed ten minutes ago", (TENANT, secret, int(time.time()) - 600)),
        ]:
            status, body = signed_get(state["port"], "/v1/tenant", *args)
            print(f"{label}: HTTP {status} {json.dumps(body, ensure_ascii=False)}")
    finally:
        step("Stop the local stack")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
        print((STATE / "demo-stack.log").read_text(errors="replace").strip().splitlines()[-1])
    left = [pid for pid in (locals().get("java_pid"),) if pid and _alive(pid)]
    if left:
        raise SystemExit(f"demo: DynamoDB Local (pid {left[0]}) is still running after shutdown")
    print(f"Stopped (exit code {proc.returncode}); DynamoDB Local is gone. Demo complete.")
    return 0


def _java_pid(ddb_port: int) -> int | None:
    for proc_dir in Path("/proc").iterdir():
        if proc_dir.name.isdigit():
            try:
                cmd = (proc_dir / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"DynamoDBLocal.jar" in cmd and str(ddb_port).encode() in cmd:
                return int(proc_dir.name)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
