"""`make demo`: the local stack end to end, as an operator would use it.

Starts `qunyun local up`, creates a tenant, imports the sample groups (and shows a bad file being
refused), lists them, calls the signed webhook API as a mall would, earns points, writes tomorrow's morning
brief and fires BriefDispatch as at 08:00 in the tenant's timezone (the stack's SQS poller hands the queue to
SendPushes), shows what each group received (the outbox files, the demo robots, and for WeCom customer groups
one mass-send task per owner), lets one owner confirm some groups, fires FollowUpOwnerTasks (those groups
sent, both owners reminded) and the evening brief (skipped for quota in the customer groups), runs the mall,
announces an event and fires its reminder ladder, runs a flash group to its end (its farewell in the
outbox, its final report), hears a Telegram group (a join, check-ins granting points and answered once, the
roster), makes join links (a WeCom code rolling over, a member's Telegram link earning invite points), guards
the groups (an ad warned then removed, a DingTalk removal tasked, the weekly sweep's list), closes the day's
figures (RollupMetrics, `qunyun metrics`), prints a login link to the web console and saves a screenshot of each
of its pages, then stops the stack and checks that nothing is left running.

The stack runs without its scheduler: every scheduled function is fired at the time the demo shows. Its
channels go to the demo robots on 127.0.0.1 (qunyun_ops/demo_robots.py, with WeCom's customer-group API in
demo_wecom.py), so nothing leaves the machine. `--only briefs,...` shows some parts only (tests use it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from qunyun_ops import demo_dates
from qunyun_ops.demo_console import console_demo
from qunyun_ops.demo_guard import guard_demo, set_group_rules
from qunyun_ops.demo_inbound import inbound_demo
from qunyun_ops.demo_links import links_demo
from qunyun_ops.demo_robots import CORP_ID, CORP_SECRET, DemoRobots
from qunyun_ops.env import OUTBOX_DIR
from qunyun_ops.local.dynamodb import free_port
from qunyun_ops.local.server import processes_with
from qunyun_ops.paths import ROOT, STATE

DEMO = ROOT / "infra" / "demo"
QUNYUN = [sys.executable, "-m", "qunyun_ops.cli"]
TENANT = "demo-tea"


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def dated(name: str, change: Callable[[str, date], str], day: date | None = None) -> Path:
    """A copy of infra/demo/NAME in the state folder with its dates computed from today, or from `day`
    (demo_dates.py)."""
    path = STATE / f"demo-{name}"
    path.write_text(change((DEMO / name).read_text(encoding="utf-8"), day or today()), encoding="utf-8")
    return path


def step(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def qunyun(*args: str, check: bool = True, logs: bool = True, echo: bool = True,
           stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Runs a CLI command and shows its output; `logs=False` hides the functions' own log lines
    (stderr) unless the command fails; `echo=False` shows nothing unless it fails."""
    result = subprocess.run([*QUNYUN, *args], text=True, capture_output=True, cwd=ROOT, input=stdin)
    if echo or result.returncode:
        print("$ qunyun " + " ".join(args), flush=True)
        print(result.stdout + (result.stderr if logs or result.returncode else ""), end="", flush=True)
    if check and result.returncode != 0:
        raise SystemExit(f"demo: `qunyun {' '.join(args)}` failed with exit code {result.returncode}")
    return result


