"""The points mall against `qunyun local up`: independent signed HTTP clients racing for the last units.

Each client here knows only the public contract (API.md §1-3): it signs its requests, counts what it was
answered, and keeps its own model of every balance and of the stock, which the mall must then agree with.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from support_stack import Stack, post_json

CHECKIN = 5  # the base check-in points of the rules below: every member starts with exactly this much

RULES = """\
checkin: {base: 5}
expiry: {policy: never}
"""

REWARDS = """\
rewards:
  - {id: mug, name: Logo mug, cost: 1, stock: 10}
  - {id: tea, name: Tea sample, cost: 1, stock: 100}
"""


@pytest.fixture(scope="module")
def mall(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("mall-state")).up("--no-schedule")
    secrets = {}
    for tenant in ("shop-a", "shop-b"):
        created = stack.cli("tenants", "create", tenant, "--name", tenant, "--local", "--json")
        assert created.returncode == 0, created.stderr
        secrets[tenant] = json.loads(created.stdout)["webhook_secret"]
    (stack.state / "rules.yaml").write_text(RULES)
    (stack.state / "rewards.yaml").write_text(REWARDS)
    for args in (("points", "rules", "set", str(stack.state / "rules.yaml")),
                 ("rewards", "add", str(stack.state / "rewards.yaml"))):
        done = stack.cli(*args, "--tenant", "shop-a", "--local")
        assert done.returncode == 0, done.stderr
    yield stack, secrets
    stack.stop()


def post(mall, path: str, body: dict, tenant: str = "shop-a"):
    stack, secrets = mall
    return post_json(stack, path, tenant, secrets[tenant], body)


def get(mall, path: str, tenant: str = "shop-a"):
    stack, secrets = mall
    return stack.get(path, tenant, secrets[tenant])


def check_in(mall, members: list[str]) -> None:
    """Gives each member exactly CHECKIN available points, in one signed batch."""
    now = datetime.now(UTC).isoformat()
    events = [{"event_id": f"ci-{m}", "type": "checkin", "member_id": m, "occurred_at": now} for m in members]
    resp = post(mall, "/v1/points/events", {"events": events})
    assert resp.status_code == 200, resp.text
    assert [r["granted"] for r in resp.json()["results"]] == [CHECKIN] * len(members)


def stock_of(mall, reward: str) -> int:
    resp = get(mall, "/v1/mall/rewards")
    assert resp.status_code == 200, resp.text
    return next(r for r in resp.json()["rewards"] if r["reward_id"] == reward)["stock"]


def balance_of(mall, member: str, tenant: str = "shop-a") -> dict:
    resp = get(mall, f"/v1/members/{member}", tenant)
    assert resp.status_code == 200, resp.text
    return resp.json()["balance"]


def all_at_once(calls: list, workers: int = 16) -> list:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda call: call(), calls))


def redeem(mall, request_id: str, member: str, reward: str, quantity: int = 1):
    return lambda: post(mall, "/v1/mall/redemptions", {"request_id": request_id, "member_id": member,
                                                        "reward_id": reward, "quantity": quantity})


def test_200_concurrent_redemptions_of_10_units_by_50_members(mall):
    # GIVEN a 10-unit reward costing 1 point and 50 members with 5 points each
    members = [f"m{i:02d}" for i in range(50)]
    check_in(mall, members)
    assert stock_of(mall, "mug") == 10

    # WHEN 200 signed redemptions, four per member, arrive from 16 clients at once
    requests = [(f"race-{i}", members[i % 50]) for i in range(200)]
    answers = all_at_once([redeem(mall, rid, m, "mug") for rid, m in requests])

    # THEN exactly 10 orders are placed and 190 refused as out of stock
    assert Counter(a.status_code for a in answers) == {201: 10, 422: 190}
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 422} == {"out_of_stock"}
    # AND the clients' own model agrees with the mall: stock 0, each winner paid 1 point per order
    assert stock_of(mall, "mug") == 0
    wins = Counter(m for (_, m), a in zip(requests, answers, strict=True) if a.status_code == 201)
    for m in members:
        got = balance_of(mall, m)
        assert (got["available"], got["spent"]) == (CHECKIN - wins[m], wins[m]), m
    # AND every order can be read back as placed
    for a in answers:
        if a.status_code == 201:
            order = get(mall, f"/v1/mall/redemptions/{a.json()['order_id']}")
            assert order.status_code == 200 and order.json()["status"] == "placed"
    # AND `qunyun points reconcile` finds every balance equal to its entries
    stack, _ = mall
    checked = stack.cli("points", "reconcile", "--tenant", "shop-a", "--local")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "every balance matches" in checked.stdout and "Reconciled 50 members" in checked.stdout


def test_1000_replays_of_one_request_place_one_order_and_debit_once(mall):
    # GIVEN a member with 5 points
    check_in(mall, ["rep"])
    before = stock_of(mall, "tea")

    # WHEN one redemption is sent 1,000 times, 16 at a time
    answers = all_at_once([redeem(mall, "rep-1", "rep", "tea")] * 1000)

    # THEN every answer is the same order; all but the first say they are replays
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["order_id"] for a in answers}) == 1
    assert Counter(a.headers.get("Idempotent-Replayed") for a in answers) == {"true": 999, None: 1}
    # AND one unit and one point were taken
    got = balance_of(mall, "rep")
    assert (got["available"], got["spent"]) == (CHECKIN - 1, 1)
    assert stock_of(mall, "tea") == before - 1


def test_points_for_3_units_buy_3_of_10_concurrent_requests_and_replays_change_nothing(mall):
    # GIVEN a member with 5 points who already spent 2 of them on tea
    check_in(mall, ["u3"])
    assert redeem(mall, "u3-first", "u3", "tea", quantity=2)().status_code == 201
    before = stock_of(mall, "tea")

    # WHEN the member sends 10 different redemptions at once, each replayed 5 times concurrently
    calls = [redeem(mall, f"u3-{i}", "u3", "tea") for i in range(10) for _ in range(5)]
    answers = all_at_once(calls)

    # THEN 3 request ids are placed, 7 refused for want of points, and each id got one answer 5 times
    by_id: dict[str, set] = {}
    for i, a in enumerate(answers):
        by_id.setdefault(f"u3-{i // 5}", set()).add((a.status_code, json.dumps(a.json(), sort_keys=True)))
    assert all(len(v) == 1 for v in by_id.values()), json.dumps({k: sorted(v) for k, v in by_id.items()}, indent=1)
    assert Counter(next(iter(v))[0] for v in by_id.values()) == {201: 3, 422: 7}
    # AND the member has nothing left, the stock fell by 3
    got = balance_of(mall, "u3")
    assert (got["available"], got["spent"]) == (0, 5)
    assert stock_of(mall, "tea") == before - 3


def test_another_tenant_cannot_see_or_touch_shop_a(mall):
    # GIVEN an order placed in shop-a
    check_in(mall, ["iso"])
    placed = redeem(mall, "iso-1", "iso", "tea")()
    assert placed.status_code == 201
    oid = placed.json()["order_id"]

    # WHEN shop-b, correctly signed with its own secret, asks for or acts on shop-a's things
    answers = {
        "member": get(mall, "/v1/members/iso", "shop-b"),
        "order": get(mall, f"/v1/mall/redemptions/{oid}", "shop-b"),
        "cancel": post(mall, f"/v1/mall/redemptions/{oid}/cancel", {"request_id": "b-1", "reason": "x"}, "shop-b"),
        "redeem": post(mall, "/v1/mall/redemptions", {"request_id": "b-2", "member_id": "iso", "reward_id": "tea",
                                                      "quantity": 1}, "shop-b"),
        "rewards": get(mall, "/v1/mall/rewards", "shop-b"),
    }

    # THEN it finds nothing of shop-a's, and shop-a's order and member are unchanged
    assert answers["member"].status_code == 404
    assert answers["order"].status_code == 404
    assert answers["cancel"].status_code == 404
    assert answers["redeem"].status_code == 422 and answers["redeem"].json()["error"]["code"] in (
        "unknown_reward", "unknown_member")
    assert answers["rewards"].json()["rewards"] == []
    assert get(mall, f"/v1/mall/redemptions/{oid}").json()["status"] == "placed"
    got = balance_of(mall, "iso")
    assert (got["available"], got["spent"]) == (CHECKIN - 1, 1)
