"""The local runner end to end: real worker processes behind a real HTTP gateway, driven over 127.0.0.1."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from qunyun_ops.local.gateway import Gateway
from qunyun_ops.local.scheduler import Scheduler, fire, fire_once
from qunyun_ops.local.template import Template
from qunyun_ops.local.workers import FunctionPool, InvocationError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "local_stack"
STACK = "qy-test"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.read(FIXTURE / "template.yaml")


@pytest.fixture(scope="module")
def pool(template):
    with FunctionPool(template, FIXTURE, STACK, {"BASE": "from-base"}, max_per_function=4) as pool:
        yield pool


@pytest.fixture(scope="module")
def api(template, pool):
    gateway = Gateway(template, pool, access_log=False)
    port = gateway.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
        yield client
    gateway.stop()


def gone(pid: int) -> bool:
    """True once a process no longer runs (a zombie waiting for a reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


# ------------------------------------------------------------------------------------------ the v2 event


def test_a_templated_route_gets_the_v2_event_aws_sends(api):
    # GIVEN a request with a path parameter, a raw query with repeats, repeated headers and cookies
    headers = [("X-Multi", "a"), ("X-Multi", "b"), ("Cookie", "s=1; theme=dark"), ("X-Qunyun-Tenant", "t1")]
    # WHEN it reaches GET /v1/members/{member_id}
    response = api.get("/v1/members/m%201?b=2&a=1&a=3&flag&enc=x%2By", headers=headers)
    # THEN the handler (which returns its event, no statusCode) answers 200 with the event as JSON
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    event = response.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /v1/members/{member_id}"
    # HTTP APIs deliver the path percent-decoded but the query string exactly as sent
    assert event["rawPath"] == "/v1/members/m 1"
    assert event["rawQueryString"] == "b=2&a=1&a=3&flag&enc=x%2By"
    assert event["pathParameters"] == {"member_id": "m 1"}
    assert event["queryStringParameters"] == {"b": "2", "a": "1,3", "flag": "", "enc": "x+y"}
    assert event["cookies"] == ["s=1", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "a,b"
    assert event["headers"]["x-qunyun-tenant"] == "t1"
    assert all(name == name.lower() for name in event["headers"])
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    ctx = event["requestContext"]
    assert ctx["http"] == {
        "method": "GET",
        "path": "/v1/members/m 1",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": response.request.headers["user-agent"],
    }
    assert ctx["routeKey"] == "GET /v1/members/{member_id}"
    assert ctx["stage"] == "$default"
    assert ctx["domainName"] == "127.0.0.1"
    assert abs(ctx["timeEpoch"] / 1000 - time.time()) < 10
    assert ctx["time"].endswith(" +0000")
    assert response.headers["apigw-requestid"] == ctx["requestId"]


def test_an_exact_path_wins_over_a_templated_one(api):
    # GIVEN GET /v1/members/me and GET /v1/members/{member_id}
    # WHEN /v1/members/me is requested without a query
    event = api.get("/v1/members/me").json()
    # THEN the exact route is chosen and the event has no pathParameters nor queryStringParameters
    assert event["routeKey"] == "GET /v1/members/me"
    assert "pathParameters" not in event
    assert "queryStringParameters" not in event
    assert event["rawQueryString"] == ""


def test_binary_bodies_arrive_base64_and_text_bodies_as_text(api):
    # GIVEN a greedy ANY route
    blob = bytes(range(256))
    # WHEN an octet-stream, a JSON and a form body are posted to it
    binary = api.post("/v1/files/a/b/c.bin", content=blob, headers={"content-type": "application/octet-stream"})
    text = api.put("/v1/files/doc.json", content='{"名": 1}'.encode(), headers={"content-type": "application/json"})
    form = api.post("/v1/files/form", content=b"a=1&b=2", headers={"content-type": "application/x-www-form-urlencoded"})
    # THEN binary and form bodies are base64 (as on AWS), JSON is UTF-8 text; the greedy parameter keeps slashes
    event = binary.json()
    assert event["routeKey"] == "ANY /v1/files/{path+}"
    assert event["pathParameters"] == {"path": "a/b/c.bin"}
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == blob
    assert event["headers"]["content-length"] == "256"
    assert text.json()["body"] == '{"名": 1}'
    assert text.json()["isBase64Encoded"] is False
    assert text.json()["requestContext"]["http"]["method"] == "PUT"
    assert base64.b64decode(form.json()["body"]) == b"a=1&b=2"


# ------------------------------------------------------------------------------------------- responses


def test_a_full_response_maps_status_headers_cookies_and_binary_body(api):
    # GIVEN a handler returning statusCode, headers, cookies and a base64 body
    wanted = {
        "statusCode": 201,
        "headers": {"content-type": "image/png", "x-qunyun": "yes"},
        "cookies": ["s=1; Path=/", "t=2"],
        "body": base64.b64encode(b"\x89PNG\x00\xff").decode(),
        "isBase64Encoded": True,
    }
    # WHEN it is called
    response = api.post("/v1/respond", json=wanted)
    # THEN the client sees exactly that response
    assert response.status_code == 201
    assert response.headers["x-qunyun"] == "yes"
    assert response.headers.get_list("set-cookie") == ["s=1; Path=/", "t=2"]
    assert response.content == b"\x89PNG\x00\xff"


def test_a_malformed_response_is_a_500(api):
    # GIVEN a handler returning a body that is not a string
    # WHEN it is called
    response = api.post("/v1/respond", json={"statusCode": 200, "body": {"not": "a string"}})
    # THEN API Gateway's answer: 500
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_unknown_routes_are_404(api):
    # GIVEN no route for the path, or none for the method
    # WHEN requested
    # THEN API Gateway's 404 body
    for response in (api.get("/v1/nope"), api.delete("/v1/context"), api.get("/v1/members")):
        assert response.status_code == 404
        assert response.json() == {"message": "Not Found"}


def test_a_body_over_10_mb_is_refused_before_it_is_read(api):
    # GIVEN a request announcing 10 MB + 1 byte
    host, port = api.base_url.host, api.base_url.port
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"POST /v1/respond HTTP/1.1\r\nHost: x\r\nContent-Length: 10485761\r\n\r\n")
        # WHEN the gateway answers without waiting for the body (and closes the connection)
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    reply = reply.decode()
    # THEN 413 with API Gateway's message
    assert reply.startswith("HTTP/1.1 413")
    assert reply.endswith('\r\n\r\n{"message":"Request Entity Too Large"}')


# ------------------------------------------------------------------------------------------- failures


def test_a_raising_handler_is_a_500_and_its_worker_stays_usable(api, pool):
    # GIVEN a handler that raises
    # WHEN it is called over HTTP, then directly twice
    response = api.post("/v1/boom", json={})
    pids = pool.pids("Boom")
    with pytest.raises(InvocationError) as first:
        pool.invoke("Boom", {"attempt": 7})
    with pytest.raises(InvocationError):
        pool.invoke("Boom", {})
    # THEN 500 for the client, the exception's type and message for the caller, and no new worker
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert first.value.error_type == "LedgerError"
    assert str(first.value) == "LedgerError: ledger out of balance (attempt 7)"
    assert any("LedgerError" in line for line in first.value.stack_trace)
    assert pool.pids("Boom") == pids


def test_a_handler_past_its_timeout_is_killed(api, pool):
    # GIVEN a function with Timeout: 1 whose handler sleeps 10 s
    started = time.monotonic()
    # WHEN it is called
    response = api.get("/v1/too-slow?seconds=10")
    # THEN the client gets a 500 without waiting for the handler to finish, and the worker is gone
    assert response.status_code == 500
    assert time.monotonic() - started < 8
    assert pool.pids("TooSlow") == []
    with pytest.raises(InvocationError, match=r"^timed out after 1 s$"):
        pool.invoke("TooSlow", {"queryStringParameters": {"seconds": "2"}})
    # AND the function still works when it is quick enough
    assert api.get("/v1/too-slow?seconds=0").status_code == 200


# ------------------------------------------------------------------------------------ workers and pool


def test_workers_get_the_template_environment_and_a_lambda_context(api):
    # GIVEN a function with Globals and own variables (a !Ref to a table, a !Sub, a !GetAtt)
    # WHEN it reports what it sees
    seen = api.get("/v1/context").json()
    # THEN intrinsics are resolved with the stack name, the unresolvable one is dropped, base_env is there
    assert seen["env"] == {
        "STACK_NAME": STACK,
        "TABLE_NAME": f"{STACK}-items",
        "BUCKET_ARN": None,
        "PREFIX": f"{STACK}-prefix",
        "EXTRA": "local",
        "BASE": "from-base",
        "AWS_LAMBDA_FUNCTION_NAME": f"{STACK}-Context",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_REGION": seen["env"]["AWS_REGION"],
    }
    ctx = seen["context"]
    assert ctx["function_name"] == f"{STACK}-Context"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"].endswith(f":function:{STACK}-Context")
    assert ctx["memory_limit_in_mb"] == "512"  # a string, as the real runtime gives it
    assert ctx["log_group_name"] == f"/aws/lambda/{STACK}-Context"
    assert "[$LATEST]" in ctx["log_stream_name"]
    assert 3000 < ctx["remaining_ms"] <= 5000
    assert seen["pid"] != os.getpid()


def test_concurrent_requests_run_in_parallel_up_to_the_pool_limit(api, pool):
    # GIVEN max_per_function=4 and a handler that sleeps 1 s
    results = []

    def call():
        results.append(httpx.get(f"{str(api.base_url).rstrip('/')}/v1/sleep?seconds=1", timeout=20).json())

    # WHEN 8 requests arrive at once
    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN they run four at a time on four workers: about 2 rounds, not 8
    assert len(results) == 8
    assert len({r["pid"] for r in results}) == 4
    overlap = max(sum(r["started"] <= s["started"] < r["finished"] for r in results) for s in results)
    assert overlap == 4
    assert len(pool.pids("Sleepy")) == 4


def test_a_handler_that_cannot_be_imported_fails_like_an_init_error(pool):
    # GIVEN a function whose handler module does not exist
    # WHEN it is invoked
    # THEN the error is Lambda's Runtime.ImportModuleError and no worker lingers
    with pytest.raises(InvocationError, match=r"Runtime.ImportModuleError: Unable to import module 'missing_module'"):
        pool.invoke("Broken", {})
    assert pool.pids("Broken") == []


def test_close_leaves_no_worker_behind(template):
    # GIVEN a pool with warm workers for two functions
    pool = FunctionPool(template, FIXTURE, STACK, {})
    pool.invoke("Context", {})
    pool.invoke("Brief", {})
    pids = pool.pids()
    assert len(pids) == 2
    # WHEN it is closed
    pool.close()
    # THEN every worker process is gone and the pool refuses work
    assert all(gone(pid) for pid in pids)
    with pytest.raises(InvocationError):
        pool.invoke("Context", {})


def test_workers_exit_by_themselves_when_the_parent_dies(tmp_path):
    # GIVEN a parent process with a warm worker, which then dies without cleaning up
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from qunyun_ops.local.template import Template
        from qunyun_ops.local.workers import FunctionPool
        if __name__ == "__main__":
            fixture = Path({str(FIXTURE)!r})
            pool = FunctionPool(Template.read(fixture / "template.yaml"), fixture, "x", {{}})
            print(pool.invoke("Context", {{}})["pid"], flush=True)
            os._exit(0)
        """
    )
    (tmp_path / "parent.py").write_text(script)
    # stderr is not captured: the worker shares it, and waiting for it to close would wait for the worker
    argv = [sys.executable, str(tmp_path / "parent.py")]
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=30)
    worker = int(out.stdout.strip())
    # WHEN a moment passes
    deadline = time.monotonic() + 5
    while not gone(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    # THEN the orphaned worker has exited (its pipe closed)
    assert gone(worker)


# ------------------------------------------------------------------------------------------- schedules


def test_fire_once_delivers_the_substituted_scheduled_time(template, pool):
    # GIVEN Brief's ScheduleV2 at 02:00 Asia/Shanghai
    at = datetime(2026, 5, 5, 2, 0, tzinfo=SHANGHAI)
    # WHEN `qunyun local run Brief --at 2026-05-05T02:00:00+08:00`, and with a naive time
    result = fire_once(pool, template, "Brief", at)
    naive = fire_once(pool, template, "Brief", datetime(2026, 5, 5, 2, 0))
    # THEN the handler gets the Input with the context attributes filled in
    received = result["received"]
    assert received["scheduled_time"] == "2026-05-04T18:00:00Z"
    assert received["attempt"] == 1
    assert received["slot"] == "02:00"
    assert received["schedule"].endswith(":schedule/default/Brief-Morning")
    assert result["function"] == f"{STACK}-Brief"
    # a naive --at is read in the schedule's own timezone
    assert naive["received"]["scheduled_time"] == "2026-05-04T18:00:00Z"


def test_fire_once_names_the_scheduled_functions_when_asked_for_another(template, pool):
    # GIVEN a function with no schedule and one that does not exist
    # WHEN fired
    # THEN the error names it and lists the scheduled ones
    with pytest.raises(ValueError, match=r"Echo has no schedule; scheduled functions: Boom, Brief, Tick"):
        fire_once(pool, template, "Echo", datetime(2026, 5, 5, 2, 0, tzinfo=SHANGHAI))
    with pytest.raises(ValueError, match=r"Nope is not a function in template.yaml"):
        fire_once(pool, template, "Nope", datetime(2026, 5, 5, 2, 0, tzinfo=SHANGHAI))


def test_a_failing_job_is_retried_then_dead_lettered(template, pool, tmp_path):
    # GIVEN a schedule with MaximumRetryAttempts 5 and a DeadLetterConfig whose handler always raises
    schedule = next(s for s in template.schedules if s.function == "Boom")
    waits: list[float] = []
    # WHEN it fires
    with pytest.raises(InvocationError, match=r"attempt 3"):
        fire(pool, schedule, datetime(2026, 5, 5, 3, 0, tzinfo=ZoneInfo("UTC")), tmp_path, sleep=waits.append)
    # THEN two local retries (attempt-number 2 and 3) with a growing backoff, then a dead-letter record
    assert waits == [1.0, 2.0]
    [record] = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert record["schedule"] == "Boom/Nightly"
    assert record["scheduled_time"] == "2026-05-05T03:00:00Z"
    assert record["attempts"] == 3
    assert record["error"]["type"] == "LedgerError"
    assert "attempt 3" in record["error"]["message"]


def test_the_scheduler_fires_every_schedule_that_comes_due(template, pool):
    # GIVEN a clock 0.4 s before 02:00 Asia/Shanghai, where Brief (02:00 Shanghai) and Tick (every minute) are due
    offset = datetime(2026, 5, 5, 1, 59, 59, 600000, tzinfo=SHANGHAI).timestamp() - time.time()
    fired, done = [], threading.Event()

    def on_result(schedule, when, result, error):
        fired.append((schedule.function, when, result, error))
        if {f[0] for f in fired} >= {"Brief", "Tick"}:
            done.set()

    scheduler = Scheduler(template, pool, None, clock=lambda: time.time() + offset, on_result=on_result)
    # WHEN it runs for a moment
    scheduler.start()
    done.wait(10)
    started = time.monotonic()
    scheduler.stop()
    # THEN both fired once, with their scheduled time, and stop() returned at once
    assert time.monotonic() - started < 1
    by_function = {f[0]: f for f in fired}
    assert set(by_function) == {"Brief", "Tick"}
    assert by_function["Brief"][2]["received"]["scheduled_time"] == "2026-05-04T18:00:00Z"
    assert by_function["Tick"][2]["received"] == {"scheduled_time": "2026-05-04T18:00:00Z"}
    assert all(f[3] is None for f in fired)
