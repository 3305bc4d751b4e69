"""The local stack reads a table's properties as CloudFormation would under the parameters' defaults: `!If` takes
its branch, `!Ref AWS::NoValue` leaves the entry out."""

from __future__ import annotations

from pathlib import Path

import pytest
from qunyun_ops.local.template import Template, load

DOC = """
Parameters:
  Keep:
    Type: String
    Default: "false"
  Mail:
    Type: String
    Default: ""
Conditions:
  Keeps: !Equals [!Ref Keep, "true"]
  HasMail: !Not [!Equals [!Ref Mail, ""]]
  Both: !And [{Condition: Keeps}, {Condition: HasMail}]
  Either: !Or [{Condition: Keeps}, !Equals [!Ref Mail, ""]]
Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: t
      GlobalSecondaryIndexes:
        - IndexName: new
        - !If [Keeps, {IndexName: old}, !Ref AWS::NoValue]
      StreamSpecification: !If [HasMail, {StreamViewType: KEYS_ONLY}, !Ref AWS::NoValue]
      BillingMode: !If [Keeps, PROVISIONED, PAY_PER_REQUEST]
"""


def template(tmp_path: Path, **defaults: str) -> Template:
    path = tmp_path / "template.yaml"
    path.write_text(DOC, encoding="utf-8")
    doc = load(path)
    for name, value in defaults.items():
        doc["Parameters"][name]["Default"] = value
    return Template(path, doc)


def test_the_defaults_leave_the_conditional_entries_out(tmp_path):
    props = template(tmp_path).tables["T"]
    assert props == {"TableName": "t", "GlobalSecondaryIndexes": [{"IndexName": "new"}],
                     "BillingMode": "PAY_PER_REQUEST"}


def test_other_values_take_the_other_branches(tmp_path):
    props = template(tmp_path, Keep="true", Mail="ops@example.com").tables["T"]
    assert props["GlobalSecondaryIndexes"] == [{"IndexName": "new"}, {"IndexName": "old"}]
    assert props["StreamSpecification"] == {"StreamViewType": "KEYS_ONLY"} and props["BillingMode"] == "PROVISIONED"


@pytest.mark.parametrize(("keep", "mail", "both", "either"),
                         [("false", "", False, True), ("true", "", False, True), ("true", "a@b", True, True),
                          ("false", "a@b", False, False)])
def test_and_or_not_and_named_conditions(tmp_path, keep, mail, both, either):
    t = template(tmp_path, Keep=keep, Mail=mail)
    assert t.holds({"Condition": "Both"}) is both and t.holds({"Condition": "Either"}) is either


def test_a_condition_it_cannot_read_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="unsupported condition Fn::Contains"):
        template(tmp_path).holds({"Fn::Contains": [["a"], "a"]})