def wait_ready(proc: subprocess.Popen, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (STATE / "demo-stack.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"demo: `qunyun local up` exited early with code {proc.returncode}:\n{log}")
        try:
            state = json.loads((STATE / "local.json").read_text())
            if state.get("pid") == proc.pid:
                return state
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.2)
    raise SystemExit("demo: the local stack did not become ready in time")


def signed_get(port: int, path: str, tenant: str, secret: str, timestamp: int | None = None) -> tuple[int, dict]:
    from qunyun.domain import signing

    ts = int(time.time()) if timestamp is None else timestamp
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     headers=signing.headers(tenant, secret, ts, "GET", path))
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def signed_post(port: int, path: str, tenant: str, secret: str, body: dict) -> tuple[int, dict]:
    from qunyun.domain import signing

    raw = json.dumps(body, ensure_ascii=False).encode()
    headers = {"content-type": "application/json",
               **signing.headers(tenant, secret, int(time.time()), "POST", path, raw)}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=raw, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def points_demo(port: int, secret: str) -> None:
    """Check-ins and a quiz from a POS / mini-program, a purchase, a partial refund, the nightly settlement."""
    step("Set the earning rules")
    qunyun("points", "rules", "set", str(DEMO / "rules.yaml"), "--tenant", TENANT, "--local")

    step("Members check in and answer the quiz (signed POST /v1/points/events, one batch)")
    now = datetime.now(UTC)
    members = [("m-xiaoli", "小丽", "tea-parents-01"), ("m-ajie", "阿杰", "tea-parents-01"),
               ("m-mei", "美美 <@all>", "tea-learning")]
    events = []
    for member, nickname, group in members:
        for days_ago in (2, 1, 0):
            at = (now - timedelta(days=days_ago)).isoformat()
            events.append({"event_id": f"ci-{member}-{days_ago}", "type": "checkin", "member_id": member,
                           "group_id": group, "nickname": nickname, "occurred_at": at})
    events.append({"event_id": "quiz-xiaoli-1", "type": "quiz_answer", "member_id": "m-xiaoli", "quiz_id": "tea-101",
                   "question_id": "1", "correct": True, "group_id": "tea-parents-01", "occurred_at": now.isoformat()})
    status, body = signed_post(port, "/v1/points/events", TENANT, secret, {"events": events})
    print(f"HTTP {status}: " + ", ".join(f"{r['event_id']} +{r['granted']}" for r in body["results"]))
    status, body = signed_post(port, "/v1/points/events", TENANT, secret, events[0])
    print(f"the same check-in sent again: HTTP {status} status={body['status']} granted={body['granted']}")

    step("A purchase of 129.00 yuan six days ago is pending; a 43.00 yuan refund cancels a third")
    placed = now - timedelta(days=6)
    for event in (
        {"event_id": "pos-8812", "type": "purchase", "member_id": "m-ajie", "group_id": "tea-parents-01",
         "order_id": "o-991", "amount_fen": 12900, "store_id": "store-01", "occurred_at": placed.isoformat()},
        {"event_id": "pos-8813", "type": "purchase_refund", "member_id": "m-ajie", "order_id": "o-991",
         "refund_id": "rf-1", "amount_fen": 4300, "occurred_at": now.isoformat()},
    ):
        status, body = signed_post(port, "/v1/points/events", TENANT, secret, event)
        print(f"{event['type']}: HTTP {status} pending {body['pending']:+d}, balance {body['balance']}")

    step("SettlePoints fires as at the end of the return window (02:00 the night after)")
    settle_at = (placed + timedelta(days=8)).replace(hour=18, minute=0, second=0, microsecond=0)  # 02:00 Shanghai
    qunyun("local", "run", "SettlePoints", "--at", settle_at.isoformat(), logs=False)

    step("Balances and the group leaderboard")
    for member, _, _ in members:
        qunyun("points", "show", member, "--tenant", TENANT, "--local")
    qunyun("points", "top", "--tenant", TENANT, "--scope", "group:tea-parents-01", "--period", "week", "--n", "3",
           "--local")
    qunyun("points", "reconcile", "--tenant", TENANT, "--local")


