"""Benchmark: ingest N points events (default 20,000) by the handler, settle 20,000 pending, expire 20,000 lots.

    .venv/bin/python tests/bench/points.py [--events N] [--settle N] [--raw N]

Everything runs in this process against one DynamoDB Local of its own:

* ingest: signed API Gateway HTTP API v2 events, batches of 100 `{"events": [...]}` POSTed to
  /v1/points/events through `points_api.lambda_handler`; half check-ins (members checking in on
  consecutive program-days of the last week), half purchases (a new member and order each, occurred
  7 days ago minus two hours). When --settle asks for more pending purchases than the ingest holds, the
  missing purchases are sent first, through the same handler, and are not counted in the ingest figures.
* settle: `settle_points.process` at a scheduled time one second after every purchase's return window
  ended, which releases the --settle pending entries; each purchase member gets one lot.
* expire: `settle_points.process` one second after those lots expire, which expires the --settle lots.
  The tenant's rules: rolling 60-day expiry, a 5-day return window, caps of 1,000,000. The short
  window makes every purchase lot available on an earlier local day than any check-in lot is made,
  so every purchase lot expires before any check-in lot and the expire run meets exactly those.
  Each run's leaderboards are built by a quiet run just before it (nothing due yet), timed apart, so
  the settle and expire figures are the ledger work only.
* the floor: boto3 TransactWriteItems of conditional Puts with the same number of items per transaction as the warm-up's
  same phase sent (its recorded sequence of counts, replayed), of the same average request bytes per
  item, into the same table; --raw writes per sample (for the jobs, whose transactions carry many pieces
  each, as many transactions as carry --raw pieces), sequential as the real path is; taken before,
  between and after the measured runs (the ingest is measured in --runs parts, each with members of its own;
  settle and expire once each, between two floor samples). Targets: each phase at least 0.5 of its floor
  (the median of its ratios), at most $3 per million events (an event's ingest, the settlement of the
  purchases among them and the expiry of every event's lot, at the prices of prices.py).

DynamoDB Local reports TransactWriteItems capacity per table and index touched, not per item, so
the JSON also gives an AWS estimate: 2 write units per transaction item per started KB of request, and the
index entries those items make, counted from the points table's stream on the same work (--warm events, their
settlement and expiry) once nothing more is timed (index_writes.py).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from common import ROOT, STACK, CapacityMeter, Probe, cost, local_env, memory_mb, pynamodb_client, report
from harness import Check, Target, Usage, interleaved, ratios, scaled, spread
from index_writes import for_table
from names import PAGES_FUNCTION, POINTS_FUNCTION, SETTLE_FUNCTION
from pages import Pager, page_due_lots, page_members

sys.path.insert(0, str(ROOT / "tests"))

MARGIN = timedelta(hours=2)  # purchases occur 7 days minus this ago: the ingest must finish within it
WINDOW_DAYS = 5  # windows end on an earlier local day than any check-in is made: see the docstring
RULE_DAYS = 60  # lots expire 60 days after they become available
CAPS = 1_000_000
BATCH = 100
PATH = "/v1/points/events"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def counted(index: Counter, probe: Probe, units: int) -> dict:
    """An untimed phase's index entries as the points table's stream shows them (index_writes.py), against the
    single writes' part that DynamoDB Local reports; what is left is its transactions' part."""
    streamed, reported = sum(index.values()), probe.single_index_writes.get(f"{STACK}-points", 0.0)
    return {"units_of_work": units, "by_index_per_unit": {k: round(v / units, 3) for k, v in sorted(index.items())},
            "reported_for_single_writes_per_unit": round(reported / units, 3),
            "tx_index_write_units_per_unit": round((streamed - reported) / units, 3)}


def count_index_entries(out: dict, client, clients: list, exercise) -> None:
    """Adds to each phase's figures its transactions' index entries, counted on the same work (`exercise`) with
    the points table's stream on. The stream is turned on only now (index_writes.py): kept while timing, it
    slows the floors' plain writes more than the paths and flatters their ratios."""
    index_meter, probe = for_table(client, STACK, "points"), Probe().attach_all(clients)
    pager = Pager(client, index_meter.arn)  # PageEarnings on the same stream: the pages each phase's entries make
    counts = {}

    def count(name: str, units: int) -> None:
        index = index_meter.take()
        counts[name] = counted(index, probe, units)
        paged = pager.run()
        counts[name]["pages"] = {**paged, "write_units_per_unit": round(paged["write_units"] / units, 3)}
        index_meter.take()  # the pages' own records: no index entry
        probe.reset()

    # the measured runs were 1 s late; the pager's pass after each phase writes the due pages the next job reads
    exercise("bench-count", probe, count, expire_checkins=False, late=2, before_job=lambda: None)
    probe.detach_all()
    pager.close()
    index_meter.stop()
    for name in ("ingest", "settle", "expire", "extra_purchases"):
        if name in out:
            with_index(out[name], counts["ingest" if name == "extra_purchases" else name])


