"""Deployability: cfn-lint, `sam validate --lint` and `sam build`, then the built handlers import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from qunyun_ops.checks import handler_modules
from qunyun_ops.local.template import Template
from qunyun_ops.paths import CACHE, ROOT, TEMPLATE

pytestmark = pytest.mark.slow


def sam() -> str:
    path = os.environ.get("QUNYUN_SAM") or str(next(iter(sorted(CACHE.glob("sam-*/bin/sam"))), ""))
    assert path and Path(path).exists(), "SAM CLI is missing; `make setup` installs it into .cache/"
    return path


def sam_env() -> dict:
    # No AWS account is needed to validate or build; telemetry stays off on operators' machines.
    return {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}


def test_cfn_lint_reports_nothing():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint():
    result = subprocess.run([sam(), "validate", "--lint", "--template-file", str(TEMPLATE)], cwd=ROOT,
                            capture_output=True, text=True, env=sam_env(), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_sam_build_produces_importable_handlers(tmp_path):
    build = tmp_path / "build"
    result = subprocess.run([sam(), "build", "--template-file", str(TEMPLATE), "--build-dir", str(build)],
                            cwd=ROOT, capture_output=True, text=True, env=sam_env(), timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for lid, (_, module, func) in handler_modules(Template.read(TEMPLATE)).items():
        artifact = build / lid
        assert (artifact / "requirements.txt").exists()
        # Import the handler from the artifact alone, as Lambda would: no checkout, no virtualenv paths.
        code = f"import sys; sys.path[:0] = [{str(artifact)!r}]; import {module}; assert callable({module}.{func})"
        env = {"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": "us-east-1", "HOME": str(tmp_path)}
        python = shutil.which("python3.11") or sys.executable
        check = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
        assert check.returncode == 0, f"{lid}: {check.stderr[-2000:]}"
