"""functions/requirements.txt is what `sam build` installs; it must say what pyproject.toml says."""

from __future__ import annotations

from qunyun_ops.paths import ROOT
from qunyun_ops.requirements import render


def test_requirements_txt_is_generated_from_pyproject():
    on_disk = (ROOT / "functions" / "requirements.txt").read_text()
    assert on_disk == render(), "functions/requirements.txt drifted from pyproject.toml; run `make requirements`"


def test_runtime_dependencies_are_pinned():
    for line in render().splitlines()[1:]:
        assert "==" in line, f"{line}: pin runtime dependencies so every build ships the same code"