def with_index(figures: dict, index: dict) -> None:
    """Adds to a phase's figures its transactions' index entries and the pages its entries make (PageEarnings,
    out of the request path), as `counted` on the same work untimed."""
    tx_index = index["tx_index_write_units_per_unit"] if figures["transactions"] else 0.0
    pages = index["pages"]["write_units_per_unit"]
    figures["tx_index_write_units_per_unit"] = tx_index
    figures["pages_write_units_per_unit"] = pages
    figures["index_counted_untimed"] = index
    figures["aws_write_units_per_unit"] = round(figures["aws_write_units_per_unit"] + tx_index + pages, 3)


def snapshot(probe: Probe, units: int) -> dict:
    """The phase's figures per unit of work (`with_index` adds its transactions' index entries)."""
    n = len(probe.tx_sizes)
    return {
        "write_units_per_unit": round(probe.write / units, 3) if units else None,
        "read_units_per_unit": round(probe.read / units, 3) if units else None,
        "aws_estimate_tx_write_units_per_unit": round(probe.tx_aws_units / units, 3) if units else None,
        # what AWS bills: DynamoDB Local's units for every call but transactions and the estimate for those
        # (with_index adds the transactions' index entries)
        "aws_write_units_per_unit": round((probe.write - probe.units.get("TransactWriteItems", 0.0)
                                           + probe.tx_aws_units) / units, 3) if units else None,
        "transactions": n,
        "items_per_transaction": round(sum(probe.tx_sizes) / n, 3) if n else None,
        "bytes_per_transaction_item": round(probe.tx_item_bytes / sum(probe.tx_sizes), 1) if n else None,
        "dynamodb_calls": dict(sorted(probe.calls.items())),
        "dynamodb_calls_by_table": dict(sorted(probe.by_table.items())),
        "dynamodb_seconds_by_operation": {k: round(v, 3) for k, v in sorted(probe.seconds.items())},
    }


def shape(probe: Probe) -> tuple[list[int | None], float, float, float]:
    """Every write in order (a transaction's items, 0 for a single write, -n for a BatchWriteItem of n puts, None
    for a run's bookkeeping), the average request bytes of a transaction item, of a single write and of a batch's
    put, since the last reset; resets."""
    singles = probe.write_shape.count(0)
    counts = list(probe.write_shape)
    item_bytes = probe.tx_item_bytes / max(sum(probe.tx_sizes), 1)
    single_bytes = probe.single_bytes / max(singles, 1)
    put_bytes = probe.batch_bytes / max(probe.batch_puts, 1)
    probe.reset()
    return counts, item_bytes, single_bytes, put_bytes


