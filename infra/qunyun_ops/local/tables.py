"""Creates the tables declared in template.yaml on DynamoDB Local."""

from __future__ import annotations

from typing import Any

from qunyun_ops.local.template import Template, resolve

_KEEP = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification")


def table_request(props: dict[str, Any], stack_name: str) -> dict[str, Any]:
    request = {k: props[k] for k in _KEEP if k in props}
    request["TableName"] = resolve(props["TableName"], stack_name)
    request["BillingMode"] = props.get("BillingMode", "PAY_PER_REQUEST")
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    return request


def create_tables(client: Any, template: Template, stack_name: str) -> list[str]:
    """Creates every missing table (with its GSIs and TTL setting) and returns all table names."""
    existing = set(client.list_tables().get("TableNames", []))
    names = []
    for props in template.tables.values():
        request = table_request(props, stack_name)
        name = request["TableName"]
        names.append(name)
        if name in existing:
            continue
        client.create_table(**request)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
    return names
