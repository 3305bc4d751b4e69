"""`qunyun guard set|show` on DynamoDB Local: a checked file replaces the rules; a refused one changes nothing."""

from __future__ import annotations

import json

from typer.testing import CliRunner


def test_set_then_show_and_a_refused_file_changes_nothing(tenant, tmp_path):
    from qunyun_ops.cli import app

    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("guard:\n  words: [加微信]\n  allow_domains: [Example.com]\n  window_days: 14\n", encoding="utf-8")
    bad.write_text("guard:\n  words: [other]\n  patterns: ['[a-']\n", encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(app, ["guard", "set", str(good), "--tenant", tenant.tenant_id])
    assert first.exit_code == 0, first.output
    refused = runner.invoke(app, ["guard", "set", str(bad), "--tenant", tenant.tenant_id])
    assert refused.exit_code == 2 and "line 3" in refused.output
    shown = runner.invoke(app, ["guard", "show", "--tenant", tenant.tenant_id, "--json"])
    rules = json.loads(shown.output)
    assert rules["guard"]["words"] == ["加微信"] and rules["guard"]["allow_domains"] == ["example.com"]
    assert rules["guard"]["window_days"] == 14 and rules["sweep"]["mode"] == "report"