def event_cost(out: dict, events: int, purchases: int) -> dict:
    """$ per million events over an event's life: its ingest (one API request of 100), the settlement of the
    purchases among them, and the expiry of the lot every event makes, each as measured per unit. Lambda is
    billed the handlers' CPU time: their wall time here also waits for the emulator on the same 2 cores."""
    settle, expire = out["settle"], out["expire"]
    share = purchases / events  # the events that are purchases: half
    usage = Usage(write_units=out["ingest"]["aws_write_units_per_unit"] + share * settle["aws_write_units_per_unit"]
                  + expire["aws_write_units_per_unit"],
                  read_units=out["ingest"]["read_units_per_unit"] + share * settle["read_units_per_unit"]
                  + expire["read_units_per_unit"], api_requests=1 / BATCH)
    usage.add_lambda(POINTS_FUNCTION, out["ingest"]["cpu_seconds"] / events, memory_mb(POINTS_FUNCTION), 1 / BATCH)
    usage.add_lambda(SETTLE_FUNCTION, share * settle["summary"]["cpu_seconds"] / settle["settled"]
                     + expire["summary"]["cpu_seconds"] / expire["lots_expired"], memory_mb(SETTLE_FUNCTION), 0.0)
    paged = out["ingest"]["index_counted_untimed"]["pages"]  # PageEarnings on the ingest's entries, untimed
    units = out["ingest"]["index_counted_untimed"]["units_of_work"]
    usage.add_lambda(PAGES_FUNCTION, paged["cpu_seconds"] / units, memory_mb(PAGES_FUNCTION), paged["batches"] / units)
    return cost(usage)


# ---- the events ------------------------------------------------------------------------------------

def checkin(k: int, members: int, t0: datetime, prefix: str = "c") -> dict:
    """The k-th check-in: members take turns, each day of the last six in order, so streaks grow. Each ingest
    run has members of its own (`prefix`)."""
    member, day = k % members, k // members  # day 0 .. 5: six days ago .. yesterday
    assert day < 6, "members * 6 must cover every check-in"
    occurred = t0 - timedelta(days=6 - day) + timedelta(seconds=member % 3600)  # a member's own time of day
    return {"event_id": f"{prefix}i-{k}", "type": "checkin", "member_id": f"{prefix}{member:06d}",
            "occurred_at": occurred.isoformat(), "group_id": f"g{k % 50}"}


def purchase(i: int, occurred: datetime) -> dict:
    return {"event_id": f"pu-{i}", "type": "purchase", "member_id": f"p{i:06d}", "order_id": f"o{i:06d}",
            "amount_fen": 12_900 + (i % 7) * 100, "occurred_at": occurred.isoformat(), "group_id": f"g{i % 50}"}


def batches(events: list[dict]):
    for i in range(0, len(events), BATCH):
        yield events[i:i + BATCH]


def mixed(checkins: list[dict], purchases: list[dict]) -> list[dict]:
    """Alternates the two kinds so every batch holds about as many of each."""
    out: list[dict] = []
    for a, b in zip(checkins, purchases, strict=False):
        out += [a, b]
    n = min(len(checkins), len(purchases))
    return out + checkins[n:] + purchases[n:]


class Poster:
    def __init__(self, handler, tenant_id: str, secret: str):
        from support import FakeContext, signed_event

        self.handler, self.tenant_id, self.secret = handler, tenant_id, secret
        self.signed_event, self.context = signed_event, FakeContext()
        self.cpu = 0.0  # the handler's CPU seconds (with the event's signing, a few per cent of it)

    def post(self, events: list[dict]) -> list[dict]:
        body = json.dumps({"events": events}, separators=(",", ":")).encode()
        resp = self.handler(self.signed_event(self.tenant_id, self.secret, "POST", PATH, body), self.context)
        assert resp["statusCode"] == 200, resp
        results = json.loads(resp["body"])["results"]
        assert len(results) == len(events), results
        for event, result in zip(events, results, strict=True):
            assert result["status"] == "applied" and not result.get("reason"), result
            assert (result["granted"] if event["type"] == "checkin" else result["pending"]) > 0, result
        return results

    def post_all(self, events: list[dict], label: str) -> float:
        start, cpu = time.perf_counter(), time.process_time()
        total, done = len(events), 0
        for batch in batches(events):
            self.post(batch)
            done += len(batch)
            if done % 2000 < BATCH or done == total:
                rate = done / (time.perf_counter() - start)
                log(f"  {label}: {done}/{total} events ({rate:.0f}/s)")
        self.cpu += time.process_time() - cpu
        return time.perf_counter() - start


