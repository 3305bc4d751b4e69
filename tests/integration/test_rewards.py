"""Rewards: the operator's file, sharded stock whose totals stay exact, restocking, term updates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.errors import InvalidRequest, NotFound, QunyunError
from qunyun.domain.mall import Reward, RewardsFile, shard_count, split_stock
from qunyun.services.mall import add_rewards, list_rewards, restock
from qunyun_ops.cli.yamlfile import load_model

NOW = datetime.now(UTC)


def test_shards_follow_the_threshold_and_split_exactly():
    assert [shard_count(s, 1000) for s in (0, 1000, 1001, 5000, 10**6)] == [1, 1, 2, 5, 32]
    assert split_stock(10, 3) == [4, 3, 3] and sum(split_stock(999_999, 32)) == 999_999


def test_add_list_restock_and_update_terms(tenant):
    t, ledger = TenantRepository().get(tenant.tenant_id), PointsLedger()
    said = add_rewards(t, [Reward(id="mug", name="Mug", cost=100, stock=10),
                           Reward(id="tea", name="Tea", cost=20, stock=2500)], ledger=ledger, now=NOW)
    assert said == ["mug: added, stock 10 in 1 shard(s)", "tea: added, stock 2500 in 3 shard(s)"]
    assert restock(t, "tea", 7, ledger=ledger) == 2507
    assert restock(t, "tea", -500, ledger=ledger) == 2007
    with pytest.raises(QunyunError) as err:
        restock(t, "mug", -11, ledger=ledger)
    assert err.value.code == "out_of_stock"
    with pytest.raises(NotFound):
        restock(t, "nope", 1, ledger=ledger)
    # re-adding changes the terms, never the stock
    said = add_rewards(t, [Reward(id="mug", name="Big mug", cost=120, stock=999)], ledger=ledger, now=NOW)
    assert said == ["mug: terms updated; stock unchanged (use `rewards restock`)"]
    rewards = {r["reward_id"]: r for r in list_rewards(t, ledger=ledger, now=NOW)}
    assert (rewards["mug"]["name"], rewards["mug"]["cost"], rewards["mug"]["stock"]) == ("Big mug", 120, 10)
    assert (rewards["tea"]["stock"], rewards["tea"]["shards"]) == (2007, 3)


@pytest.mark.parametrize("text, words", [
    ("rewards:\n  - {id: a, name: A, cost: 0, stock: 1}\n", "rewards.0.cost"),
    ("rewards:\n  - {id: a, name: A, cost: 1, stock: -1}\n", "rewards.0.stock"),
    ("rewards:\n  - {id: a, name: A, cost: '5', stock: 1}\n", "rewards.0.cost"),
    ("rewards:\n  - {id: a, name: A, cost: 1, stock: 1}\n  - {id: a, name: B, cost: 1, stock: 1}\n", "repeated: a"),
    ("rewards:\n  - {id: a, name: A, cost: 1, stock: 1, fulfilment_url: ftp://x}\n", "http(s) URL"),
    ("rewards:\n  - {id: a, name: A, cost: 1, stock: 1, active_from: 2026-11-01T00:00:00}\n", "UTC offset"),
    ("rewards:\n  - {id: a, name: A, cost: 1, stock: 1, limit_period: year}\n", "rewards.0.limit_period"),
    ("rewards:\n  - {id: a, name: A, cost: 1, stock: 1, colour: red}\n", "rewards.0.colour"),
    ("rewards:\n  - id: a\n    name: A\n    cost: 1\n    stock: 1\n    active_from: 2026-11-31T00:00:00+08:00\n",
     "line 6, rewards.0.active_from"),
    ("rewards:\n  - {id: a, name: A, cost: 1, stock: 1, active_until: 2026-02-30}\n", "line 2, rewards.0.active_until"),
    ("rewards: [\n", "line"),
    ("- just a list\n", "mapping"),
])
def test_bad_rewards_files_name_the_field(tmp_path: Path, text, words):
    path = tmp_path / "rewards.yaml"
    path.write_text(text)
    with pytest.raises(InvalidRequest) as err:
        load_model(path, RewardsFile)
    assert words in err.value.message and str(path) in err.value.message
