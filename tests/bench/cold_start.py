"""Benchmark: each handler's import time (its cold start) against the bare import of its dependencies, and its
first DynamoDB clients against one bare botocore client.

    .venv/bin/python tests/bench/cold_start.py [--runs N]

For every function in template.yaml a fresh interpreter imports the handler module; another fresh
interpreter imports exactly the third-party modules that handler pulled in, and nothing of qunyun.
The ratio says what qunyun's own code adds to a cold start. Medians over N runs of each.

A cold start also makes the DynamoDB clients of the models it uses, on their first call. In the handler's
interpreter, once the import is timed, the clients of every model of the table modules it loaded are made
(what its first calls would make, at most); the floor is one botocore session and one DynamoDB client made in
a fresh interpreter. No request is sent.
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
clients = {{}}
if {clients!r}:
    sys.path.insert(0, {tests!r})
    from support import leaf_models

    models = leaf_models()
    t = time.perf_counter()
    for m in models:
        m._get_connection().connection.client
    clients = {{"models": len(models), "seconds": time.perf_counter() - t}}
print(json.dumps({{"seconds": elapsed, "third_party": third, "clients": clients}}))
"""
BARE_CLIENT = """
import json, time
t = time.perf_counter()
import botocore.session
imported = time.perf_counter()
botocore.session.get_session().create_client("dynamodb", region_name="us-east-1")
print(json.dumps({"seconds": time.perf_counter() - imported}))
"""


# Lambda gives a function its role's credentials in the environment; without them botocore would look for
# others (the instance metadata service among them) while making a client.
ENV = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "cold-start", "AWS_SECRET_ACCESS_KEY": "cold-start",
       "POWERTOOLS_METRICS_DISABLED": "true"}


def run_probe(code: str) -> dict:
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                         env={**os.environ, **ENV}, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed_import(lines: list[str], clients: bool = False) -> dict:
    return run_probe(PROBE.format(functions=str(ROOT / "functions"), tests=str(ROOT / "tests"),
                                  imports="\n".join(lines), clients=clients))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results = {}
    for lid, (_, module, _) in sorted(handler_modules(Template.read(TEMPLATE)).items()):
        first = timed_import([f"import {module}"])
        deps = [f"import {name}" for name in first["third_party"]]
        handler = [timed_import([f"import {module}"], clients=True) for _ in range(args.runs)]
        bare_s = [timed_import(deps)["seconds"] for _ in range(args.runs)]
        bare_client_s = [run_probe(BARE_CLIENT)["seconds"] for _ in range(args.runs)]
        h, b = statistics.median(r["seconds"] for r in handler), statistics.median(bare_s)
        c, one = statistics.median(r["clients"]["seconds"] for r in handler), statistics.median(bare_client_s)
        results[lid] = {"handler_import_ms": round(h * 1000, 1), "dependencies_import_ms": round(b * 1000, 1),
                        "ratio": round(h / b, 3), "third_party_modules": len(first["third_party"]),
                        "models": handler[0]["clients"]["models"], "model_clients_ms": round(c * 1000, 1),
                        "one_bare_client_ms": round(one * 1000, 1), "clients_ratio": round(c / one, 3)}
        print(f"{lid}: handler {h * 1000:.1f} ms, its dependencies alone {b * 1000:.1f} ms; "
              f"clients of its {handler[0]['clients']['models']} models {c * 1000:.1f} ms, one bare client "
              f"{one * 1000:.1f} ms", file=sys.stderr)
    report({"benchmark": "cold_start", "runs": args.runs, "functions": results})


if __name__ == "__main__":
    main()
