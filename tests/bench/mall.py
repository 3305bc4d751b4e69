"""Benchmark: points-mall redemptions at 16 concurrent clients against raw TransactWriteItems, and a hot reward.

    .venv/bin/python tests/bench/mall.py [--clients 16] [--redemptions N] [--raw N] [--hot N] [--shards K]

One DynamoDB Local of its own; each client is a process of its own, as each concurrent Lambda invocation is
an execution environment of its own. (Threads cannot share a handler: Powertools keeps the current event on
its router class, process-wide, so two threads of one process answer with each other's request bodies;
Lambda never hands one environment two events at once.) The main process sets the data up, releases all
clients at once per phase and checks the outcome.

* catalogue: each client calls `mall_api.lambda_handler` in-process with signed API Gateway HTTP API v2
  events (POST /v1/mall/redemptions), for members of its own, from a reward of its own, so what is measured
  is the redemption path and not a fight over one item. Each reward has a per-member limit (never
  reached), so every redemption counts against it: the member staged (its limit and lot held in it, its spend
  entry kept in it), then the order and the stock shard claimed in one transaction.
  Latency is the handler call, from event to response (the event is built and signed before the clock
  starts).
* raw: the same clients send TransactWriteItems of conditional Puts through a client built like the ledger's
  (pynamodb Connection: same timeouts, retries and pool) and metered as the path's clients are (each call asks for
  its ConsumedCapacity; the path's requests are sized once its clock stops), with exactly as many items per
  transaction as the warm-up's redemptions sent (recorded by a botocore hook on the real path, replayed) at their
  average request bytes per item.
* hot: every client redeems one reward whose stock is 1 item, then (another tenant) --shards items; lost
  races (Contention raised by PointsLedger.commit, which the service re-plans) are counted with
  DynamoDB's cancellation reasons.

Catalogue runs and raw floors alternate (floor, run, floor, run, floor; --runs runs), the floor's transactions
shaped by the warm-up's. Targets (the median of each run's ratios to the floors either side of it): p99 within
3x the floor's p99, throughput at least 0.5 of the floor's, at most $5 per million redemptions. The report gives
those, DynamoDB capacity per redemption (as DynamoDB Local reports it, and the AWS
estimate of 2 write units per transaction item per started KB, with the index entries its items make, counted
from the points table's stream on redemptions made once nothing more is timed: index_writes.py) and the client
processes' CPU time per redemption (the Lambda time of a unit of work).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime

from common import (
    ROOT,
    STACK,
    CapacityMeter,
    cost,
    local_env,
    memory_mb,
    pynamodb_client,
    report,
    request_bytes,
    tx_write_units,
)
from harness import Check, Target, Usage, interleaved, ratios, scaled, spread
from index_writes import for_table
from names import MALL_FUNCTION, PAGES_FUNCTION
from pages import Pager

sys.path.insert(0, str(ROOT / "tests"))

PATH = "/v1/mall/redemptions"
POINTS = 10_000_000  # each member's grant: never the limit of a run


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) in milliseconds."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] * 1000, 2)


def latency(values: list[float]) -> dict:
    return {"p50_ms": pct(values, 0.50), "p99_ms": pct(values, 0.99), "max_ms": round(max(values) * 1000, 2),
            "mean_ms": round(sum(values) / len(values) * 1000, 2)}


def member_of(client: int, k: int, clients: int, members: int) -> str:
    return f"m{client:02d}-{(k // clients) % members:03d}"


def write_units(m: dict, done: int, tx_index_per_redemption: float, pages: dict) -> float:
    """AWS write units a redemption: its single writes as DynamoDB Local reports them (with their index entries),
    the AWS estimate of its transactions' items (DynamoDB Local reports a transaction per table, not per item),
    the index entries those items make and the pages its spend entry makes (PageEarnings), both counted untimed
    (index_writes.py, pages.py)."""
    return ((m["write"] - m["tx_write"] + m["tx_aws_units"]) / done + tx_index_per_redemption
            + pages["write_units_per_redemption"])


def redemption_cost(m: dict, done: int, tx_index_per_redemption: float, pages: dict) -> dict:
    """$ per million redemptions: an API request and an invocation each, the handler's CPU time (its wall time
    here waits for 2 cores shared by 16 clients and the emulator, which an execution environment does not), its
    write units (`write_units`) and its reads."""
    assert set(m["calls"]) <= {"TransactWriteItems", "GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem",
                               "DeleteItem"}, m["calls"]
    usage = Usage(write_units=write_units(m, done, tx_index_per_redemption, pages), read_units=m["read"] / done,
                  api_requests=1.0)
    usage.add_lambda(MALL_FUNCTION, m["cpu"] / done, memory_mb(MALL_FUNCTION), 1.0)
    usage.add_lambda(PAGES_FUNCTION, pages["cpu_seconds"] / pages["redemptions"], memory_mb(PAGES_FUNCTION),
                     pages["batches"] / pages["redemptions"])
    return cost(usage)


# ---- one client: a Lambda execution environment of its own ------------------------------------------

class _Environment:
    """What a client process holds across phases: the handler module, its meters, a raw client."""

    def __init__(self) -> None:
        import mall_api
        from pynamodb.connection import Connection
        from qunyun.adapters.points_ledger import Contention
        from qunyun.adapters.points_tables import (
            EntryItem,
            GuardItem,
            LotItem,
            MallOrderItem,
            MemberItem,
            RewardItem,
            StockItem,
            _PointsMeta,
        )
        from qunyun.adapters.tables import TenantItem
        from support import FakeContext, signed_event

        self.handler, self.signed_event, self.context = mall_api.lambda_handler, signed_event, FakeContext()
        ledger_client = mall_api.default_deps().ledger._connection.client
        self.clients = list({id(c): c for c in [ledger_client] + [pynamodb_client(m) for m in (
            MallOrderItem, MemberItem, LotItem, EntryItem, GuardItem, RewardItem, StockItem, TenantItem)]}.values())
        self.meter = CapacityMeter()
        for c in self.clients:
            self.meter.attach(c)
        self.tx_items: list[int] = []
        self.tx_bytes = self.tx_aws_units = self.tx_foreign = self.single_bytes = 0
        self.shape: list[int] = []  # the writes of the redemption under way: a transaction's items, 0 a single write
        self.requests: list[tuple[str, object]] = []
        for c in self.clients:
            c.meta.events.register("provide-client-params.dynamodb.TransactWriteItems",
                                   lambda params, ours=c is ledger_client, **_: self._tx(params, ours))
            for op in ("PutItem", "UpdateItem", "DeleteItem"):
                c.meta.events.register(f"provide-client-params.dynamodb.{op}", self._single)
        self.lost, self.committed, self.reasons = 0, 0, Counter()
        real = mall_api.default_deps().ledger.commit

        def commit(plan, now):  # counts the races a commit loses (the service re-plans them)
            try:
                real(plan, now)
            except Contention as lost:
                self.lost += 1
                self.reasons.update(r for r in lost.reasons if r)
                raise
            self.committed += 1

        mall_api.default_deps().ledger.commit = commit
        self.raw = Connection(region=_PointsMeta.region, host=_PointsMeta.host,
                              max_retry_attempts=_PointsMeta.max_retry_attempts).client
        self.raw_meter = CapacityMeter().attach(self.raw)  # asks what the path's calls ask, and parses it

    def _tx(self, params: dict, ours: bool) -> None:
        items = list(params.get("TransactItems") or [])
        self.tx_items.append(len(items))
        self.shape.append(len(items))
        self.requests.append(("tx", items))  # sized once the clock stops (`_size`), as the floor's are not
        self.tx_foreign += 0 if ours else 1

    def _single(self, params: dict, **_) -> None:
        self.shape.append(0)
        self.requests.append(("single", dict(params)))

    def _size(self) -> None:
        """The bytes and AWS units of the requests recorded while timed, out of the time (a member item keeps its
        entries as binary, which `request_bytes` sizes by length)."""
        for kind, request in self.requests:
            if kind == "tx":
                self.tx_bytes += sum(request_bytes(i) for i in request)
                self.tx_aws_units += tx_write_units(request)
            else:
                self.single_bytes += request_bytes(request)
        self.requests = []

    def reset(self) -> None:
        self.meter.reset()
        self.tx_items, self.tx_bytes, self.tx_aws_units, self.tx_foreign, self.single_bytes = [], 0, 0, 0, 0
        self.requests = []
        self.lost, self.committed, self.reasons = 0, 0, Counter()

    def redeem(self, cmd: dict, index: int, barrier) -> dict:
        events = []
        for k in range(index, cmd["n"], cmd["clients"]):
            body = json.dumps({"request_id": f"{cmd['tag']}-{k}", "reward_id": cmd["reward"] or f"r{index:02d}",
                               "member_id": member_of(index, k, cmd["clients"], cmd["members"]), "quantity": 1},
                              separators=(",", ":")).encode()
            events.append(body)
        latencies, statuses, shapes = [], Counter(), []
        barrier.wait()
        cpu = time.process_time()
        for body in events:
            event = self.signed_event(cmd["tenant"], cmd["secret"], "POST", PATH, body)
            self.shape = []
            start = time.perf_counter()
            resp = self.handler(event, self.context)
            latencies.append(time.perf_counter() - start)
            shapes.append(self.shape)
            code = json.loads(resp["body"]).get("error", {}).get("code", "") if resp["statusCode"] != 201 else ""
            statuses[f"{resp['statusCode']} {code}".strip()] += 1
        cpu = time.process_time() - cpu
        self._size()
        return {"latencies": latencies, "statuses": statuses, "cpu": cpu,
                "read": self.meter.read, "write": self.meter.write, "calls": self.meter.calls,
                "tx_items": self.tx_items, "tx_bytes": self.tx_bytes, "tx_aws_units": self.tx_aws_units,
                "tx_foreign": self.tx_foreign, "lost": self.lost, "committed": self.committed,
                "reasons": self.reasons, "shapes": shapes, "single_bytes": self.single_bytes,
                "tx_write": self.meter.tx_write, "single_index": sum(self.meter.single_index_writes.values())}

    def raw_writes(self, cmd: dict, index: int, barrier) -> dict:
        """The floor: each redemption's writes replayed in order (`shapes`), a transaction as a TransactWriteItems
        of as many conditional Puts of the path's average bytes a transaction item, a single write as a
        conditional PutItem of its average bytes; a latency is a redemption's writes together."""
        table = f"{STACK}-points"

        def put(key: str, pad: int) -> dict:
            # conditional, as every item of a redemption's writes is (the condition's bytes are padding's)
            return {"TableName": table, "ConditionExpression": "attribute_not_exists(pk)",
                    "Item": {"pk": {"S": key}, "sk": {"S": "#RAW"}, "data": {"S": "x" * pad}}}

        empty = len(json.dumps(put(f"raw#{cmd['tag']}#00#000000#00", 0), separators=(",", ":")))
        pad = max(int(round(cmd["item_bytes"])) - empty - len('{"Put":}'), 1)
        one_pad = max(int(round(cmd["single_bytes"])) - empty, 1)
        shapes = cmd["shapes"]
        work = []
        for j in range(index, cmd["n"], cmd["clients"]):
            writes = []
            for w, items in enumerate(shapes[j % len(shapes)]):
                key = f"raw#{cmd['tag']}#{index:02d}#{j:06d}#{w:02d}"
                writes.append([{"Put": put(f"{key}#{x:02d}", pad)} for x in range(items)] if items
                              else put(key, one_pad))
            work.append(writes)
        latencies = []
        self.raw_meter.reset()
        barrier.wait()
        cpu = time.process_time()
        for writes in work:
            start = time.perf_counter()
            for write in writes:
                if isinstance(write, list):
                    self.raw.transact_write_items(TransactItems=write)
                else:
                    self.raw.put_item(**write)
            latencies.append(time.perf_counter() - start)
        return {"latencies": latencies, "cpu": time.process_time() - cpu, "write": self.raw_meter.write}