def brief_demo(robots: DemoRobots, state: dict) -> str:
    """Tomorrow's morning brief, written the day before as operators do, with the day before's check-ins and the
    top three of each group; then BriefDispatch as at 08:00 and what each group received (the customer groups:
    one mass-send task per owner, awaiting the owner). Returns the brief's date."""
    step("Write tomorrow's morning brief and preview what two groups would receive")
    day = today() + timedelta(days=1)
    brief = dated("brief.yaml", demo_dates.brief, day)
    on = day.isoformat()
    qunyun("briefs", "add", str(brief), "--tenant", TENANT, "--local")
    for group in ("tea-parents-01", "tea-learning"):
        print(f"--- {group} ---")
        qunyun("briefs", "preview", "--group", group, "--edition", "morning", "--date", on, "--tenant", TENANT,
               "--local")

    step("BriefDispatch fires as at 08:00 Shanghai time, twice (a scheduler retry); SendPushes drains the queue")
    at = f"{on}T08:00:00+08:00"
    for _ in range(2):
        fired = json.loads(qunyun("local", "run", "BriefDispatch", "--at", at, logs=False).stdout)
    wait_delivered(state, on, int(fired.get("groups", 0)))

    step("What the outbox groups received (the local stack's file outbox)")
    folder = OUTBOX_DIR / TENANT
    for path in sorted(folder.glob("*.jsonl")) if folder.exists() else []:
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            print(f"--- {path.relative_to(STATE)}: {entry['title']} ({len(entry['text'].encode())} bytes) ---")
            print(entry["text"])
    step("What the demo robots received (WeCom robot, DingTalk robot, Feishu and Telegram bots on 127.0.0.1)")
    for got in robots.received:
        print(f"--- {got.platform} {got.robot} ({len(got.text.encode())} bytes) ---")
        print(got.text)
    tasks_demo(robots)
    step("Each push and what became of it: once per group, however often the dispatcher fired")
    qunyun("deliveries", "list", "--tenant", TENANT, "--date", on, "--local")
    copies = [(r.platform, r.robot, r.text) for r in robots.received]
    assert len(set(copies)) == len(copies), "a robot received the same brief twice"
    return on


CUSTOMER_GROUPS = {"tea-parents-02": "li.na", "tea-parents-03": "li.na", "tea-parents-04": "li.na",
                   "tea-gold": "wang.wei"}
CONFIRMED = ("tea-parents-02", "tea-parents-03")  # what li.na sends in the WeCom client; wang.wei sends nothing


def wecom_setup() -> None:
    """Customer groups of two owners, the corp's credentials, and a quota of one mass send a group a day."""
    step("WeCom customer groups: robots cannot post into them, only their owner can send a mass-send task")
    qunyun("groups", "import", str(DEMO / "wecom_groups.csv"), "--tenant", TENANT, "--local")
    qunyun("tenants", "wecom", TENANT, "--corp-id", CORP_ID, "--corp-secret-stdin", "--local",
           stdin=CORP_SECRET + "\n")
    print("(the corp's API is the demo's stand-in for WeCom on 127.0.0.1, qunyun_ops/demo_wecom.py)")
    qunyun("tenants", "policy", TENANT, "--set", "quota_period=day", "--local", echo=False)
    print("$ qunyun tenants policy demo-tea --set quota_period=day --local   "
          "# an admin's limit: one mass send a customer group a day")


def tasks_demo(robots: DemoRobots) -> None:
    """What WeCom received from SendPushes: one task per owner, whatever the dispatcher did twice."""
    step("What WeCom received: one mass-send task per owner, each waiting for its owner to tap send")
    tasks = list(robots.wecom.tasks.values())
    chats = {chat: group for group, chat in _chat_ids().items()}
    for task in tasks:
        groups = ", ".join(chats.get(c, c) for c in task.chat_ids)
        print(f"--- task {task.msgid} for {task.owner}: {groups} ({len(task.text.encode())} bytes) ---")
        print(task.text)
    owners = sorted(t.owner for t in tasks)
    if owners != sorted(set(CUSTOMER_GROUPS.values())):
        raise SystemExit(f"demo: expected one mass-send task per owner, WeCom received tasks for {owners}")


def _chat_ids() -> dict[str, str]:
    import csv

    rows = [*csv.DictReader((DEMO / "groups.csv").open(encoding="utf-8")),
            *csv.DictReader((DEMO / "wecom_groups.csv").open(encoding="utf-8"))]
    return {r["group_id"]: r["chat_id"] for r in rows if r["group_id"] in CUSTOMER_GROUPS}