# ---- settlement ------------------------------------------------------------------------------------

def run_settle(process, ledger, tenants, at: datetime) -> tuple[dict, float]:
    from settle_points import Deps

    start, cpu = time.perf_counter(), time.process_time()
    summary = process({"scheduled_time": iso(at)}, None, Deps(ledger=ledger, tenants=tenants))
    return {**summary, "cpu_seconds": time.process_time() - cpu}, time.perf_counter() - start


def quiet_before(at: datetime, earliest_due: datetime, tz: str) -> datetime | None:
    """A moment before anything is due whose leaderboards are the same as `at`'s, if there is one."""
    from qunyun.services.settle import board_day

    quiet = min(at, earliest_due) - timedelta(seconds=1)
    return quiet if board_day(quiet, tz) == board_day(at, tz) else None


def reconciled(tenant_id: str, ledger) -> dict:
    """Every member's balance against its entries and lots, as `qunyun points reconcile` checks it (not timed
    against anything); fails the run on a mismatch."""
    from qunyun.services.adjust import reconcile_tenant

    log("reconcile: every member of the tenant ...")
    started, checked, mismatched = time.perf_counter(), 0, []
    for member_id, problems in reconcile_tenant(tenant_id, ledger=ledger):
        checked += 1
        if problems:
            mismatched.append({member_id: problems})
    out = {"members": checked, "mismatched": len(mismatched), "first": mismatched[:3],
           "seconds": round(time.perf_counter() - started, 1)}
    log(f"  {checked} members, {len(mismatched)} mismatched")
    assert checked and not mismatched, out
    return out


# ---- the floor -------------------------------------------------------------------------------------