def client_process(index: int, inbox, outbox, barrier) -> None:
    sys.stdout = sys.stderr  # the handler prints its CloudWatch EMF metrics; stdout's last line is the report
    env = _Environment()
    outbox.put(("ready", index))
    while (cmd := inbox.get())["kind"] != "stop":
        env.reset()
        try:
            result = env.redeem(cmd, index, barrier) if cmd["kind"] == "redeem" else env.raw_writes(
                cmd, index, barrier)
        except BaseException as err:  # reported to the main process, which fails the run
            barrier.abort()
            result = {"error": f"client {index}: {type(err).__name__}: {err}"}
        outbox.put(result)


class Clients:
    """The client processes, released together by a barrier for each phase."""

    def __init__(self, n: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.n, self.barrier, self.outbox = n, ctx.Barrier(n + 1), ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(n)]
        self.procs = [ctx.Process(target=client_process, args=(i, self.inboxes[i], self.outbox, self.barrier),
                                  daemon=True) for i in range(n)]
        for p in self.procs:
            p.start()
        ready = [self.outbox.get(timeout=120) for _ in range(n)]
        assert sorted(i for _, i in ready) == list(range(n)), ready

    def run(self, cmd: dict) -> tuple[list[dict], float]:
        """Sends cmd to every client, releases them together; returns (their results, wall seconds)."""
        for q in self.inboxes:
            q.put({**cmd, "clients": self.n})
        self.barrier.wait(timeout=300)
        start = time.perf_counter()
        results = [self.outbox.get(timeout=1800) for _ in range(self.n)]
        wall = time.perf_counter() - start
        errors = [r["error"] for r in results if "error" in r]
        assert not errors, errors
        return results, wall

    def stop(self) -> None:
        for q in self.inboxes:
            q.put({"kind": "stop"})
        for p in self.procs:
            p.join(timeout=30)


