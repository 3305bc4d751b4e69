"""Benchmark: each handler's import time (its cold start) against the bare import of its dependencies.

    .venv/bin/python tests/bench/cold_start.py [--runs N]

For every function in template.yaml a fresh interpreter imports the handler module; another fresh
interpreter imports exactly the third-party modules that handler pulled in, and nothing of qunyun.
The ratio says what qunyun's own code adds to a cold start. Medians over N runs of each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from common import ROOT, report
from qunyun_ops.checks import handler_modules
from qunyun_ops.local.template import Template
from qunyun_ops.paths import TEMPLATE

PROBE = """
import json, sys, time
sys.path.insert(0, {functions!r})
t = time.perf_counter()
{imports}
elapsed = time.perf_counter() - t
own = {functions!r}
third = sorted(
    n for n, m in list(sys.modules.items())
    if n.split('.')[0] not in sys.stdlib_module_names and getattr(m, '__file__', None)
    and not m.__file__.startswith(own) and 'site-packages' in m.__file__
)
print(json.dumps({{"seconds": elapsed, "third_party": third}}))
"""


def timed_import(lines: list[str]) -> dict:
    code = PROBE.format(functions=str(ROOT / "functions"), imports="\n".join(lines))
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_METRICS_DISABLED": "true"}
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results = {}
    for lid, (_, module, _) in sorted(handler_modules(Template.read(TEMPLATE)).items()):
        first = timed_import([f"import {module}"])
        deps = [f"import {name}" for name in first["third_party"]]
        handler_s = [timed_import([f"import {module}"])["seconds"] for _ in range(args.runs)]
        bare_s = [timed_import(deps)["seconds"] for _ in range(args.runs)]
        h, b = statistics.median(handler_s), statistics.median(bare_s)
        results[lid] = {"handler_import_ms": round(h * 1000, 1), "dependencies_import_ms": round(b * 1000, 1),
                        "ratio": round(h / b, 3), "third_party_modules": len(first["third_party"])}
        print(f"{lid}: handler {h * 1000:.1f} ms, its dependencies alone {b * 1000:.1f} ms", file=sys.stderr)
    report({"benchmark": "cold_start", "runs": args.runs, "functions": results})


if __name__ == "__main__":
    main()
