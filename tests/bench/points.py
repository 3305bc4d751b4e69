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
* the floor: plain boto3 TransactWriteItems with the same number of items per transaction as the real
  path sent (its recorded sequence of counts, replayed), Puts of the same average request bytes per item,
  into the same table; --raw transactions per sample (default 5,000, or fewer when the phase sent fewer;
  0 = as many as the phase sent), sequential as the real path is. DynamoDB Local's rate wanders from
  sample to sample within one run, so every floor is sampled twice and the fastest sample counts.

DynamoDB Local reports TransactWriteItems capacity per table and index touched, not per item, so
the JSON also gives an AWS estimate: 2 write units per transaction item per started KB of request.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime, timedelta

from common import ROOT, STACK, CapacityMeter, Probe, local_env, pynamodb_client, report

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


def snapshot(probe: Probe, units: int) -> dict:
    n = len(probe.tx_sizes)
    return {
        "write_units_per_unit": round(probe.write / units, 3) if units else None,
        "read_units_per_unit": round(probe.read / units, 3) if units else None,
        "aws_estimate_tx_write_units_per_unit": round(probe.tx_aws_units / units, 3) if units else None,
        "transactions": n,
        "items_per_transaction": round(sum(probe.tx_sizes) / n, 3) if n else None,
        "bytes_per_transaction_item": round(probe.tx_item_bytes / sum(probe.tx_sizes), 1) if n else None,
        "dynamodb_calls": dict(sorted(probe.calls.items())),
        "dynamodb_calls_by_table": dict(sorted(probe.by_table.items())),
        "dynamodb_seconds_by_operation": {k: round(v, 3) for k, v in sorted(probe.seconds.items())},
    }


# ---- the events ------------------------------------------------------------------------------------

