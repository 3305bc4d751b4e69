"""Where a checkout keeps its template, caches and local state."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("QUNYUN_HOME") or Path(__file__).resolve().parents[2])
TEMPLATE = ROOT / "template.yaml"
CACHE = ROOT / ".cache"
STATE = ROOT / ".qunyun"
