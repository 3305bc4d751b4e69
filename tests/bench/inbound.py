"""Benchmark: a burst of N platform callbacks (default 100,000) on the local stack, then ProcessGroupEvents over what
InboundApi queued.

    .venv/bin/python tests/bench/inbound.py [--callbacks N] [--groups G] [--clients 4] [--runs 2] [--raw N]

One DynamoDB Local, one local SQS endpoint and the local stack's HTTP gateway and function workers
(qunyun_ops.local: FunctionPool, Gateway), with one more function in the template: `Bare`, a handler that returns
200 at once, on POST /bench/bare/{platform}/{tenant} of the same gateway. The burst (burst.py): messages from G
Telegram groups of 200 members (G = 1,000; QUICK: a tenth of the callbacks and of the groups, so a group gets as
many messages), 1% joins and leaves, half of those WeCom encrypted callbacks of G/10 customer groups.

* callbacks: --clients processes send the burst in --runs parts (a tenant each), every callback one HTTP request,
  its answer timed from request to response; the floor sends the same requests (bodies, headers) to `Bare` from
  the same processes: floor, part, floor, part, floor. Target: the callback answer's p99 at most 3x the floor's.
* ProcessGroupEvents: each part's queued events, received from the queue (not timed), in batches as the event
  source mapping hands a backlog over (the template's BatchSize, at most 6 MB, as many per environment), run by
  `process_group_events.process` in the same --clients processes (an execution environment each); the floor:
  the same processes send one UpdateItem ADD per message to a counter item per member and local day, one by one.
  Targets: at least 0.5 of the floor's message events a second; at most 0.2 write units a message event.

The cost per million message events: a callback's HTTP API request and InboundApi invocation (its workers' CPU
time, from /proc), its SendMessageBatch and its share of the poller's receives and deletes (10 a request), and
ProcessGroupEvents' invocations, CPU time and DynamoDB capacity per event, at the prices of prices.py.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import burst
from common import ROOT, STACK, cost, local_env, memory_mb, report
from environments import Clients, deal, merged
from harness import Check, Target, Usage, interleaved, ratios, scaled, spread

sys.path.insert(0, str(ROOT / "tests"))

INBOUND, CONSUMER = "InboundApi", "ProcessGroupEvents"
BARE = "/bench/bare"
BARE_HANDLER = 'def handler(event, context):\n    return {"statusCode": 200, "body": ""}\n'


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) in milliseconds."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] * 1000, 2)


def latency(values: list[float]) -> dict:
    return {"p50_ms": pct(values, 0.50), "p99_ms": pct(values, 0.99), "max_ms": round(max(values) * 1000, 2),
            "mean_ms": round(sum(values) / len(values) * 1000, 2)}


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- the world: tenants, groups, connections; the local stack with a bare function -------------------

def make_tenant(tenant_id: str, groups: int, wecom: int, aes_key: str) -> str:
    """A tenant with the burst's groups, connected to Telegram and WeCom; returns the Telegram secret token."""
    from datetime import UTC, datetime

    from qunyun.adapters.connections import ConnectionStore
    from qunyun.adapters.groups import GroupRepository
    from qunyun.adapters.secrets import secret_store
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.inbound.telegram import new_secret_token
    from qunyun.services.connections import connect
    from qunyun.services.groups import import_groups
    from qunyun.services.tenants import create_tenant

    tenants, secrets, connections = TenantRepository(), secret_store(), ConnectionStore()
    create_tenant(tenant_id, tenant_id, "Asia/Shanghai", tenants=tenants, secrets=secrets)
    report_ = import_groups(tenant_id, burst.groups_csv(groups, wecom), tenants=tenants, groups=GroupRepository(),
                            secrets=secrets)
    assert report_.created == groups + wecom, report_
    token = new_secret_token()
    deps = {"tenants": tenants, "connections": connections, "secrets": secrets, "now": datetime.now(UTC)}
    connect(tenant_id, "telegram", {"bot_token": burst.bot_token(0), "secret_token": token}, **deps)
    connect(tenant_id, "wecom", {"token": burst.WECOM_TOKEN, "aes_key": aes_key, "corp_id": burst.WECOM_CORP},
            **deps)
    return token


