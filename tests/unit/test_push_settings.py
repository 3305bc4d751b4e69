"""The push queue's settings come from the environment template.yaml gives the four functions that use it, and
only settings.py reads the environment: every handler takes its dependencies from the typed settings."""

from __future__ import annotations

import re

import pytest
from qunyun.settings import Settings, get_settings
from qunyun_ops.paths import ROOT


@pytest.fixture
def fresh_settings():
    get_settings.cache_clear()
    yield get_settings
    get_settings.cache_clear()


def test_the_push_queue_settings_default_to_no_queue_and_five_receives():
    s = Settings()
    assert (s.push_queue_url, s.push_max_receives) == (None, 5)


def test_the_push_queue_settings_are_read_from_the_environment(monkeypatch, fresh_settings):
    monkeypatch.setenv("PUSH_QUEUE_URL", "http://127.0.0.1:9324/000000000000/qunyun-pushes")
    monkeypatch.setenv("PUSH_MAX_RECEIVES", "3")
    s = fresh_settings()
    assert (s.push_queue_url, s.push_max_receives) == ("http://127.0.0.1:9324/000000000000/qunyun-pushes", 3)


def test_only_settings_reads_the_environment():
    readers = [str(p.relative_to(ROOT)) for p in (ROOT / "functions").rglob("*.py")
               if re.search(r"os\.environ|os\.getenv|getenv\(", p.read_text(encoding="utf-8"))]
    assert readers == ["functions/qunyun/settings.py"]


@pytest.mark.parametrize("module", ["send_pushes", "brief_dispatch", "send_reminders", "expire_flash_groups"])
def test_a_pushing_handler_builds_its_dependencies_once_from_the_settings(module, monkeypatch, fresh_settings):
    import importlib

    monkeypatch.setenv("PUSH_QUEUE_URL", "http://127.0.0.1:9324/000000000000/qunyun-pushes")
    handler = importlib.import_module(module)
    get_settings.cache_clear()  # importing the adapters may have read the settings before
    handler.default_deps.cache_clear()
    try:
        deps = handler.default_deps()
        # THEN the deps are built once per execution environment, and send to the queue the settings name
        assert handler.default_deps() is deps
        assert deps.queue.url == "http://127.0.0.1:9324/000000000000/qunyun-pushes"
        with pytest.raises(AttributeError):  # frozen: an invocation cannot change what the next one uses
            deps.queue = None
    finally:
        handler.default_deps.cache_clear()