def raw_floor(client, counts: list[int], item_bytes: float, n: int, tag: str,
              single_bytes: float = 0.0, put_bytes: float = 0.0) -> tuple[float, int, int]:
    """n sequential writes replayed from `counts`: a TransactWriteItems of that many Puts, (0) one conditional
    PutItem of the single writes' average bytes, or (-k) a BatchWriteItem of k puts of the batches' average bytes,
    as the path wrote them; returns (seconds, writes, items)."""
    table = f"{STACK}-points"

    def put(j: int, pad: int) -> dict:
        # conditional, as every item of the ledger's transactions is (the condition's bytes count in the padding)
        return {"Put": {"TableName": table, "Item": {"pk": {"S": f"raw#{tag}#{j}"}, "sk": {"S": "#RAW"},
                                                     "data": {"S": "x" * pad}},
                        "ConditionExpression": "attribute_not_exists(pk)"}}

    empty = len(json.dumps(put(0, 0), separators=(",", ":")))
    pad = max(int(round(item_bytes)) - empty - 6, 1)  # the key digits grow a little: aim at the average
    one = {"TableName": table, "ConditionExpression": "attribute_not_exists(pk)"}
    one_pad = max(int(round(single_bytes)) - len(json.dumps({**one, "Item": put(0, 0)["Put"]["Item"]})) - 6, 1)
    plan = [counts[i % len(counts)] for i in range(n)]
    j = 0
    start = time.perf_counter()
    batch_pad = max(int(round(put_bytes)) - len(json.dumps({"Item": put(0, 0)["Put"]["Item"]})) - 6, 1)
    for k in plan:
        if k > 0:
            client.transact_write_items(TransactItems=[put(j + x, pad) for x in range(k)])
        elif k < 0:  # unconditional puts, as a BatchWriteItem's are
            requests = [{"PutRequest": {"Item": put(j + x, batch_pad)["Put"]["Item"]}} for x in range(-k)]
            while requests:
                requests = client.batch_write_item(RequestItems={table: requests}).get(
                    "UnprocessedItems", {}).get(table, [])
        else:
            client.put_item(**one, Item=put(j, one_pad)["Put"]["Item"])
        j += max(abs(k), 1)
    return time.perf_counter() - start, len(plan), j


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=scaled(20_000),
                        help="events ingested and measured (half check-ins)")
    parser.add_argument("--runs", type=int, default=2, help="parts the ingest is measured in, between floors")
    parser.add_argument("--settle", type=int, default=scaled(20_000),
                        help="pending purchases settled, then lots expired")
    parser.add_argument("--raw", type=int, default=scaled(3_000),
                        help="writes in each raw floor sample; where one write carries several units of work "
                             "(the jobs' transactions of many pieces), that many units")
    parser.add_argument("--warm", type=int, default=400, help="warm-up events on a tenant of their own")
    args = parser.parse_args()
    assert args.events >= 2 and args.settle >= 1
    began = time.perf_counter()

    from qunyun_ops.local.dynamodb import DynamoDBLocal, free_port

    port = free_port()
    local_env(port)

    import points_api
    import settle_points
    from qunyun.adapters.points_ledger import PointsLedger
    from qunyun.adapters.points_tables import (
        BoardItem,
        DuePageItem,
        EntryItem,
        EventItem,
        GuardItem,
        JobItem,
        LotItem,
        MemberItem,
        OrderItem,
    )
    from qunyun.adapters.secrets import secret_store
    from qunyun.adapters.tables import TenantItem
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.domain.points import expires_at
    from qunyun.domain.rules import ExpiryRule, PurchaseRule, Rules
    from qunyun.services.tenants import create_tenant
    from qunyun_ops.local.stack import ddb_client
    from qunyun_ops.local.tables import create_tables
    from qunyun_ops.local.template import Template
    from qunyun_ops.paths import TEMPLATE

    rules = Rules(daily_caps={"checkin": CAPS, "quiz": CAPS}, purchase=PurchaseRule(return_window_days=WINDOW_DAYS),
                  expiry=ExpiryRule(policy="rolling_days", days=RULE_DAYS))
    # the ingest in --runs parts (each between two floor samples), half check-ins, half purchases each
    sizes = [(r + 1) * args.events // args.runs - r * args.events // args.runs for r in range(args.runs)]
    split = [(n // 2, n - n // 2) for n in sizes]  # (check-ins, purchases) of each part
    n_checkin, n_purchase = sum(c for c, _ in split), sum(p for _, p in split)
    extra = max(args.settle - n_purchase, 0)
    if args.settle < n_purchase:
        log(f"note: --settle {args.settle} < the {n_purchase} purchases ingested; all {n_purchase} are settled")
    total_purchases = n_purchase + extra

    with DynamoDBLocal(port, log=log) as server:
        client = ddb_client(server.endpoint)
        create_tables(client, Template.read(TEMPLATE), STACK, streams=False)
        tenants, secrets = TenantRepository(), secret_store()
        settle_ledger = PointsLedger()
        clients = [points_api.default_deps().ledger._connection.client, settle_ledger._connection.client] + [
            pynamodb_client(m) for m in (MemberItem, EntryItem, LotItem, GuardItem, EventItem, OrderItem, BoardItem,
                                         JobItem, TenantItem, DuePageItem)]
        tx_clients = {id(points_api.default_deps().ledger._connection.client), id(settle_ledger._connection.client)}
        seen_tx: list[str] = []
        for c in clients:  # every TransactWriteItems must go through a client the probe watches
            c.meta.events.register("provide-client-params.dynamodb.TransactWriteItems",
                                   lambda c=c, **_: seen_tx.append("ok" if id(c) in tx_clients else "other"))

        def make(tenant_id: str, name: str) -> tuple[str, str]:
            tenant, secret = create_tenant(tenant_id, name, None, tenants=tenants, secrets=secrets)
            tenants.set_rules(tenant_id, rules)
            return tenant.tenant_id, secret

        def exercise(name: str, probe: Probe, phase, expire_checkins: bool, late: int, before_job) -> None:
            """--warm events (half check-ins, half purchases) on a tenant of their own, their settlement and the
            expiry of their lots (the purchases' only, or the check-ins' too), each phase untimed; `phase(name,
            units)` is called after each, with the probe holding its writes, and `before_job()` before each job
            (the due pages it reads). The jobs run `late` seconds after the work is due: a scheduled time that
            another run already had would answer that run's summary."""
            tid, secret = make(name, name.title())
            tz = tenants.get(tid).timezone
            poster = Poster(points_api.lambda_handler, tid, secret)
            tw = datetime.now(UTC).replace(microsecond=0)
            half = max(args.warm // 2, 1)
            bought = tw - timedelta(days=7) + MARGIN
            events = mixed([checkin(k, math.ceil(half / 6), tw) for k in range(half)],
                           [purchase(i, bought) for i in range(half)])  # event ids are the tenant's own
            probe.reset()
            poster.post_all(events, name)
            phase("ingest", 2 * half)
            settle_at, end = bought + timedelta(days=WINDOW_DAYS), datetime.now(UTC)
            before_job()
            s = run_settle(settle_points.process, settle_ledger, tenants, settle_at + timedelta(seconds=late))[0]
            assert s["settled"] == half, s
            phase("settle", s["settled"])
            lots = (settle_at, end)[:1 + expire_checkins]
            expire_at = max(datetime.fromisoformat(expires_at(t, rules.expiry, tz)) for t in lots)
            before_job()
            s = run_settle(settle_points.process, settle_ledger, tenants, expire_at + timedelta(seconds=late))[0]
            assert s["lots_expired"] >= half, s
            phase("expire", s["lots_expired"])

        # ---- warm-up: the emulator's JIT, the connection pools, every code path once ------------------
        log(f"warm-up: {args.warm} events, settle and expire on tenant bench-warm ...")
        # The warm-up's transactions give the floors their shape (items per transaction, bytes per item) before
        # the first measured run, so a floor can be taken before it.
        shapes, warm_probe = {}, Probe().attach_all(clients)
        def keep_shape(name: str, units: int) -> None:
            shapes[name] = (*shape(warm_probe), units)

        exercise("bench-warm", warm_probe, keep_shape, expire_checkins=True, late=1,
                 before_job=lambda: (page_due_lots(client), warm_probe.reset()))
        warm_probe.detach_all()
        tz = tenants.get("bench-warm").timezone
        raw_meter = CapacityMeter().attach(client)
        raw: dict = {}

        def floor(name: str):
            """The floor of a phase: its warm-up's writes replayed in order, sequential (each transaction as a
            TransactWriteItems of as many Puts, each single write as a conditional PutItem of the same bytes, each
            BatchWriteItem as one of as many puts of their average bytes); its units of work a second (the
            warm-up's events, settlements or expiries per write)."""
            counts, item_bytes, single_bytes, put_bytes, units = shapes[name]
            # the warm-up's settle and expire runs also build leaderboards and write their checkpoints, which the
            # measured runs do in a quiet run apart: their floors replay the ledger's writes only
            counts = [c for c in counts if c is not None]
            per_write = units / len(counts)
            n = args.raw if per_write <= 1 else max(math.ceil(args.raw / per_write), len(counts))

            def sample(k: int) -> float:
                txs, batches = [c for c in counts if c > 0], [-c for c in counts if c < 0]
                log(f"floor {name} {k}: {n} raw writes, {counts.count(0)} single, {len(batches)} BatchWriteItems "
                    f"of {sum(batches) / max(len(batches), 1):.2f} puts and {len(txs)} "
                    f"TransactWriteItems of {sum(txs) / max(len(txs), 1):.2f} items in every {len(counts)}")
                raw_meter.reset()
                secs, writes, items = raw_floor(client, counts, item_bytes, n, f"{name}.{k}", single_bytes,
                                                put_bytes)
                raw.setdefault(name, {"writes_per_unit": round(len(counts) / units, 3),
                                      "single_writes_per_unit": round(counts.count(0) / units, 3),
                                      "items_per_transaction": round(sum(txs) / max(len(txs), 1), 3),
                                      "bytes_per_transaction_item": round(item_bytes, 1),
                                      "bytes_per_single_write": round(single_bytes, 1),
                                      "batch_puts_per_unit": round(sum(batches) / units, 3),
                                      "write_units_per_write": round(raw_meter.write / writes, 3),
                                      "units_per_s": []})["units_per_s"].append(round(writes * per_write / secs, 1))
                return writes * per_write / secs
            return sample

        judged: dict = {}  # phase → (floor samples, path samples)
        bench_id, bench_secret = make("bench", "Bench")
        poster = Poster(points_api.lambda_handler, bench_id, bench_secret)
        probe = Probe().attach_all(clients)
        out: dict = {"benchmark": "points", "events": args.events, "checkins": n_checkin, "purchases": n_purchase,
                     "extra_purchases_before_ingest": extra, "settle_target": args.settle,
                     "rules": {"daily_caps": rules.daily_caps, "expiry": rules.expiry.model_dump(),
                               "return_window_days": rules.purchase.return_window_days}}

        # T0: every purchase occurred at T0 − 7 days + 2 hours, so its window ended at T0 − 46 hours, and
        # its lot expires 60 days after that; every check-in lot is made after T0 and expires 60 days later.
        t0 = datetime.now(UTC).replace(microsecond=0)
        bought = t0 - timedelta(days=7) + MARGIN
        settle_at = bought + timedelta(days=rules.purchase.return_window_days)
        purchases = [purchase(i, bought) for i in range(total_purchases)]

        # ---- extra pending purchases (not measured) ---------------------------------------------------
        if extra:
            log(f"extra purchases: {extra} (so {total_purchases} are pending), not counted in ingest ...")
            probe.reset()
            secs = poster.post_all(purchases[:extra], "extra purchases")
            out["extra_purchases"] = {"seconds": round(secs, 3), "events_per_s": round(extra / secs, 1),
                                      **snapshot(probe, extra)}

        # ---- ingest (measured): the events in --runs parts, each with members of its own, between floors --
        def ingest_part(r: int):
            def run() -> float:
                ci, pu = split[r]
                first = extra + sum(p for _, p in split[:r])
                members = math.ceil(ci / 6)
                events = mixed([checkin(k, members, t0, "cdefgh"[r]) for k in range(ci)],
                               purchases[first:first + pu])
                log(f"ingest {r + 1}: {len(events)} events ({ci} check-ins by {members} members over 6 days, "
                    f"{pu} purchases) in batches of {BATCH} ...")
                seconds = poster.post_all(events, f"ingest {r + 1}")
                ingest_seconds.append(seconds)
                return len(events) / seconds
            return run

        ingest_seconds: list[float] = []
        probe.reset()
        poster.cpu = 0.0
        floors, rates = interleaved(floor("ingest"), [ingest_part(r) for r in range(args.runs)])
        ingest_end = datetime.now(UTC)
        assert ingest_end < bought + timedelta(days=7), "the ingest took so long that its purchases went stale"
        ingest = snapshot(probe, args.events)
        judged["ingest"] = (floors, rates)
        out["ingest"] = {"seconds": round(sum(ingest_seconds), 3), "cpu_seconds": round(poster.cpu, 3),
                         "events_per_s": [round(x, 1) for x in rates],
                         "requests": math.ceil(args.events / BATCH), **ingest}

        # ---- settle (measured) ------------------------------------------------------------------------
        s1 = settle_at + timedelta(seconds=1)
        checkin_expiry = datetime.fromisoformat(expires_at(t0, rules.expiry, tz))  # the earliest check-in lot
        boards: dict = {}

        def boards_first(name: str, at: datetime, earliest_due: datetime) -> None:
            quiet = quiet_before(at, earliest_due, tz)
            if quiet is None:
                boards[name] = "built inside the measured run (its board day starts within a second)"
                return
            summary, secs = run_settle(settle_points.process, settle_ledger, tenants, quiet)
            assert summary["settled"] == summary["lots_expired"] == 0, summary
            boards[name] = {"scheduled_time": iso(quiet), "boards_built": summary["boards_built"],
                            "seconds": round(secs, 3)}

        log(f"due pages: {page_due_lots(client)} lots listed, as PageEarnings would from the stream (untimed) ...")
        boards_first("settle", s1, settle_at)
        log(f"settle: run at {iso(s1)} ({total_purchases} pending purchases due) ...")
        probe.reset()
        settle_floors, settle_run = interleaved(
            floor("settle"), [lambda: run_settle(settle_points.process, settle_ledger, tenants, s1)])
        summary, settle_s = settle_run[0]
        settled = summary["settled"]
        judged["settle"] = (settle_floors, [settled / settle_s])
        assert settled == total_purchases and summary["lots_expired"] == 0, summary
        out["settle"] = {"scheduled_time": iso(s1), "seconds": round(settle_s, 3), "settled": settled,
                         "settled_per_s": round(settled / settle_s, 1), "summary": summary,
                         **snapshot(probe, settled)}
        log(f"  settled {settled} in {settle_s:.1f} s ({settled / settle_s:.0f}/s)")

        purchase_expiry = datetime.fromisoformat(expires_at(settle_at, rules.expiry, tz))
        assert purchase_expiry < checkin_expiry, "a check-in lot would expire in the measured expire run"

        # ---- expire the purchase lots (measured) --------------------------------------------------------
        s3 = purchase_expiry + timedelta(seconds=1)
        log(f"due pages: {page_due_lots(client)} lots listed (untimed) ...")
        boards_first("expire", s3, purchase_expiry)
        log(f"expire: run at {iso(s3)} ({total_purchases} lots due) ...")
        probe.reset()
        expire_floors, expire_run = interleaved(
            floor("expire"), [lambda: run_settle(settle_points.process, settle_ledger, tenants, s3)])
        summary, expire_s = expire_run[0]
        expired = summary["lots_expired"]
        judged["expire"] = (expire_floors, [expired / expire_s])
        assert expired == total_purchases and summary["settled"] == 0, summary
        out["expire"] = {"scheduled_time": iso(s3), "seconds": round(expire_s, 3), "lots_expired": expired,
                         "expired_per_s": round(expired / expire_s, 1), "summary": summary,
                         **snapshot(probe, expired)}
        out["board_runs_before"] = boards
        log(f"  expired {expired} in {expire_s:.1f} s ({expired / expire_s:.0f}/s)")
        probe.detach_all()
        assert seen_tx and set(seen_tx) == {"ok"}, "a TransactWriteItems went through a client the probe missed"

        raw_meter.detach(client)
        out["raw"] = raw

        log(f"member pages: {page_members(client)} members listed, as PageEarnings would from the stream (untimed)")
        out["reconcile"] = reconciled(bench_id, PointsLedger())

        # ---- the index entries of the phases' transactions, counted once nothing more is timed -------------
        log(f"index entries: {args.warm} events, settle and expire on tenant bench-count, with the stream on ...")
        count_index_entries(out, client, clients, exercise)

    out["total_seconds"] = round(time.perf_counter() - began, 1)
    out["raw_note"] = ("raw = the warm-up phase's writes replayed in order, sequential: each transaction as a boto3 "
                       "TransactWriteItems of as many conditional Puts (no index attributes) at its average request "
                       "bytes per item, each single write as a conditional PutItem of the single writes' average "
                       "bytes; in the phase's units of work a second (its warm-up's units per write), taken before, "
                       "between and after the measured runs")
    checks = []
    for name, figure, at_least in (("ingest", "events ingested a second", 0.5),
                                   ("settle", "pending entries settled a second", 0.5),
                                   ("expire", "lots expired a second", 0.5)):
        floors, rates = judged[name]
        ratio = ratios(floors, rates)
        out[f"ratio_{name}_to_raw"] = asdict(ratio)
        checks.append(Check.of_ratio("points", figure, spread(rates).median, "/s", spread(floors).median, ratio,
                                     Target(at_least=at_least)))
    out["cost"] = event_cost(out, args.events, n_purchase)
    checks.append(Check.of_figure("points", "$ per million points events", out["cost"]["usd_per_million"]["total"],
                                  "USD", Target(at_most=3.0)))
    report(out, checks)


if __name__ == "__main__":
    main()
