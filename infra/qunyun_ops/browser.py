"""A headless Chromium for the console's browser tests and `make demo`'s screenshots: Debian's `chromium` and
`chromium-driver` (installed by `qunyun local setup` where missing), driven with selenium, with a fresh empty
profile and everything that would reach the network switched off."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from qunyun_ops.local.server import SetupError
from qunyun_ops.paths import STATE

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
# The pages are Chinese: without a CJK font a screenshot shows empty boxes (WenQuanYi Micro Hei is 5 MB).
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
PACKAGES = ("chromium", "chromium-driver", "fonts-wqy-microhei")
SCREENSHOTS = STATE / "screenshots"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,1000", "--lang=zh-CN")
# The console's pages, in the order an operator reads them: (file name, path).
PAGES = (("today", "/console/today"), ("groups", "/console/groups"), ("points", "/console/points"),
         ("guard", "/console/guard"), ("flash", "/console/flash"))


def ensure_chromium(log=print) -> None:
    """Installs Debian's chromium, chromium-driver and a CJK font with apt-get when any is missing (as root, as CI
    runs); otherwise says what to install."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists() and CJK_FONT.exists():
        return
    if os.geteuid() != 0:
        raise SetupError(f"The console's browser tests need Chromium: sudo apt-get install {' '.join(PACKAGES)}")
    log(f"Installing {', '.join(PACKAGES)} (the console's browser tests) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SetupError(f"`{' '.join(cmd)}` failed: {done.stderr.strip()[-500:]}")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        raise SetupError("apt-get installed chromium but /usr/bin/chromium or /usr/bin/chromedriver is missing.")


@contextmanager
def chromium(language: str = "zh-CN"):
    """A headless Chromium (selenium WebDriver) on a new empty profile, removed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="qunyun-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag if not flag.startswith("--lang=") else f"--lang={language}")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# The page's size once it has loaded: null while a navigation is still replacing the document.
PAGE_SIZE = ("const e = document.documentElement;"
             " return e && document.readyState === 'complete' ? [e.scrollWidth, e.scrollHeight] : null;")


def full_page_screenshot(driver, path: Path) -> Path:
    """The whole page, not only the window (Chromium's DevTools capture beyond the viewport), once it has loaded."""
    from selenium.common.exceptions import JavascriptException
    from selenium.webdriver.support.ui import WebDriverWait

    width, height = WebDriverWait(driver, 10, ignored_exceptions=(JavascriptException,)).until(
        lambda d: d.execute_script(PAGE_SIZE))
    clip = {"x": 0, "y": 0, "width": max(width, 320), "height": min(max(height, 200), 8000), "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                             "clip": clip})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def screenshot_console(driver, base_url: str, login_url: str, folder: Path = SCREENSHOTS,
                       groups: tuple[str, ...] = ()) -> list[Path]:
    """Logs in with the link, then saves a screenshot of each page (and of each group's page) under `folder`."""
    from selenium.common.exceptions import JavascriptException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(login_url)
    # The login page moves on by itself (a meta refresh): wait until today's page has loaded, not only been named,
    # or the next navigation races the refresh.
    WebDriverWait(driver, 10, ignored_exceptions=(JavascriptException,)).until(
        lambda d: d.current_url.endswith("/console/today") and d.execute_script(PAGE_SIZE))
    saved = []
    for name, path in PAGES + tuple((f"group-{g}", f"/console/groups/{g}") for g in groups):
        driver.get(base_url.rstrip("/") + path)
        saved.append(full_page_screenshot(driver, folder / f"{name}.png"))
    return saved
