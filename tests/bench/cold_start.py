"""Benchmark: each handler's import time (its cold start) against the bare import of its dependencies, and its
first DynamoDB clients against one bare botocore client.

    .venv/bin/python tests/bench/cold_start.py [--runs N]

For every function in template.yaml a fresh interpreter imports the handler module; another fresh
interpreter imports exactly the third-party modules that handler pulled in, and nothing of qunyun,
interleaved (floor, handler, floor, ..., floor: N handler samples, N + 1 floors). The ratio says what
qunyun's own code adds to a cold start: the median of each handler sample over its two neighbouring floors.

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
from dataclasses import asdict

from common import ROOT, report
from harness import Check, Spread, Target, interleaved, ratios, scaled
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
if {bare!r}:
    import botocore.session
    t = time.perf_counter()
    botocore.session.get_session().create_client("dynamodb", region_name="us-east-1")
    clients = {{"seconds": time.perf_counter() - t}}
print(json.dumps({{"seconds": elapsed, "third_party": third, "clients": clients}}))
"""


# Targets, as time over the floor's time (lower is better), for the worst function: what qunyun's own code adds
# to a cold start must stay below half the import of its dependencies, and its models' clients (sharing one
# botocore session) within 2.5 bare clients; the recorded runs were 1.08-1.45 and 1.34-2.33.
IMPORT_AT_MOST, CLIENTS_AT_MOST = 1.5, 2.5


# Lambda gives a function its role's credentials in the environment; without them botocore would look for
# others (the instance metadata service among them) while making a client.
ENV = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "cold-start", "AWS_SECRET_ACCESS_KEY": "cold-start",
       "POWERTOOLS_METRICS_DISABLED": "true"}


def run_probe(code: str) -> dict:
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                         env={**os.environ, **ENV}, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed_import(lines: list[str], clients: bool = False, bare: bool = False) -> dict:
    return run_probe(PROBE.format(functions=str(ROOT / "functions"), tests=str(ROOT / "tests"),
                                  imports="\n".join(lines), clients=clients, bare=bare))


def floor_probe(deps: list[str]) -> dict:
    """The floor of one sample: the handler's third-party modules alone, then one botocore session and its
    DynamoDB client, in one fresh interpreter."""
    probe = timed_import(deps, bare=True)
    return {"import": probe["seconds"], "client": probe["clients"]["seconds"]}


def measure(module: str, runs: int) -> dict:
    """floor, handler, floor, ..., floor for one function; the ratios of each handler sample to its neighbours."""
    first = timed_import([f"import {module}"])
    deps = [f"import {name}" for name in first["third_party"]]
    floors, handler = interleaved(lambda _: floor_probe(deps),
                                  [lambda: timed_import([f"import {module}"], clients=True)] * runs)
    imports = ratios([f["import"] for f in floors], [h["seconds"] for h in handler])
    clients = ratios([f["client"] for f in floors], [h["clients"]["seconds"] for h in handler])
    return {"handler_import_ms": round(statistics.median(h["seconds"] for h in handler) * 1000, 1),
            "dependencies_import_ms": round(statistics.median(f["import"] for f in floors) * 1000, 1),
            "ratio": asdict(imports), "third_party_modules": len(first["third_party"]),
            "models": handler[0]["clients"]["models"],
            "model_clients_ms": round(statistics.median(h["clients"]["seconds"] for h in handler) * 1000, 1),
            "one_bare_client_ms": round(statistics.median(f["client"] for f in floors) * 1000, 1),
            "clients_ratio": asdict(clients)}


def worst(results: dict, key: str, value: str, floor: str, figure: str, target: Target) -> Check:
    """The function whose median ratio is highest, held to the target."""
    name = max(results, key=lambda f: results[f][key]["median"])
    r = results[name]
    return Check.of_ratio("cold_start", f"{figure} (worst: {name})", r[value], "ms", r[floor],
                          Spread(**{**r[key], "samples": tuple(r[key]["samples"])}), target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=scaled(6), help="handler samples per function")
    args = parser.parse_args()
    results = {}
    for lid, (_, module, _) in sorted(handler_modules(Template.read(TEMPLATE)).items()):
        results[lid] = r = measure(module, args.runs)
        print(f"{lid}: handler {r['handler_import_ms']} ms, its dependencies alone {r['dependencies_import_ms']} ms; "
              f"clients of its {r['models']} models {r['model_clients_ms']} ms, one bare client "
              f"{r['one_bare_client_ms']} ms", file=sys.stderr)
    checks = [worst(results, "ratio", "handler_import_ms", "dependencies_import_ms", "handler import",
                    Target(at_most=IMPORT_AT_MOST)),
              worst(results, "clients_ratio", "model_clients_ms", "one_bare_client_ms", "first DynamoDB clients",
                    Target(at_most=CLIENTS_AT_MOST))]
    report({"benchmark": "cold_start", "runs": args.runs, "functions": results}, checks)


if __name__ == "__main__":
    main()
