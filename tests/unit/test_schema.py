"""Every table is declared once, in template.yaml; PynamoDB models must agree with it exactly."""

from __future__ import annotations

import pytest
from pynamodb.models import Model
from qunyun.adapters import tables
from qunyun_ops.local.tables import table_request
from qunyun_ops.local.template import Template
from qunyun_ops.paths import TEMPLATE
from support import STACK

MODELS = [m for m in vars(tables).values() if isinstance(m, type) and issubclass(m, Model) and m is not Model]


def _template_tables() -> dict[str, dict]:
    return {table_request(p, STACK)["TableName"]: p for p in Template.read(TEMPLATE).tables.values()}


def _model_shape(model: type[Model]) -> dict:
    schema = model._get_schema()
    return {
        "keys": sorted((k["AttributeName"], k["KeyType"]) for k in schema["key_schema"]),
        "attributes": sorted((a["AttributeName"], a["AttributeType"]) for a in schema["attribute_definitions"]),
        "gsis": sorted(
            (g["IndexName"], tuple((k["AttributeName"], k["KeyType"]) for k in g["KeySchema"]),
             g["Projection"]["ProjectionType"])
            for g in schema.get("global_secondary_indexes", [])
        ),
        "ttl": model._ttl_attribute().attr_name if model._ttl_attribute() else None,
    }


def _template_shape(props: dict) -> dict:
    return {
        "keys": sorted((k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]),
        "attributes": sorted((a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]),
        "gsis": sorted(
            (g["IndexName"], tuple((k["AttributeName"], k["KeyType"]) for k in g["KeySchema"]),
             g["Projection"]["ProjectionType"])
            for g in props.get("GlobalSecondaryIndexes", [])
        ),
        "ttl": (props.get("TimeToLiveSpecification") or {}).get("AttributeName"),
    }


def test_every_model_has_a_table_and_every_table_a_model():
    assert sorted(m.Meta.table_name for m in MODELS) == sorted(_template_tables())


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_model_matches_template(model):
    props = _template_tables()[model.Meta.table_name]
    assert _model_shape(model) == _template_shape(props)


def test_drift_is_detected():
    # GIVEN the template's groups table with its sort key renamed
    props = dict(_template_tables()[tables.GroupItem.Meta.table_name])
    props["KeySchema"] = [dict(k, AttributeName="gid") if k["KeyType"] == "RANGE" else k for k in props["KeySchema"]]
    # THEN the comparison the real test uses tells them apart
    assert _model_shape(tables.GroupItem) != _template_shape(props)