def with_bare(template, code_dir: Path):
    """The template with one more function on the same gateway: a handler that answers 200 at once."""
    from qunyun_ops.local.template import Template

    (code_dir / "bare.py").write_text(BARE_HANDLER)
    doc = json.loads(json.dumps(template.doc))
    doc["Resources"]["Bare"] = {"Type": "AWS::Serverless::Function", "Properties": {
        "Handler": "bare.handler", "CodeUri": str(code_dir), "Timeout": 5,
        "Events": {"Bare": {"Type": "HttpApi", "Properties": {"Path": BARE + "/{platform}/{tenant}",
                                                              "Method": "POST"}}}}}
    return Template(template.path, doc)


def drain(sqs, url: str) -> list[str]:
    """Every message waiting, received and deleted (not timed: Lambda's poller does this)."""
    bodies = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [m["Body"] for m in batch]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(batch)])
    return bodies


def counter_keys(bodies: list[str]) -> list[tuple[str, str]]:
    """(member, local day) of each message event: the floor's counter items."""
    from datetime import datetime, timedelta

    keys = []
    for body in bodies:
        e = json.loads(body)
        if e["kind"] == "message":
            day = (datetime.fromisoformat(e["occurred_at"]) + timedelta(hours=8)).date().isoformat()
            keys.append((f"{e['tenant_id']}#{e['platform']}:{e['sender']['user_id']}", day))
    return keys


# ---- the run --------------------------------------------------------------------------------------

def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callbacks", type=int, default=scaled(100_000), help="callbacks of the burst, all parts")
    parser.add_argument("--groups", type=int, default=scaled(1_000, least=10), help="Telegram groups (G)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent senders, then environments")
    parser.add_argument("--runs", type=int, default=2, help="parts of the burst, each between two floors")
    parser.add_argument("--raw", type=int, default=scaled(20_000, least=1_000), help="requests a bare floor sample")
    parser.add_argument("--warm", type=int, default=400, help="warm-up callbacks (to both functions)")
    args = parser.parse_args()
    assert args.callbacks >= 100 * args.runs and args.groups >= 10
    return args


def main() -> None:
    args = arguments()
    began = time.perf_counter()
    sys.stdout, stdout = sys.stderr, sys.stdout

    from qunyun_ops.local.dynamodb import DynamoDBLocal, free_port
    from qunyun_ops.local.sqs import SqsLocal, create_queues, sqs_client

    port = free_port()
    local_env(port)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    with SqsLocal(log=log) as sqs_server, DynamoDBLocal(port, log=log) as server:
        out, checks = burst_and_consume(args, server, sqs_server, create_queues, sqs_client)
    out["total_seconds"] = round(time.perf_counter() - began, 1)
    sys.stdout = stdout
    report(out, checks)


