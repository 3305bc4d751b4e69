"""The demo's last part: the figures and the web console. Fires RollupMetrics as just after today's midnight, so
today (the day the demo's groups were heard) is closed, and prints its figures with `qunyun metrics`; the console's
windows end with today once it is closed, so its groups' rates and charts show the day, labelled as closed ahead
of its end. Then prints a one-time login link (`qunyun console --local`), then logs a headless Chromium in with
another link and saves a screenshot of each page under .qunyun/screenshots/. On a terminal the demo then waits
for Enter, so the printed link can be opened before the stack stops."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from qunyun_ops.browser import SCREENSHOTS, chromium, screenshot_console
from qunyun_ops.paths import ROOT

GROUPS = ("tea-parents-01", "tea-parents-02", "tea-tokyo")


SHANGHAI = ZoneInfo("Asia/Shanghai")  # the demo tenant's timezone; its Tokyo group's day ends an hour earlier


def metrics_demo(tenant: str, qunyun: Callable, step: Callable[[str], None]) -> None:
    today = datetime.now(SHANGHAI).date()
    at = f"{today + timedelta(days=1)}T00:10:00+08:00"
    step(f"RollupMetrics fired as at {at}: today has ended for every group, so its figures are closed (the "
         "console's charts end with it)")
    qunyun("local", "run", "RollupMetrics", "--at", at, logs=False)
    qunyun("metrics", "--tenant", tenant, "--local", "--from", today.isoformat(), "--to", today.isoformat())
    qunyun("metrics", "--tenant", tenant, "--local", "--scope", "group:tea-tokyo", "--from", today.isoformat(),
           "--to", today.isoformat())


def console_demo(port: int, tenant: str, qunyun: Callable, step: Callable[[str], None]) -> None:
    metrics_demo(tenant, qunyun, step)
    step("The web console: a one-time login link (valid 10 minutes, works once)")
    link = json.loads(qunyun("console", "--tenant", tenant, "--local", "--json").stdout)["login_url"]
    print(f"Open it in a browser while the stack runs: {link}")
    step(f"Screenshots of each console page ({SCREENSHOTS.relative_to(ROOT)}/)")
    other = json.loads(qunyun("console", "--tenant", tenant, "--local", "--json", echo=False).stdout)["login_url"]
    with chromium() as driver:
        saved = screenshot_console(driver, f"http://127.0.0.1:{port}", other, groups=GROUPS)
    for path in saved:
        print(f"  {path.relative_to(ROOT)}")
    if sys.stdin.isatty():
        input("Press Enter to stop the local stack (the console link stops working with it) ... ")
