"""Where a checkout keeps its template, caches and local state."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("QUNYUN_HOME") or Path(__file__).resolve().parents[2])
# QUNYUN_TEMPLATE runs the local stack on another template (tests' fixtures); CodeUri is relative to it, as in SAM.
TEMPLATE = Path(os.environ.get("QUNYUN_TEMPLATE") or ROOT / "template.yaml")
CACHE = ROOT / ".cache"
# A running local stack keeps its ports, local secrets and dead letters here (tests use their own).
STATE = Path(os.environ.get("QUNYUN_STATE_DIR") or ROOT / ".qunyun")
