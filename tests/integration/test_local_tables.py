"""The local stack's tables follow the template's indexes, as a stack update does on AWS: a table kept in a data
folder from an older version gets the indexes the template now declares (the points table's `due` index became
the keys-only `lots_due`, docs/ledger.md; the `board` index gave way to the table's stream)."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path

from qunyun_ops.local.tables import align_indexes, align_stream, create_tables, table_request
from qunyun_ops.local.template import Template

ROOT = Path(__file__).resolve().parents[2]


def points_request(stack: str, keep_old_due: bool = False, keep_board: bool = False) -> dict:
    template = Template.read(ROOT / "template.yaml")
    if keep_old_due or keep_board:
        doc = copy.deepcopy(template.doc)
        if keep_old_due:
            doc["Parameters"]["KeepOldDueIndex"]["Default"] = "true"
        if keep_board:
            doc["Parameters"]["KeepBoardIndex"]["Default"] = "true"
        template = Template(template.path, doc)
    props = next(p for p in template.tables.values() if "points" in str(p["TableName"]))
    return table_request(props, stack)


def older(request: dict) -> dict:
    """The points table as the version before declared it: `due`, projecting every attribute."""
    request = copy.deepcopy(request)
    for index in request["GlobalSecondaryIndexes"]:
        if index["IndexName"] == "lots_due":
            index["IndexName"], index["Projection"] = "due", {"ProjectionType": "ALL"}
    return request


def test_an_older_points_table_gets_the_keys_only_due_index_and_keeps_its_lots(ddb):
    # GIVEN a points table made by the older version, holding a lot due in its index
    now = points_request(f"align-{uuid.uuid4().hex[:6]}")
    ddb.create_table(**older(now))
    lot = {"pk": {"S": "t1#u1"}, "sk": {"S": "L#2027-12-31"}, "remaining": {"N": "30"},
           "due_pk": {"S": "DUE#1"}, "due_sk": {"S": "2027-12-31T16:00:00+00:00#t1#u1#L#2027-12-31"}}
    ddb.put_item(TableName=now["TableName"], Item=lot)
    # WHEN its indexes are brought in line with the template, twice
    first = align_indexes(ddb, now)
    second = align_indexes(ddb, now)
    # THEN the old index is gone, the new one lists the lot by its keys alone, and the second pass does nothing
    assert first == ["delete due", "create lots_due"] and second == []
    indexes = {g["IndexName"]: g for g in ddb.describe_table(TableName=now["TableName"])["Table"]
               ["GlobalSecondaryIndexes"]}
    assert "due" not in indexes and indexes["lots_due"]["Projection"]["ProjectionType"] == "KEYS_ONLY"
    found = ddb.query(TableName=now["TableName"], IndexName="lots_due", KeyConditionExpression="due_pk = :q",
                      ExpressionAttributeValues={":q": {"S": "DUE#1"}})["Items"]
    assert found == [{k: lot[k] for k in ("pk", "sk", "due_pk", "due_sk")}]
    ddb.delete_table(TableName=now["TableName"])


def test_the_upgrade_in_two_deploys_changes_one_index_each(ddb):
    # GIVEN a points table made by the older version
    stack = f"upgrade-{uuid.uuid4().hex[:6]}"
    now, keeping = points_request(stack), points_request(stack, keep_old_due=True)
    ddb.create_table(**older(now))
    # WHEN it is deployed first with KeepOldDueIndex=true, then with the default (docs/deploying.md)
    first, second = align_indexes(ddb, keeping), align_indexes(ddb, now)
    # THEN each deploy adds or deletes one index, as a stack update must: lots_due first, then the old due
    assert first == ["create lots_due"] and second == ["delete due"]
    ddb.delete_table(TableName=now["TableName"])


def before_the_stream(stack: str) -> dict:
    """The points table as the version before its stream declared it: no stream, its day lists on `board`."""
    request = points_request(stack, keep_board=True)
    request.pop("StreamSpecification")
    return request


def _table(ddb, name: str) -> tuple[set[str], bool]:
    described = ddb.describe_table(TableName=name)["Table"]
    return ({g["IndexName"] for g in described.get("GlobalSecondaryIndexes", [])},
            bool((described.get("StreamSpecification") or {}).get("StreamEnabled")))


def test_the_stream_upgrade_in_two_deploys_makes_one_table_change_each(ddb):
    # GIVEN a points table made before the stream: its entries listed on the board index, no stream
    stack = f"stream-{uuid.uuid4().hex[:6]}"
    now, keeping = points_request(stack), points_request(stack, keep_board=True)
    ddb.create_table(**before_the_stream(stack))
    name = now["TableName"]
    assert _table(ddb, name) == ({"lots_due", "members", "fulfil", "board"}, False)
    # WHEN it is deployed first with KeepBoardIndex=true (docs/deploying.md)
    first = (align_indexes(ddb, keeping), align_stream(ddb, keeping))
    # THEN that deploy turns the stream on and changes no index
    assert first == ([], True) and _table(ddb, name) == ({"lots_due", "members", "fulfil", "board"}, True)
    # WHEN it is deployed again with the default
    second = (align_indexes(ddb, now), align_stream(ddb, now))
    # THEN that deploy deletes the board index alone
    assert second == (["delete board"], False) and _table(ddb, name) == ({"lots_due", "members", "fulfil"}, True)
    ddb.delete_table(TableName=name)


def test_create_tables_leaves_tables_in_line_with_the_template_as_they_are(ddb):
    # GIVEN the session's tables, made from the template
    from conftest import STACK

    before = {name: ddb.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])
              for name in ddb.list_tables()["TableNames"] if name.startswith(f"{STACK}-")}
    # WHEN the local stack's setup runs again over them
    create_tables(ddb, Template.read(ROOT / "template.yaml"), STACK)
    # THEN no index was deleted or made again
    after = {name: ddb.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", []) for name in before}
    assert before and after == before
