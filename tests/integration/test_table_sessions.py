"""Every model's connection uses its thread's one botocore session. A session loads botocore's service model
and endpoint rules before its first client (about 100 ms); with a session per model, as PynamoDB makes them,
a cold start paid that once per model it used (tests/bench/cold_start.py measures both)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import date

# A fresh interpreter, where no model has made its client yet (in this one, earlier tests may have made some
# in other threads): every model's client and the ledger's, then whose session each connection holds.
FRESH = """
import json
import qunyun.adapters.deliveries_tables, qunyun.adapters.points_tables, qunyun.adapters.tables
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tables import thread_session
from support import leaf_models

connections = [m._get_connection().connection for m in leaf_models()] + [PointsLedger()._connection]
for c in connections:
    c.client
print(json.dumps({"connections": len(connections),
                  "sessions": len({id(c.session) for c in connections}),
                  "the_threads": all(c.session is thread_session() for c in connections)}))
"""


def test_every_model_and_the_ledger_use_the_threads_session(ddb):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.pathsep.join([os.path.join(root, "functions"), os.path.join(root, "tests")])
    out = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": path})
    made = json.loads(out.stdout.strip().splitlines()[-1])
    assert made["connections"] > 20
    assert (made["sessions"], made["the_threads"]) == (1, True)


def test_the_shared_session_serves_requests_of_several_tables(ddb):
    from qunyun.adapters.deliveries import DeliveryRepository
    from qunyun.adapters.groups import GroupRepository
    from qunyun.adapters.points_ledger import PointsLedger
    from qunyun.adapters.tenants import TenantRepository

    # Four tables, read through models (and the ledger's own connection) made in one session.
    assert TenantRepository().get("no-such-tenant") is None
    assert GroupRepository().get("no-such-tenant", "g1") is None
    assert DeliveryRepository().day("no-such-tenant", "g1", date(2026, 12, 1)).begun is False
    assert PointsLedger().member("no-such-tenant", "m1").exists is False


def test_a_thread_makes_clients_from_a_session_of_its_own_and_no_session_for_clients_made(ddb):
    from pynamodb.connection import Connection
    from qunyun.adapters import tables
    from qunyun.adapters.tables import GroupItem, _Meta, share_session

    made = GroupItem._get_connection().connection.client
    mine = tables.thread_session()
    seen = {}

    def other() -> None:
        assert GroupItem._get_connection().connection.client is made
        seen["before"] = getattr(tables._thread, "session", None)  # no session made for a made client
        fresh = share_session(Connection(region=_Meta.region, host=_Meta.host))  # no client yet
        seen["client"] = fresh.client
        seen["fresh"] = fresh.session
        seen["thread"] = tables.thread_session()

    worker = threading.Thread(target=other)
    worker.start()
    worker.join()
    assert seen["before"] is None
    assert seen["client"] is not made
    assert seen["fresh"] is seen["thread"]
    assert seen["fresh"] is not mine