def _statuses(day: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    records = json.loads(qunyun("deliveries", "list", "--tenant", TENANT, "--date", day, "--local", "--json",
                                echo=False).stdout)
    return {(r["group_id"], r["edition"]): (r["status"], r["reason"]) for r in records
            if r["group_id"] in CUSTOMER_GROUPS}


def follow_up_demo(robots: DemoRobots, state: dict, day: str) -> None:
    """The owners confirm some groups; FollowUpOwnerTasks records them sent and reminds the owners about the rest;
    the evening brief no longer fits the customer groups' quota and is recorded skipped."""
    step(f"li.na taps send for {' and '.join(CONFIRMED)} in WeCom; wang.wei has not opened the task yet")
    chats = _chat_ids()
    for task in robots.wecom.tasks.values():
        robots.wecom.confirm(task.msgid, [chats[g] for g in CONFIRMED])
    step("FollowUpOwnerTasks fires as at 09:15: it records what the owners sent and reminds them about the rest")
    qunyun("local", "run", "FollowUpOwnerTasks", "--at", f"{day}T09:15:00+08:00", logs=False)
    print("reminders WeCom accepted: " + ", ".join(
        f"{m} ({robots.wecom.tasks[m].owner})" for m in robots.wecom.reminded))
    qunyun("deliveries", "list", "--tenant", TENANT, "--date", day, "--local")
    expected = {(g, "morning"): ("sent" if g in CONFIRMED else "awaiting_owner", None) for g in CUSTOMER_GROUPS}
    found = {k: (status, None) for k, (status, _) in _statuses(day).items()}
    if found != expected or sorted(robots.wecom.reminded) != sorted(robots.wecom.tasks):
        raise SystemExit(f"demo: after the follow-up expected {expected} and a reminder per task, found {found}, "
                         f"reminders {robots.wecom.reminded}")

    step("The evening brief at 20:30: each customer group's one mass send of the day is spent, so it is skipped")
    qunyun("briefs", "add", str(dated("brief_evening.yaml", demo_dates.brief, date.fromisoformat(day))),
           "--tenant", TENANT, "--local")
    fired = json.loads(qunyun("local", "run", "BriefDispatch", "--at", f"{day}T20:30:00+08:00", logs=False).stdout)
    wait_delivered(state, day, int(fired.get("groups", 0)))
    qunyun("deliveries", "list", "--tenant", TENANT, "--date", day, "--local")
    evening = {g: v for (g, edition), v in _statuses(day).items() if edition == "evening"}
    owners = len(set(CUSTOMER_GROUPS.values()))
    if evening != {g: ("skipped", "quota") for g in CUSTOMER_GROUPS} or len(robots.wecom.tasks) != owners:
        raise SystemExit(f"demo: expected every customer group's evening brief skipped for quota, found {evening}")


def wait_delivered(state: dict, day: str, groups: int, timeout: float = 60) -> list[dict]:
    """Waits until the queue is empty and no push of the day is still planned; returns the day's records."""
    from qunyun_ops.local.sqs import queues_empty, sqs_client

    client = sqs_client(state["sqs_endpoint"])
    deadline = time.monotonic() + timeout
    while True:
        records = json.loads(qunyun("deliveries", "list", "--tenant", TENANT, "--date", day, "--local", "--json",
                                   echo=False).stdout)
        settled = len(records) >= groups and all(r["status"] != "planned" for r in records)
        if settled and queues_empty(client, state["consumed_queues"]):
            return records
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: the briefs were not all delivered within {timeout:.0f} s")
        time.sleep(0.3)


def mall_demo(port: int, secret: str) -> None:
    """A member redeems a reward, the mall retries the same request, then the order is cancelled."""
    step("Stock the points mall")
    qunyun("rewards", "add", str(dated("rewards.yaml", demo_dates.rewards)), "--tenant", TENANT, "--local")
    qunyun("rewards", "list", "--tenant", TENANT, "--local")

    def balance(member: str) -> str:
        view = json.loads(qunyun("points", "show", member, "--tenant", TENANT, "--local", "--json", echo=False).stdout)
        b = view["balance"]
        return f"available {b['available']}, spent {b['spent']}"

    print(f"m-ajie before: {balance('m-ajie')}")
    step("Redeem a mug (signed POST /v1/mall/redemptions)")
    request = {"request_id": "mall-req-1", "member_id": "m-ajie", "reward_id": "mug", "quantity": 1}
    status, body = signed_post(port, "/v1/mall/redemptions", TENANT, secret, request)
    print(f"HTTP {status} {json.dumps(body, ensure_ascii=False)}")
    print(f"m-ajie now: {balance('m-ajie')}")
    step("The mall retries the same request: the first answer comes back, nothing is spent twice")
    status, again = signed_post(port, "/v1/mall/redemptions", TENANT, secret, request)
    print(f"HTTP {status}, same answer: {again == body}; m-ajie: {balance('m-ajie')}")
    step("A member without enough points is refused, and the refusal is replayed as such")
    poor = {"request_id": "mall-req-2", "member_id": "m-mei", "reward_id": "mug", "quantity": 1}
    for _ in range(2):
        status, refused = signed_post(port, "/v1/mall/redemptions", TENANT, secret, poor)
        print(f"HTTP {status} {refused['error']['code']}")
    step("Cancel the order: points return to their lots, stock to the shelf")
    status, cancelled = signed_post(port, f"/v1/mall/redemptions/{body['order_id']}/cancel", TENANT, secret,
                                    {"request_id": "mall-cancel-1", "reason": "customer changed mind"})
    print(f"HTTP {status} {json.dumps(cancelled, ensure_ascii=False)}")
    print(f"m-ajie after: {balance('m-ajie')}")
    qunyun("rewards", "list", "--tenant", TENANT, "--local")
    qunyun("points", "reconcile", "--tenant", TENANT, "--local")


def reminder_demo() -> None:
    """An event in three days (tomorrow's pushes are spent by the briefs above): its reminder ladder planned per
    group, each rung fired as SendReminders would at its time, and what the outbox group received."""
    step("Announce an event in three days at 15:00 and print its reminder ladder")
    shutil.rmtree(OUTBOX_DIR / TENANT, ignore_errors=True)  # the briefs shown above, and a previous demo's
    day = today() + timedelta(days=3)
    eve = day - timedelta(days=1)
    events = STATE / "demo-events.yaml"
    events.write_text(demo_dates.event("live-demo", day, "https://example.com/live", "tea-parents-01"),
                      encoding="utf-8")
    print(events.read_text(encoding="utf-8"), end="")
    qunyun("events", "add", str(events), "--tenant", TENANT, "--local")
    qunyun("events", "plan", "live-demo", "--tenant", TENANT, "--local")
    step("Fire SendReminders at each rung: 20:00 the evening before, 08:00 (03:00 is in quiet hours), 14:00")
    outbox = OUTBOX_DIR / TENANT / "tea-parents-01.jsonl"

    def reminders() -> list[dict]:
        lines = outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []
        return [e for e in map(json.loads, lines) if (e.get("key") or "").startswith("reminder:")]

    for n, at in enumerate((f"{eve.isoformat()}T20:00:00+08:00", f"{day.isoformat()}T08:00:00+08:00",
                            f"{day.isoformat()}T14:00:00+08:00"), start=1):
        qunyun("local", "run", "SendReminders", "--at", at, logs=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(reminders()) < n:
            time.sleep(0.2)
    step(f"What the outbox group received ({outbox.relative_to(ROOT)})")
    received = reminders()
    for entry in received:
        print(f"---\n{entry['text']}")
    if len(received) != 3:
        raise SystemExit(f"demo: the outbox group received {len(received)} reminder(s), expected 3")
    qunyun("events", "plan", "live-demo", "--tenant", TENANT, "--local")


FLASH_FILE = """\
groups:
  - group_id: tea-1212
    name: 双12 快闪群
    channel: outbox
    ends_at: {ends_at}
    after_sales:
      contact: 微信 tea-help
      hours: "9:00-18:00"
    invite:
      group_id: tea-parents-01
      link: https://example.com/join/tea-parents-01
      top: 3
"""


def flash_demo(port: int, secret: str) -> None:
    """A flash group run to its end: its terms from a flash file, members earning in it, ExpireFlashGroups fired
    twice as at its end, the one farewell in the outbox, and the final report once it is dissolved."""
    step("A flash group with its terms (qunyun flash create)")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    ends_at = now + timedelta(minutes=60 - now.minute % 5)  # on the scheduler's 5-minute grid
    (OUTBOX_DIR / TENANT / "tea-1212.jsonl").unlink(missing_ok=True)  # a previous demo's
    path = STATE / "demo-flash.yaml"
    path.write_text(FLASH_FILE.format(ends_at=ends_at.isoformat()), encoding="utf-8")
    print(path.read_text(encoding="utf-8"), end="")
    qunyun("flash", "create", str(path), "--tenant", TENANT, "--local")

    step("Members earn points in it: quiz answers and a purchase carrying its group_id")
    events = [{"event_id": f"fq-{member}-{q}", "type": "quiz_answer", "member_id": member, "quiz_id": "flash-1212",
               "question_id": str(q), "correct": True, "group_id": "tea-1212", "occurred_at": now.isoformat()}
              for member, questions in (("m-xiaoli", 3), ("m-ajie", 2), ("m-mei", 1)) for q in range(questions)]
    events.append({"event_id": "fp-ajie-1", "type": "purchase", "member_id": "m-ajie", "order_id": "flash-ord-1",
                   "amount_fen": 8800, "group_id": "tea-1212", "occurred_at": now.isoformat()})
    status, body = signed_post(port, "/v1/points/events", TENANT, secret, {"events": events})
    print(f"HTTP {status}: " + ", ".join(f"{r['event_id']} {r['status']}" for r in body["results"]))

    step(f"ExpireFlashGroups fires twice as at its end ({ends_at.isoformat()}): a scheduler retry")
    for _ in range(2):
        qunyun("local", "run", "ExpireFlashGroups", "--at", ends_at.isoformat(), logs=False)
    outbox = OUTBOX_DIR / TENANT / "tea-1212.jsonl"
    deadline = time.monotonic() + 60
    while not (outbox.exists() and outbox.read_text(encoding="utf-8").strip()) and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(2)  # the second run's message, handled by SendPushes too: it must add nothing
    lines = outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []
    print(f"the outbox of tea-1212 ({outbox}) holds {len(lines)} message(s):")
    for line in lines:
        print(json.loads(line)["text"])
    if len(lines) != 1:
        raise SystemExit(f"demo: expected one farewell in the outbox, found {len(lines)}")

    step("Five minutes later the farewell's record is final: the group is dissolved, its figures stored")
    qunyun("local", "run", "ExpireFlashGroups", "--at", (ends_at + timedelta(minutes=5)).isoformat(), logs=False)
    qunyun("flash", "report", "tea-1212", "--tenant", TENANT, "--local")
    status, body = signed_post(port, "/v1/points/events", TENANT, secret, {
        "event_id": "fp-after", "type": "purchase", "member_id": "m-mei", "order_id": "flash-ord-2",
        "amount_fen": 1000, "group_id": "tea-1212", "occurred_at": datetime.now(UTC).isoformat()})
    print(f"an after-sales purchase in it (within the 7-day grace): HTTP {status} {body.get('status')}")


PARTS = ("points", "briefs", "mall", "reminders", "flash", "inbound", "links", "guard", "console")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m qunyun_ops.demo", description="qunyun's demo, end to end.")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts to show (default all): {', '.join(PARTS)}; the mall needs points")
    parts = set(parser.parse_args(argv).only.split(","))
    if parts - set(PARTS):
        parser.error(f"unknown part(s): {', '.join(sorted(parts - set(PARTS)))}")
    port, ddb_port = free_port(), free_port()
    step(f"Start the local stack (webhooks on :{port}, DynamoDB Local on :{ddb_port})")
    robots = DemoRobots().__enter__()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **robots.environment()}
    STATE.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(OUTBOX_DIR / TENANT, ignore_errors=True)  # a run shows its own briefs, not an earlier run's
    log_path = STATE / "demo-stack.log"
    print(f"(the stack's own log, with every function's Powertools log lines, goes to {log_path})")
    log = log_path.open("w")
    proc = subprocess.Popen([*QUNYUN, "local", "up", "--port", str(port), "--ddb-port", str(ddb_port), "--no-schedule"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        state = wait_ready(proc)
        java_pid = _java_pid(ddb_port)
        sqs_pid = _sqs_pid(proc.pid)

        step("Create the demo tenant")
        created = json.loads(qunyun("tenants", "create", TENANT, "--name", "一茶一会 Tea Club", "--local",
                                    "--json").stdout)
        secret = created["webhook_secret"]
        if "guard" in parts:
            set_group_rules(qunyun, step, DEMO, TENANT)

        step("Import a CSV with bad rows: nothing is imported, every bad row is named")
        bad = qunyun("groups", "import", str(DEMO / "groups_bad.csv"), "--tenant", TENANT, "--local", check=False)
        assert bad.returncode == 2, "a bad file must be refused"

        step("Import the sample groups")
        qunyun("groups", "import", str(dated("groups.csv", demo_dates.groups)), "--tenant", TENANT, "--local")
        qunyun("groups", "list", "--tenant", TENANT, "--local")
        qunyun("groups", "show", "tea-learning", "--tenant", TENANT, "--local")

        step("Call the signed webhook API as a mall would: GET /v1/tenant")
        for label, args in [
            ("signed with the tenant's secret", (TENANT, secret)),
            ("signed with a wrong secret", (TENANT, "not-the-secret")),
            ("signed ten minutes ago", (TENANT, secret, int(time.time()) - 600)),
        ]:
            status, body = signed_get(state["port"], "/v1/tenant", *args)
            print(f"{label}: HTTP {status} {json.dumps(body, ensure_ascii=False)}")

        if "points" in parts:
            points_demo(state["port"], secret)
        if "briefs" in parts:
            wecom_setup()
            follow_up_demo(robots, state, brief_demo(robots, state))
        if "mall" in parts:
            mall_demo(state["port"], secret)
        if "reminders" in parts:
            reminder_demo()
        if "flash" in parts:
            flash_demo(state["port"], secret)
        if "inbound" in parts:
            inbound_demo(state["port"], TENANT, robots, qunyun, step)
        if "links" in parts:
            links_demo(state["port"], TENANT, robots, qunyun, step, (CORP_ID, CORP_SECRET))
        if "guard" in parts:
            guard_demo(state["port"], TENANT, robots, qunyun, step, DEMO)
        if "console" in parts:
            console_demo(state["port"], TENANT, qunyun, step)
    finally:
        step("Stop the local stack")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
        robots.__exit__(None, None, None)
        print((STATE / "demo-stack.log").read_text(errors="replace").strip().splitlines()[-1])
    left = {name: pid for name, pid in (("DynamoDB Local", locals().get("java_pid")),
                                        ("the SQS endpoint", locals().get("sqs_pid"))) if pid and _alive(pid)}
    if left:
        name, pid = next(iter(left.items()))
        raise SystemExit(f"demo: {name} (pid {pid}) is still running after shutdown")
    print(f"Stopped (exit code {proc.returncode}); DynamoDB Local and the SQS endpoint are gone. Demo complete.")
    return 0


def _java_pid(ddb_port: int) -> int | None:
    return next(iter(processes_with("DynamoDBLocal.jar", str(ddb_port))), None)


def _sqs_pid(stack_pid: int) -> int | None:
    """The local SQS endpoint (moto) the stack with this pid started."""
    return next(iter(processes_with("qunyun_ops.local.sqs_server", str(stack_pid))), None)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
