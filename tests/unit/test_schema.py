"""Every table is declared once, in template.yaml; PynamoDB models must agree with it exactly."""

from __future__ import annotations

import pytest
from pynamodb.models import Model
from qunyun.adapters import community_tables, deliveries_tables, metrics_tables, points_tables, tables
from qunyun_ops.local.tables import table_request
from qunyun_ops.local.template import Template
from qunyun_ops.paths import TEMPLATE
from support import STACK

_MODULES = (tables, points_tables, deliveries_tables, community_tables, metrics_tables)
MODELS = sorted(
    {m for mod in _MODULES for m in vars(mod).values()
     if isinstance(m, type) and issubclass(m, Model) and m is not Model and not m.__name__.startswith("_")},
    key=lambda m: m.__name__,
)


def _template_tables() -> dict[str, dict]:
    return {table_request(p, STACK)["TableName"]: p for p in Template.read(TEMPLATE).tables.values()}


def _gsi_shape(index_name, key_schema, projection) -> tuple:
    keys = tuple(sorted((k["AttributeName"], k["KeyType"]) for k in key_schema))
    return index_name, keys, projection["ProjectionType"], tuple(sorted(projection.get("NonKeyAttributes", [])))


def _model_shape(model: type[Model]) -> dict:
    schema = model._get_schema()
    return {
        "keys": sorted((k["AttributeName"], k["KeyType"]) for k in schema["key_schema"]),
        "gsis": {_gsi_shape(g["index_name"], g["key_schema"], g["projection"])
                 for g in schema.get("global_secondary_indexes", [])},
        "attributes": {(a["AttributeName"], a["AttributeType"]) for a in schema["attribute_definitions"]},
        "ttl": model._ttl_attribute().attr_name if model._ttl_attribute() else None,
    }


def _template_shape(props: dict) -> dict:
    return {
        "keys": sorted((k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]),
        "gsis": {_gsi_shape(g["IndexName"], g["KeySchema"], g["Projection"])
                 for g in props.get("GlobalSecondaryIndexes", [])},
        "attributes": {(a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]},
        "ttl": (props.get("TimeToLiveSpecification") or {}).get("AttributeName"),
    }


def _check(models: list[type[Model]], props: dict) -> list[str]:
    """Differences between the models of one table and its declaration; [] when they agree."""
    want, problems = _template_shape(props), []
    gsis, attributes = set(), set()
    for model in models:
        have = _model_shape(model)
        if have["keys"] != want["keys"]:
            problems.append(f"{model.__name__}: keys {have['keys']} != {want['keys']}")
        if have["ttl"] != want["ttl"] and have["ttl"] is not None:
            problems.append(f"{model.__name__}: TTL {have['ttl']} != {want['ttl']}")
        gsis |= have["gsis"]
        attributes |= have["attributes"]
    if gsis != want["gsis"]:
        problems.append(f"indexes {sorted(gsis)} != {sorted(want['gsis'])}")
    if attributes != want["attributes"]:
        problems.append(f"key attributes {sorted(attributes)} != {sorted(want['attributes'])}")
    return problems


def test_every_model_has_a_table_and_every_table_a_model():
    assert {m.Meta.table_name for m in MODELS} == set(_template_tables())


@pytest.mark.parametrize("table", sorted(_template_tables()))
def test_models_match_template(table):
    models = [m for m in MODELS if m.Meta.table_name == table]
    assert _check(models, _template_tables()[table]) == []


def test_drift_is_detected():
    # GIVEN the points table's declaration with the due index's projection widened and a key renamed
    props = dict(_template_tables()[points_tables.LotItem.Meta.table_name])
    widened = [dict(g, Projection={"ProjectionType": "ALL"}) if g["IndexName"] == "lots_due" else g
               for g in props["GlobalSecondaryIndexes"]]
    assert widened != props["GlobalSecondaryIndexes"]
    models = [m for m in MODELS if m.Meta.table_name == points_tables.LotItem.Meta.table_name]
    # THEN the same comparison the real test uses reports each difference
    assert _check(models, dict(props, GlobalSecondaryIndexes=widened))
    renamed = [dict(k, AttributeName="gid") if k["KeyType"] == "RANGE" else k for k in props["KeySchema"]]
    assert _check(models, dict(props, KeySchema=renamed))
