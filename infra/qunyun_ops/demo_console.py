"""The demo's last part: the web console. Prints a one-time login link (`qunyun console --local`), then logs a
headless Chromium in with another link and saves a screenshot of each page under .qunyun/screenshots/. On a
terminal the demo then waits for Enter, so the printed link can be opened before the stack stops."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from qunyun_ops.browser import SCREENSHOTS, chromium, screenshot_console
from qunyun_ops.paths import ROOT

GROUPS = ("tea-parents-01", "tea-parents-02", "tea-tokyo")


def console_demo(port: int, tenant: str, qunyun: Callable, step: Callable[[str], None]) -> None:
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
