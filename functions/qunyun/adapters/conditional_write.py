"""One conditional write made with the DynamoDB client (a stage's, or what a standing stage leaves): its expression
parameters, and the write done, or refused by its condition, which for a write that is repeated means it was made
already. Any other error raises."""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError
from pynamodb.expressions.update import Update

FAILED = "ConditionalCheckFailedException"


def written(call: Callable[..., object], **params) -> bool:
    """Makes the write (`call`, a client method, with its params); False when its condition failed."""
    try:
        call(**params)
        return True
    except ClientError as err:
        if err.response["Error"]["Code"] == FAILED:
            return False
        raise


def expression_params(condition, actions: list | None = None) -> dict:
    """The expression parameters of a single write (a staged change's): its condition, and an update's actions."""
    names: dict[str, str] = {}
    values: dict = {}
    params = {}
    if actions:
        params["UpdateExpression"] = Update(*actions).serialize(names, values)
    if condition is not None:
        params["ConditionExpression"] = condition.serialize(names, values)
    params["ExpressionAttributeNames"] = {v: k for k, v in names.items()}
    if values:
        params["ExpressionAttributeValues"] = values
    return params
