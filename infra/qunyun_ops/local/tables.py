"""Creates the tables declared in template.yaml on DynamoDB Local."""

from __future__ import annotations

import time
from typing import Any

from qunyun_ops.local.template import Template, resolve

_KEEP = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification")


def table_request(props: dict[str, Any], stack_name: str) -> dict[str, Any]:
    request = {k: props[k] for k in _KEEP if k in props}
    request["TableName"] = resolve(props["TableName"], stack_name)
    if "StreamSpecification" in request:  # CloudFormation's has the view type alone; the API's says it is on
        request["StreamSpecification"] = {"StreamEnabled": True, **request["StreamSpecification"]}
    request["BillingMode"] = props.get("BillingMode", "PAY_PER_REQUEST")
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    return request


def create_tables(client: Any, template: Template, stack_name: str, streams: bool = True) -> list[str]:
    """Creates every missing table (with its GSIs and TTL setting), brings the indexes of those that exist in line
    with the template, and returns all table names. `streams=False` leaves the tables' streams off: DynamoDB Local
    slows every write to a table that keeps one, which AWS does not, so benchmarks time without them and turn a
    stream on for the untimed pass that needs it (tests/bench/pages.py)."""
    existing = set(client.list_tables().get("TableNames", []))
    names = []
    for props in template.tables.values():
        request = table_request(props, stack_name)
        if not streams:
            request.pop("StreamSpecification", None)
        name = request["TableName"]
        names.append(name)
        if name in existing:
            align_indexes(client, request)
            align_stream(client, request)
            continue
        client.create_table(**request)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
    return names


def align_stream(client: Any, request: dict[str, Any]) -> bool:
    """Turns on the stream the template declares on a table made before it did; True if it did."""
    wanted = request.get("StreamSpecification")
    have = client.describe_table(TableName=request["TableName"])["Table"].get("StreamSpecification") or {}
    if not wanted or have.get("StreamEnabled"):
        return False
    client.update_table(TableName=request["TableName"], StreamSpecification=wanted)
    return True


def align_indexes(client: Any, request: dict[str, Any], wait: float = 60.0) -> list[str]:
    """Brings an existing table's global secondary indexes in line with the template, as a stack update does: an
    index the template no longer declares is deleted, a new one created, and one whose keys or projection changed
    is deleted and created again. One index at a time, each change waited on (DynamoDB takes one per UpdateTable).
    Returns what it did, e.g. ["delete due", "create lots_due"]; a table in line with the template is left as is."""
    name = request["TableName"]
    wanted = {g["IndexName"]: g for g in request.get("GlobalSecondaryIndexes", [])}
    have = {g["IndexName"]: g for g in client.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])}
    stale = [index for index, described in have.items()
             if index not in wanted or not _same_index(described, wanted[index])]
    done = []
    for index in stale:
        client.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": index}}])
        _settle(client, name, wait)
        done.append(f"delete {index}")
    for index, declared in wanted.items():
        if index not in have or index in stale:
            client.update_table(TableName=name, AttributeDefinitions=request["AttributeDefinitions"],
                                GlobalSecondaryIndexUpdates=[{"Create": declared}])
            _settle(client, name, wait)
            done.append(f"create {index}")
    return done


def _same_index(described: dict[str, Any], declared: dict[str, Any]) -> bool:
    return described["KeySchema"] == declared["KeySchema"] and _projection(described) == _projection(declared)


def _projection(index: dict[str, Any]) -> tuple[str, list[str]]:
    p = index["Projection"]
    return p.get("ProjectionType", "ALL"), sorted(p.get("NonKeyAttributes", []))


def _settle(client: Any, name: str, wait: float) -> None:
    """Waits until the table and every index are ACTIVE (DynamoDB Local is usually at once)."""
    deadline = time.monotonic() + wait
    while True:
        table = client.describe_table(TableName=name)["Table"]
        if table["TableStatus"] == "ACTIVE" and all(
                g.get("IndexStatus", "ACTIVE") == "ACTIVE" for g in table.get("GlobalSecondaryIndexes", [])):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {name} did not become ACTIVE within {wait:.0f} s")
        time.sleep(0.2)