def checkin(k: int, members: int, t0: datetime) -> dict:
    """The k-th check-in: members take turns, each day of the last six in order, so streaks grow."""
    member, day = k % members, k // members  # day 0 .. 5: six days ago .. yesterday
    assert day < 6, "members * 6 must cover every check-in"
    occurred = t0 - timedelta(days=6 - day) + timedelta(seconds=member % 3600)  # a member's own time of day
    return {"event_id": f"ci-{k}", "type": "checkin", "member_id": f"c{member:06d}",
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
        start = time.perf_counter()
        total, done = len(events), 0
        for batch in batches(events):
            self.post(batch)
            done += len(batch)
            if done % 2000 < BATCH or done == total:
                rate = done / (time.perf_counter() - start)
                log(f"  {label}: {done}/{total} events ({rate:.0f}/s)")
        return time.perf_counter() - start


# ---- settlement ------------------------------------------------------------------------------------

def run_settle(process, ledger, tenants, at: datetime) -> tuple[dict, float]:
    from settle_points import Deps

    start = time.perf_counter()
    summary = process({"scheduled_time": iso(at)}, None, Deps(ledger=ledger, tenants=tenants))
    return summary, time.perf_counter() - start


def quiet_before(at: datetime, earliest_due: datetime, tz: str) -> datetime | None:
    """A moment before anything is due whose leaderboards are the same as `at`'s, if there is one."""
    from qunyun.services.settle import board_day

    quiet = min(at, earliest_due) - timedelta(seconds=1)
    return quiet if board_day(quiet, tz) == board_day(at, tz) else None


# ---- the floor -------------------------------------------------------------------------------------

def raw_floor(client, counts: list[int], item_bytes: float, n: int, tag: str) -> tuple[float, int, int]:
    """n sequential TransactWriteItems of Puts, the item counts replayed from `counts`; returns
    (seconds, transactions, items)."""
    table = f"{STACK}-points"

    def put(j: int, pad: int) -> dict:
        return {"Put": {"TableName": table, "Item": {"pk": {"S": f"raw#{tag}#{j}"}, "sk": {"S": "#RAW"},
                                                     "data": {"S": "x" * pad}}}}

    empty = len(json.dumps(put(0, 0), separators=(",", ":")))
    pad = max(int(round(item_bytes)) - empty - 6, 1)  # the key digits grow a little: aim at the average
    plan = [counts[i % len(counts)] for i in range(n)]
    j = 0
    start = time.perf_counter()
    for k in plan:
        client.transact_write_items(TransactItems=[put(j + x, pad) for x in range(k)])
        j += k
    return time.perf_counter() - start, len(plan), j


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events ingested and measured (half check-ins)")
    parser.add_argument("--settle", type=int, default=20_000, help="pending purchases settled, then lots expired")
    parser.add_argument("--raw", type=int, default=5_000,
                        help="transactions in each raw floor run, at most as many as the phase sent (0: as many)")
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
    n_checkin = args.events // 2
    n_purchase = args.events - n_checkin
    extra = max(args.settle - n_purchase, 0)
    if args.settle < n_purchase:
        log(f"note: --settle {args.settle} < the {n_purchase} purchases ingested; all {n_purchase} are settled")
    total_purchases = n_purchase + extra

    with DynamoDBLocal(port, log=log) as server:
        client = ddb_client(server.endpoint)
        create_tables(client, Template.read(TEMPLATE), STACK)
        tenants, secrets = TenantRepository(), secret_store()
        settle_ledger = PointsLedger()
        clients = [points_api.default_deps().ledger._connection.client, settle_ledger._connection.client] + [
            pynamodb_client(m) for m in (MemberItem, EntryItem, LotItem, GuardItem, EventItem, OrderItem, BoardItem,
                                         JobItem, TenantItem)]
        tx_clients = {id(points_api.default_deps().ledger._connection.client), id(settle_ledger._connection.client)}
        seen_tx: list[str] = []
        for c in clients:  # every TransactWriteItems must go through a client the probe watches
            c.meta.events.register("provide-client-params.dynamodb.TransactWriteItems",
                                   lambda c=c, **_: seen_tx.append("ok" if id(c) in tx_clients else "other"))

        def make(tenant_id: str, name: str) -> tuple[str, str]:
            tenant, secret = create_tenant(tenant_id, name, None, tenants=tenants, secrets=secrets)
            tenants.set_rules(tenant_id, rules)
            return tenant.tenant_id, secret

        # ---- warm-up: the emulator's JIT, the connection pools, every code path once ------------------
        log(f"warm-up: {args.warm} events, settle and expire on tenant bench-warm ...")
        warm_id, warm_secret = make("bench-warm", "Warm")
        tz = tenants.get(warm_id).timezone
        warm = Poster(points_api.lambda_handler, warm_id, warm_secret)
        tw = datetime.now(UTC).replace(microsecond=0)
        w_half = max(args.warm // 2, 1)
        w_ci = [checkin(k, math.ceil(w_half / 6), tw) for k in range(w_half)]
        w_bought = tw - timedelta(days=7) + MARGIN
        w_pu = [purchase(i, w_bought) for i in range(w_half)]
        for e in w_ci:
            e["event_id"] = "w" + e["event_id"]
        for e in w_pu:
            e["event_id"] = "w" + e["event_id"]
        warm.post_all(mixed(w_ci, w_pu), "warm-up")
        w_settle_at = w_bought + timedelta(days=WINDOW_DAYS)
        w_end = datetime.now(UTC)
        s = run_settle(settle_points.process, settle_ledger, tenants, w_settle_at + timedelta(seconds=1))[0]
        assert s["settled"] == w_half, s
        w_expire = max(datetime.fromisoformat(expires_at(t, rules.expiry, tz)) for t in (w_settle_at, w_end))
        s = run_settle(settle_points.process, settle_ledger, tenants, w_expire + timedelta(seconds=1))[0]
        assert s["lots_expired"] >= w_half, s

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

        # ---- ingest (measured) ------------------------------------------------------------------------
        members = math.ceil(n_checkin / 6)
        events = mixed([checkin(k, members, t0) for k in range(n_checkin)], purchases[extra:])
        log(f"ingest: {args.events} events ({n_checkin} check-ins by {members} members over 6 days, "
            f"{n_purchase} purchases) in batches of {BATCH} ...")
        probe.reset()
        ingest_s = poster.post_all(events, "ingest")
        ingest_end = datetime.now(UTC)
        assert ingest_end < bought + timedelta(days=7), "the ingest took so long that its purchases went stale"
        ingest = snapshot(probe, args.events)
        ingest_counts = list(probe.tx_sizes)
        out["ingest"] = {"seconds": round(ingest_s, 3), "events_per_s": round(args.events / ingest_s, 1),
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

        boards_first("settle", s1, settle_at)
        log(f"settle: run at {iso(s1)} ({total_purchases} pending purchases due) ...")
        probe.reset()
        summary, settle_s = run_settle(settle_points.process, settle_ledger, tenants, s1)
        settled = summary["settled"]
        assert settled == total_purchases and summary["lots_expired"] == 0, summary
        settle_counts = list(probe.tx_sizes)
        out["settle"] = {"scheduled_time": iso(s1), "seconds": round(settle_s, 3), "settled": settled,
                         "settled_per_s": round(settled / settle_s, 1), "summary": summary, **snapshot(probe, settled)}
        log(f"  settled {settled} in {settle_s:.1f} s ({settled / settle_s:.0f}/s)")

        purchase_expiry = datetime.fromisoformat(expires_at(settle_at, rules.expiry, tz))
        assert purchase_expiry < checkin_expiry, "a check-in lot would expire in the measured expire run"

        # ---- expire the purchase lots (measured) --------------------------------------------------------
        s3 = purchase_expiry + timedelta(seconds=1)
        boards_first("expire", s3, purchase_expiry)
        log(f"expire: run at {iso(s3)} ({total_purchases} lots due) ...")
        probe.reset()
        summary, expire_s = run_settle(settle_points.process, settle_ledger, tenants, s3)
        expired = summary["lots_expired"]
        assert expired == total_purchases and summary["settled"] == 0, summary
        expire_counts = list(probe.tx_sizes)
        out["expire"] = {"scheduled_time": iso(s3), "seconds": round(expire_s, 3), "lots_expired": expired,
                         "expired_per_s": round(expired / expire_s, 1), "summary": summary, **snapshot(probe, expired)}
        out["board_runs_before"] = boards
        log(f"  expired {expired} in {expire_s:.1f} s ({expired / expire_s:.0f}/s)")
        probe.detach_all()
        assert seen_tx and set(seen_tx) == {"ok"}, "a TransactWriteItems went through a client the probe missed"

        # ---- the floor ---------------------------------------------------------------------------------
        raw_meter = CapacityMeter().attach(client)
        raw: dict = {}
        for name, phase, counts in (("ingest", out["ingest"], ingest_counts), ("settle", out["settle"], settle_counts),
                                    ("expire", out["expire"], expire_counts)):
            n = min(args.raw, len(counts)) if args.raw else len(counts)
            # DynamoDB Local's rate wanders between samples of one run (up to ~1.4x), so each floor is taken
            # twice and the fastest sample counts: a ratio is never flattered by an unlucky floor.
            for sample in (1, 2):
                log(f"raw TransactWriteItems, {name}-shaped, sample {sample}: {n} transactions of "
                    f"{phase['items_per_transaction']} items on average ...")
                raw_meter.reset()
                secs, txs, items = raw_floor(client, counts, phase["bytes_per_transaction_item"], n,
                                             f"{name}.{sample}")
                floor = {"transactions": txs, "seconds": round(secs, 3), "tx_per_s": round(txs / secs, 1),
                         "items_per_transaction": round(items / txs, 3),
                         "write_units_per_transaction": round(raw_meter.write / txs, 3),
                         "of_real_transactions": len(counts), "sample": n != len(counts)}
                raw.setdefault(f"{name}_samples_tx_per_s", []).append(floor["tx_per_s"])
                if name not in raw or floor["tx_per_s"] > raw[name]["tx_per_s"]:
                    raw[name] = floor
        raw_meter.detach(client)
        out["raw"] = raw

    out["ratio_events_per_s_to_raw_tx_per_s"] = round(out["ingest"]["events_per_s"] / raw["ingest"]["tx_per_s"], 3)
    out["ratio_settled_per_s_to_raw_tx_per_s"] = round(out["settle"]["settled_per_s"] / raw["settle"]["tx_per_s"], 3)
    out["ratio_expired_per_s_to_raw_tx_per_s"] = round(out["expire"]["expired_per_s"] / raw["expire"]["tx_per_s"], 3)
    out["target_ratio"] = 0.5
    out["total_seconds"] = round(time.perf_counter() - began, 1)
    out["raw_note"] = ("raw = sequential boto3 TransactWriteItems of Puts (no conditions, no index attributes), "
                       "each floor sampled twice and the fastest sample taken, replaying the real phase's "
                       "items-per-transaction sequence at its average request bytes per item; 'sample' says when "
                       "fewer transactions than the real phase were sent")
    report(out)


if __name__ == "__main__":
    main()
