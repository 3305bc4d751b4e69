"""What a cold start loads before its first event: the Console no table module (each page builds the tables it
reads), SendPushes not the ledger's, ProcessGroupEvents neither the ledger's rules nor the push messages' models (a
batch of messages needs none). Each is checked in a fresh interpreter, as Lambda imports the handler
(docs/benchmarks.md, cold starts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def loaded_after_import(handler: str, then: str = "") -> set[str]:
    """qunyun's modules loaded by importing the handler (and running `then`) in a fresh interpreter."""
    code = (f"import sys, json; import {handler}\n{then}\n"
            "print(json.dumps(sorted(n for n in sys.modules if n.startswith('qunyun'))))")
    run = subprocess.run([sys.executable, "-c", code], cwd=FUNCTIONS, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    return set(json.loads(run.stdout.splitlines()[-1]))


def _tables(modules: set[str]) -> set[str]:
    return {m for m in modules if m.endswith("_tables") or m == "qunyun.adapters.tables"}


def test_the_console_loads_no_table_until_a_page_reads_one():
    assert _tables(loaded_after_import("console")) == set()
    # the group page's repositories, made on first use, load their tables and not the ledger's
    group_page = loaded_after_import("console", "d = console.default_deps(); d.groups; d.roster; d.activity; "
                                                "d.deliveries; d.rollups")
    assert {"qunyun.adapters.tables", "qunyun.adapters.community_tables", "qunyun.adapters.deliveries_tables",
            "qunyun.adapters.metrics_tables"} <= _tables(group_page)
    assert "qunyun.adapters.points_tables" not in group_page


def test_send_pushes_loads_the_ledger_on_first_use():
    assert "qunyun.adapters.points_tables" not in loaded_after_import("send_pushes")
    used = loaded_after_import("send_pushes", "send_pushes.default_deps().send.ledger.member")
    assert "qunyun.adapters.points_tables" in used


def test_process_group_events_loads_the_ledger_rules_and_push_models_only_for_a_check_in_or_a_join():
    modules = loaded_after_import("process_group_events")
    assert not {"qunyun.services.points", "qunyun.services.invite_holds", "qunyun.domain.ledger",
                "qunyun.domain.push_messages"} & modules
