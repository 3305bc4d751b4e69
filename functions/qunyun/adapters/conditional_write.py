"""One conditional write made with the DynamoDB client (a stage's, or what a standing stage leaves): done, or refused
by its condition, which for a write that is repeated means it was made already. Any other error raises."""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError

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