def merged(results: list[dict]) -> dict:
    out = {"latencies": [x for r in results for x in r["latencies"]], "cpu": sum(r["cpu"] for r in results),
           "write": sum(r["write"] for r in results)}
    if "statuses" in results[0]:
        out["statuses"] = sum((r["statuses"] for r in results), Counter())
        out["reasons"] = sum((r["reasons"] for r in results), Counter())
        out["calls"] = sum((Counter(r["calls"]) for r in results), Counter())
        out["tx_items"] = [x for r in results for x in r["tx_items"]]
        out["shapes"] = [x for r in results for x in r["shapes"]]
        for key in ("read", "tx_bytes", "tx_aws_units", "tx_foreign", "lost", "committed", "single_bytes",
                    "tx_write", "single_index"):
            out[key] = sum(r[key] for r in results)
    return out


# ---- the run --------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (processes) in every phase")
    parser.add_argument("--redemptions", type=int, default=scaled(1500, least=100),
                        help="catalogue redemptions in each measured run")
    parser.add_argument("--runs", type=int, default=2, help="measured catalogue runs, each between two floors")
    parser.add_argument("--raw", type=int, default=0, help="raw transactions a floor sample (0: as --redemptions)")
    parser.add_argument("--hot", type=int, default=scaled(1500, least=100),
                        help="redemptions of the hot reward, in each layout")
    parser.add_argument("--shards", type=int, default=8, help="stock items of the sharded hot reward (2-32)")
    parser.add_argument("--members", type=int, default=8, help="members per client")
    parser.add_argument("--warm", type=int, default=400, help="warm-up redemptions (sequential, then concurrent)")
    args = parser.parse_args()
    assert args.clients >= 1 and args.redemptions >= 1 and args.hot >= 1 and 2 <= args.shards <= 32
    began = time.perf_counter()
    sys.stdout, stdout = sys.stderr, sys.stdout

    from qunyun_ops.local.dynamodb import DynamoDBLocal, free_port

    port = free_port()
    local_env(port)  # in os.environ, which the client processes inherit

    from qunyun.adapters.points_ledger import PointsLedger
    from qunyun.adapters.secrets import secret_store
    from qunyun.adapters.tables import TenantItem
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.domain.mall import RedemptionRequest, Reward
    from qunyun.services.adjust import adjust
    from qunyun.services.mall import add_rewards, redeem
    from qunyun.services.tenants import create_tenant
    from qunyun_ops.local.stack import ddb_client
    from qunyun_ops.local.tables import create_tables
    from qunyun_ops.local.template import Template
    from qunyun_ops.paths import TEMPLATE

    now = datetime.now(UTC)
    ledger = PointsLedger()  # the operator's: rewards, grants and the checks
    tenants, secrets = TenantRepository(), secret_store()

    def make(tenant_id: str, threshold: int, rewards: list[Reward]) -> str:
        """A tenant with these rewards and points for every client's members; returns its secret."""
        _, secret = create_tenant(tenant_id, tenant_id, None, tenants=tenants, secrets=secrets)
        item = TenantItem.get(tenant_id)
        item.update(actions=[TenantItem.policy.set({**item.policy.as_dict(), "stock_shard_threshold": threshold})])
        tenant = tenants.get(tenant_id)
        add_rewards(tenant, rewards, ledger=ledger, now=now)
        for c in range(args.clients):
            for m in range(args.members):
                adjust(tenant, f"m{c:02d}-{m:03d}", POINTS, "bench grant", ledger=ledger, now=now)
        return secret

    def catalogue() -> list[Reward]:
        return [Reward(id=f"r{c:02d}", name=f"Reward {c}", cost=10, stock=1_000_000, limit_per_member=1_000_000)
                for c in range(args.clients)]

    def units_left(tenant_id: str, reward_ids: list[str]) -> int:
        return sum(sum(ledger.stock(tenant_id, r, int(ledger.reward(tenant_id, r).shards)).values())
                   for r in reward_ids)

    def redemptions(tenant_id: str, secret: str, reward: str | None, n: int, tag: str) -> tuple[dict, float]:
        results, wall = clients.run({"kind": "redeem", "tenant": tenant_id, "secret": secret, "reward": reward,
                                     "n": n, "members": args.members, "tag": tag})
        m = merged(results)
        assert m["statuses"] == {"201": n}, f"{tag}: every redemption should be placed: {dict(m['statuses'])}"
        assert m["tx_foreign"] == 0, f"{tag}: a transaction went through a client the probe does not count"
        return m, wall

    def races(m: dict) -> dict:
        return {"lost_races": m["lost"], "transactions_committed": m["committed"],
                "lost_race_reasons": dict(sorted(m["reasons"].items()))}

    with DynamoDBLocal(port, log=log) as server:
        create_tables(ddb_client(server.endpoint), Template.read(TEMPLATE), STACK, streams=False)

        # ---- warm-up: the emulator's JIT sequentially, then every client's connections ----------------
        log(f"warm-up: {args.warm} redemptions on tenant bench-warm, {args.clients} client processes ...")
        warm_secret = make("bench-warm", 1_000_000, catalogue())
        warm_tenant = tenants.get("bench-warm")
        for k in range(max(args.warm // 2, 1)):
            req = RedemptionRequest(request_id=f"ws-{k}", member_id=f"m{k % args.clients:02d}-000",
                                    reward_id=f"r{k % args.clients:02d}", quantity=1)
            assert redeem(warm_tenant, req, ledger=ledger, now=datetime.now(UTC)).status == 201
        clients = Clients(args.clients)
        try:
            warm_m, _ = redemptions("bench-warm", warm_secret, None, max(args.warm, args.clients), "wc")
            # The floor's writes take the warm-up's shape (each redemption's writes in order, bytes per
            # transaction item and per single write), so a floor sample can be taken before the first measured run.
            shapes, counts = warm_m["shapes"], warm_m["tx_items"]
            singles = sum(shape.count(0) for shape in shapes)
            shaped = {"shapes": shapes, "item_bytes": warm_m["tx_bytes"] / max(sum(counts), 1),
                      "single_bytes": warm_m["single_bytes"] / max(singles, 1)}
            clients.run({"kind": "raw", **shaped, "n": 10 * args.clients, "tag": "warm"})

            # ---- catalogue (measured), between floor samples -----------------------------------------------
            n, raw_n = args.redemptions, args.raw or args.redemptions
            floors, paths = [], []

            def floor(k: int) -> float:
                log(f"floor {k}: {raw_n} redemptions' writes ({len(counts) / len(shapes):.2f} TransactWriteItems "
                    f"of {sum(counts) / max(len(counts), 1):.2f} Puts and {singles / len(shapes):.2f} PutItem "
                    f"each) by {args.clients} clients ...")
                results, wall = clients.run({"kind": "raw", **shaped, "n": raw_n, "tag": f"raw{k}"})
                floors.append((merged(results), wall))
                return raw_n / wall

            def catalogue_run(k: int):
                def run() -> float:
                    log(f"catalogue {k}: {n} redemptions by {args.clients} clients, a reward each ...")
                    secret = make(f"bench-{k}", 1_000_000, catalogue())
                    m, wall = redemptions(f"bench-{k}", secret, None, n, f"cat{k}")
                    left = units_left(f"bench-{k}", [f"r{c:02d}" for c in range(args.clients)])
                    assert left == 1_000_000 * args.clients - n, f"catalogue: {left} units left after {n} redemptions"
                    paths.append((m, wall))
                    return n / wall
                return run

            floor_rates, rates = interleaved(floor, [catalogue_run(k) for k in range(1, args.runs + 1)])
            m = merged([x for x, _ in paths])  # wall-less figures of every run together
            done = n * args.runs
            wall = sum(w for _, w in paths)
            real_counts = m["tx_items"]
            out: dict = {"benchmark": "mall", "clients": args.clients, "client": "process",
                         "members_per_client": args.members, "redemptions": n, "runs": args.runs}
            out["redeem"] = {
                "seconds": round(wall, 3), "redemptions_per_s": [round(r, 1) for r in rates],
                **latency(m["latencies"]),
                "transactions": len(real_counts), "items_per_transaction": dict(sorted(Counter(real_counts).items())),
                "bytes_per_transaction_item": round(m["tx_bytes"] / max(sum(real_counts), 1), 1),
                "single_writes_per_redemption": round(sum(s.count(0) for s in m["shapes"]) / done, 3),
                "bytes_per_single_write": round(m["single_bytes"] / max(sum(s.count(0) for s in m["shapes"]), 1), 1),
                "write_units_per_redemption": round(m["write"] / done, 3),
                "read_units_per_redemption": round(m["read"] / done, 3),
                "aws_estimate_tx_write_units_per_redemption": round(m["tx_aws_units"] / done, 3),
                "dynamodb_calls_per_redemption": {k: round(v / done, 3) for k, v in sorted(m["calls"].items())},
                "client_cpu_ms_per_redemption": round(m["cpu"] / done * 1000, 3), **races(m),
            }
            raw = merged([x for x, _ in floors])
            out["raw"] = {"redemptions_per_sample": raw_n, "per_s": [round(r, 1) for r in floor_rates],
                          **latency(raw["latencies"]),
                          "transactions_per_redemption": round(len(counts) / len(shapes), 3),
                          "items_per_transaction": round(sum(counts) / max(len(counts), 1), 3),
                          "single_writes_per_redemption": round(singles / len(shapes), 3),
                          "bytes_per_transaction_item": round(shaped["item_bytes"], 1),
                          "bytes_per_single_write": round(shaped["single_bytes"], 1),
                          "write_units_per_redemption": round(raw["write"] / (raw_n * len(floors)), 3),
                          "client_cpu_ms_per_redemption": round(raw["cpu"] / (raw_n * len(floors)) * 1000, 3)}
            p99s = [pct(x["latencies"], 0.99) for x, _ in paths]
            floor_p99s = [pct(x["latencies"], 0.99) for x, _ in floors]
            throughput, p99 = ratios(floor_rates, rates), ratios(floor_p99s, p99s)
            out["ratio_throughput_to_raw"], out["ratio_p99_to_raw_p99"] = asdict(throughput), asdict(p99)
            checks = [
                Check.of_ratio("mall", "redemptions a second", spread(rates).median, "/s", spread(floor_rates).median,
                               throughput, Target(at_least=0.5)),
                Check.of_ratio("mall", "redemption p99", spread(p99s).median, "ms", spread(floor_p99s).median, p99,
                               Target(at_most=3.0))]
            catalogue_m = m

            # ---- the hot reward: 1 stock item, then K ------------------------------------------------------
            hot: dict = {}
            stock = 100_000 * args.shards
            for shards, threshold in ((1, stock), (args.shards, -(-stock // args.shards))):
                name = f"hot{shards}"
                log(f"{name}: {args.hot} redemptions of one reward by {args.clients} clients, stock in "
                    f"{shards} item(s) ...")
                flash = Reward(id="hot", name="Flash sale", cost=10, stock=stock, limit_per_member=1_000_000)
                secret = make(f"bench-{name}", threshold, [flash])
                assert int(ledger.reward(f"bench-{name}", "hot").shards) == shards
                m, wall = redemptions(f"bench-{name}", secret, "hot", args.hot, name)
                left = units_left(f"bench-{name}", ["hot"])
                assert left == stock - args.hot, f"{name}: stock {left}, expected {stock - args.hot}"
                hot[name] = {"stock_items": shards, "seconds": round(wall, 3),
                             "redemptions_per_s": round(args.hot / wall, 1), **latency(m["latencies"]), **races(m),
                             "lost_races_per_redemption": round(m["lost"] / args.hot, 4),
                             "client_cpu_ms_per_redemption": round(m["cpu"] / args.hot * 1000, 3)}
            out["hot"] = hot
            out["hot_sharded_throughput_ratio"] = round(hot[f"hot{args.shards}"]["redemptions_per_s"]
                                                        / hot["hot1"]["redemptions_per_s"], 3)

            # ---- a redemption's index entries, counted once nothing more is timed ----------------------------
            # The points table's stream is turned on only now (index_writes.py): kept while timing, it slows the
            # floors' plain writes more than the paths and flatters their ratios.
            count_n = max(args.warm, args.clients)
            log(f"index entries: {count_n} redemptions on tenant bench-count, with the stream on ...")
            index_meter = for_table(ddb_client(server.endpoint), STACK, "points")
            pager = Pager(ddb_client(server.endpoint), index_meter.arn)  # the spend entries' pages
            count_secret = make("bench-count", 1_000_000, catalogue())
            index_meter.take()  # the tenant's rewards and grants are not its redemptions
            pager.run()
            count_m, _ = redemptions("bench-count", count_secret, None, count_n, "cn")
            index_units = index_meter.take()
            paged = pager.run()
            pager.close()
            index_meter.stop()
            pages = {**paged, "redemptions": count_n,
                     "write_units_per_redemption": round(paged["write_units"] / count_n, 3)}
            out["redeem"]["pages"] = pages
            # The single writes' index entries are in what DynamoDB Local reported for them; the rest are the
            # transactions' items'.
            tx_index = (sum(index_units.values()) - count_m["single_index"]) / count_n
            out["redeem"]["index_write_units_per_redemption"] = {
                k: round(v / count_n, 3) for k, v in sorted(index_units.items())}
            out["redeem"]["index_write_units_of_single_writes_reported"] = round(count_m["single_index"] / count_n, 3)
            out["redeem"]["index_counted_on"] = f"{count_n} concurrent redemptions once the timed runs were over"
            out["redeem"]["aws_write_units_per_redemption"] = round(write_units(catalogue_m, done, tx_index, pages), 3)
            out["cost"] = redemption_cost(catalogue_m, done, tx_index, pages)
            checks.append(Check.of_figure("mall", "$ per million redemptions", out["cost"]["usd_per_million"]["total"],
                                          "USD", Target(at_most=5.0)))
        finally:
            clients.stop()

    out["cpu_count"] = os.cpu_count()
    out["total_seconds"] = round(time.perf_counter() - began, 1)
    out["notes"] = ("latency = one in-process handler call (signature check, validation, reads, one "
                    "TransactWriteItems) in a client process; raw = TransactWriteItems of conditional Puts with "
                    "the same item count and bytes through a client with the ledger's settings, from the same "
                    "processes; clients and DynamoDB Local share this machine's cores. DynamoDB Local neither "
                    "throttles a hot partition (1,000 WCU/s on AWS) nor, as observed, cancels concurrent "
                    "transactions on one item with TransactionConflict (it serialises them), so the hot runs show "
                    "what sharding costs locally, not what it saves on AWS; it does not report per-item "
                    "transaction capacity either, hence the AWS estimate")
    sys.stdout = stdout
    report(out, checks)


if __name__ == "__main__":
    main()
