"""What the functions fed whole batches of group events by an SQS queue share (ProcessGroupEvents, GuardOffences):
the records read as group events, and the records they could not finish reported back as partial batch failures,
which SQS delivers again."""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from qunyun.domain.group_events import GROUP_EVENT, GroupEvent


def group_events(event: dict) -> tuple[list[tuple[str, GroupEvent]], set[str]]:
    """Each record's (message id, group event), and the ids of the records that are not one."""
    parsed, unreadable = [], set()
    for record in event.get("Records") or []:
        try:
            parsed.append((record["messageId"], GROUP_EVENT.validate_json(record["body"])))
        except (KeyError, TypeError, ValueError):
            unreadable.add(record.get("messageId"))
    return parsed, unreadable


def partial_failures(event: dict, failed: set[str], processor: BatchProcessor, context: LambdaContext | None,
                     error: type[Exception]) -> dict:
    """The batch's answer: each record in `failed` reported as a failure (raising `error`), the rest done."""

    def handle(record: SQSRecord) -> None:
        if record.message_id in failed:
            raise error(record.message_id)

    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