def burst_and_consume(args, server, sqs_server, create_queues, sqs_client) -> tuple[dict, list[Check]]:
    from fakes.callbacks import aes_key
    from qunyun_ops.env import local_environment
    from qunyun_ops.local.gateway import Gateway
    from qunyun_ops.local.stack import ddb_client
    from qunyun_ops.local.tables import create_tables
    from qunyun_ops.local.template import Template
    from qunyun_ops.local.workers import FunctionPool
    from qunyun_ops.paths import TEMPLATE

    os.environ.update({"AWS_ENDPOINT_URL_SQS": sqs_server.endpoint, "QUNYUN_SQS_ENDPOINT": sqs_server.endpoint})
    template = with_bare(Template.read(TEMPLATE), Path(tempfile.mkdtemp(prefix="qunyun-bench-bare-")))
    create_tables(ddb_client(server.endpoint), template, STACK, streams=False)
    sqs = sqs_client(sqs_server.endpoint)
    urls = create_queues(sqs, template, STACK)
    os.environ["PUSH_QUEUE_URL"] = urls["PushQueue"]  # ProcessGroupEvents' welcomes (its template variable)
    wecom = max(args.groups // 10, 1)
    key = aes_key()
    tenants = {f"bench-{r}": None for r in ("warm", *range(1, args.runs + 1))}
    log(f"setup: {len(tenants)} tenants of {args.groups} Telegram and {wecom} WeCom groups ...")
    for t in tenants:
        tenants[t] = make_tenant(t, args.groups, wecom, key)
    env = {**local_environment(server.endpoint, STACK, Path(os.environ["QUNYUN_SECRETS_FILE"]), sqs_server.endpoint),
           "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    pool = FunctionPool(template, TEMPLATE.parent, STACK, env, max_per_function=args.clients)
    gateway = Gateway(template, pool, access_log=False)
    gw_port = gateway.start()
    clients = Clients(args.clients)
    try:
        pids = {"dynamodb_local": server.process.pid, "sqs_endpoint": sqs_server.process.pid}
        return run_phases(args, clients, pool, gw_port, sqs, urls["GroupEventQueue"], tenants, wecom, key,
                          template.queue_sources, pids)
    finally:
        clients.stop()
        gateway.stop()
        pool.close()


def run_phases(args, clients, pool, gw_port, sqs, queue_url, tenants, wecom, key, sources, pids):
    part = args.callbacks // args.runs
    batch_size = next(s.batch_size for s in sources if s.function == CONSUMER)

    def send(prefix: str, tenant: str, n: int, run: int) -> tuple[dict, float]:
        results, wall = clients.run({"kind": "send", "port": gw_port, "prefix": prefix, "tenant": tenant, "n": n,
                                     "run": run, "groups": args.groups, "wecom": wecom,
                                     "secret_token": tenants[tenant], "aes_key": key})
        m = merged(results)
        bad = {k: v for k, v in m["statuses"].items() if not k.endswith(" 200")}
        assert not bad, f"{prefix}: answers other than 200: {bad}"
        return m, wall

    log(f"warm-up: {args.warm} callbacks to {INBOUND} and to Bare by {args.clients} clients ...")
    send("/v1/inbound", "bench-warm", args.warm, 99)
    send(BARE, "bench-warm", args.warm, 99)
    warm_bodies = drain(sqs, queue_url)
    clients.run({"kind": "process", "tag": "warm", "batches": deal(burst.plan_batches(
        warm_bodies, args.clients, batch_size), args.clients)})

    floors, parts, bodies, inbound_cpu, cpu, bare_cpu = [], [], [], [], Counter(), Counter()

    def usage(function: str) -> dict[str, float]:
        """CPU seconds so far of the function's workers (as "inbound" or "bare"), the gateway's process and the
        endpoints."""
        return {"bare" if function == "Bare" else "inbound": sum(cpu_seconds(p) for p in pool.pids(function)),
                "gateway": time.process_time(),
                **{name: cpu_seconds(pid) for name, pid in pids.items()}}

    def floor(k: int) -> float:
        log(f"floor {k}: {args.raw} callbacks to Bare by {args.clients} clients ...")
        before = usage("Bare")
        m, wall = send(BARE, "bench-warm", args.raw, 90 + k)
        after = usage("Bare")
        bare_cpu.update({k: after[k] - before[k] for k in after})
        floors.append((m, wall))
        return pct(m["latencies"], 0.99)

    def path(r: int):
        def one() -> float:
            log(f"burst {r}: {part} callbacks to {INBOUND} (tenant bench-{r}) by {args.clients} clients ...")
            before = usage(INBOUND)
            m, wall = send("/v1/inbound", f"bench-{r}", part, r)
            after = usage(INBOUND)
            inbound_cpu.append(after["inbound"] - before["inbound"])
            cpu.update({k: after[k] - before[k] for k in after})
            parts.append((m, wall))
            bodies.append(drain(sqs, queue_url))
            assert len(bodies[-1]) == part, f"burst {r}: {len(bodies[-1])} events queued for {part} callbacks"
            log(f"  {part / wall:.0f} callbacks/s, p99 {pct(m['latencies'], 0.99)} ms; {part} events queued")
            return pct(m["latencies"], 0.99)
        return one

    floor_p99s, p99s = interleaved(floor, [path(r) for r in range(1, args.runs + 1)])
    out = {"benchmark": "inbound", "callbacks": part * args.runs, "groups": args.groups, "wecom_groups": wecom,
           "members": burst.MEMBERS, "clients": args.clients, "runs": args.runs}
    m = merged([x for x, _ in parts])
    raw = merged([x for x, _ in floors])
    out["callbacks_phase"] = {"callbacks_per_s": [round(part / w, 1) for _, w in parts], **latency(m["latencies"]),
                              "p99_ms_by_part": p99s, "statuses": dict(m["statuses"]),
                              # where a callback's time goes: CPU per callback of each process during the parts
                              "cpu_ms_per_callback": {k: round(v / (part * args.runs) * 1000, 3)
                                                      for k, v in sorted(cpu.items())}}
    out["bare"] = {"requests_per_sample": args.raw, "requests_per_s": [round(args.raw / w, 1) for _, w in floors],
                   **latency(raw["latencies"]), "p99_ms_by_sample": floor_p99s,
                   # the same processes' CPU per request during the floor samples, to set against the callbacks'
                   "cpu_ms_per_request": {k: round(v / (args.raw * len(floors)) * 1000, 3)
                                          for k, v in sorted(bare_cpu.items())}}
    p99 = ratios(floor_p99s, p99s)
    out["ratio_p99_to_bare_p99"] = asdict(p99)
    checks = [Check.of_ratio("inbound", "callback answer p99", spread(p99s).median, "ms", spread(floor_p99s).median,
                             p99, Target(at_most=3.0))]
    consumed, more = consume(args, clients, bodies, batch_size)
    out.update(consumed)
    checks += more
    out["cost"] = event_cost(out, sum(inbound_cpu) / (part * args.runs))
    return out, checks


def consume(args, clients, bodies: list[list[str]], batch_size: int) -> tuple[dict, list[Check]]:
    """ProcessGroupEvents over each part's events, between floors of counter updates one by one."""
    keys = [counter_keys(b) for b in bodies]
    runs: list[tuple[dict, float, int]] = []
    floor_runs: list[tuple[dict, float]] = []

    def floor(k: int) -> float:
        sample = keys[min(k, len(keys) - 1)]
        n = len(sample)
        log(f"floor {k}: {n} UpdateItem ADD, a message each, by {args.clients} clients ...")
        results, wall = clients.run({"kind": "count", "keys": sample, "tag": f"f{k}"})
        floor_runs.append((merged(results), wall))
        return n / wall

    def path(r: int):
        def one() -> float:
            batches = burst.plan_batches(bodies[r], args.clients, batch_size)
            log(f"{CONSUMER} {r + 1}: {len(bodies[r])} events in {len(batches)} batches by {args.clients} "
                f"environments ...")
            results, wall = clients.run({"kind": "process", "tag": f"run{r}", "batches": deal(batches, args.clients)})
            m = merged(results)
            assert m["failures"] == 0, f"{m['failures']} records came back as batch item failures"
            runs.append((m, wall, len(batches)))
            log(f"  {len(bodies[r]) / wall:.0f} events/s")
            return len(bodies[r]) / wall
        return one

    floors, rates = interleaved(floor, [path(r) for r in range(len(bodies))])
    events = sum(len(b) for b in bodies)
    messages = sum(len(k) for k in keys)
    m = merged([x for x, _, _ in runs])
    batches = sum(n for _, _, n in runs)
    out = {"consumer": {
        "events": events, "message_events": messages, "batches": batches,
        "events_per_batch": round(events / batches, 1), "events_per_s": [round(r, 1) for r in rates],
        "seconds": [round(w, 3) for _, w, _ in runs],
        "write_units_per_event": round(m["write"] / events, 4), "read_units_per_event": round(m["read"] / events, 4),
        "dynamodb_calls_per_batch": {k: round(v / batches, 2) for k, v in sorted(m["calls"].items())},
        "cpu_ms_per_event": round(m["cpu"] / events * 1000, 4)},
        "floor": {"updates_per_sample": len(keys[0]), "updates_per_s": [round(f, 1) for f in floors],
                  "write_units_per_update": round(sum(f["write"] for f, _ in floor_runs)
                                                  / (len(keys[0]) * len(floor_runs)), 3)}}
    ratio = ratios(floors, rates)
    out["ratio_consumer_to_floor"] = asdict(ratio)
    wu = m["write"] / events
    checks = [Check.of_ratio("inbound", f"{CONSUMER} message events a second", spread(rates).median, "/s",
                             spread(floors).median, ratio, Target(at_least=0.5)),
              Check.of_figure("inbound", "write units a message event", wu, "WU", Target(at_most=0.2))]
    return out, checks


def event_cost(out: dict, inbound_cpu: float) -> dict:
    """$ per million message events: a callback each (API request, invocation, its queue send), and its share of
    the poller's receives and deletes and of ProcessGroupEvents' invocations, time and capacity."""
    c = out["consumer"]
    usage = Usage(write_units=c["write_units_per_event"], read_units=c["read_units_per_event"],
                  sqs_requests=1 + 2 / 10, api_requests=1.0)
    usage.add_lambda(INBOUND, inbound_cpu, memory_mb(INBOUND), 1.0)
    usage.add_lambda(CONSUMER, c["cpu_ms_per_event"] / 1000, memory_mb(CONSUMER), 1 / c["events_per_batch"])
    return cost(usage)


if __name__ == "__main__":
    main()
