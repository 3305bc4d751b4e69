"""`qunyun console --local` against a real `qunyun local up`: the printed link logs in once on the stack's own
gateway, the cookie it sets opens today's page of that tenant, and nothing else opens it."""

from __future__ import annotations

import json

import httpx
from support_stack import Stack, ok


def test_the_printed_link_logs_in_once_on_the_local_stack(tmp_path):
    stack = Stack(tmp_path / "state").up("--no-schedule")
    try:
        ok(stack.cli("tenants", "create", "tea", "--name", "Tea", "--local", "--json"))
        printed = json.loads(ok(stack.cli("console", "--tenant", "tea", "--local", "--json")).stdout)
        assert printed["tenant_id"] == "tea"
        assert printed["login_url"].startswith(f"http://127.0.0.1:{stack.port}/console/login?token=")
        with httpx.Client(timeout=30) as browser:
            first = browser.get(printed["login_url"])
            assert first.status_code == 200 and "/console/today" in first.text
            cookie = first.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
            today = browser.get(f"http://127.0.0.1:{stack.port}/console/today")
            assert today.status_code == 200 and "(tea)" in today.text
            assert browser.get(printed["login_url"]).status_code == 403
        assert httpx.get(f"http://127.0.0.1:{stack.port}/console/today", timeout=30).status_code == 401
        home = httpx.get(f"http://127.0.0.1:{stack.port}/console", timeout=30)
        assert home.status_code == 303 and home.headers["location"] == "/console/today"
        unknown = stack.cli("console", "--tenant", "nobody", "--local")
        assert unknown.returncode == 2 and "nobody" in unknown.stderr
    finally:
        stack.stop()
