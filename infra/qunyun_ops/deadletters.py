"""Dead letters: messages a consumer failed on as often as their queue's RedrivePolicy allows (maxReceiveCount),
parked by SQS in the queue's dead-letter queue. Every pair comes from template.yaml, named by logical id.

Listing receives every parked message with a short visibility timeout and hands each back at once (SQS has no
way to look without receiving; each look counts as one receive, which the listing subtracts). Redriving sends
each message back to its source queue and then deletes it from the dead-letter queue: a stop in between leaves
a copy in both, which is harmless because a push's delivery record decides whether it is sent (at most once).
On AWS, redriving a whole queue starts SQS's own StartMessageMoveTask instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from qunyun_ops.local.template import Template

HOLD_SECONDS = 30  # how long a listing or a redrive keeps the messages it received from other readers
_BATCH = 10  # SQS receives, deletes and changes at most 10 messages a request


class UnknownQueue(ValueError):
    pass


@dataclass(frozen=True)
class Parked:
    """One parked message, as an operator reads it."""

    queue: str  # the dead-letter queue's logical id
    source: str  # the queue it failed in
    message_id: str
    kind: str
    tenant: str
    groups: tuple[str, ...]
    owner: str | None
    push: str
    first_failure: datetime | None  # when its consumer first received it (and failed)
    receives: int  # how often its consumer received it
    body: str = field(repr=False)

    def view(self) -> dict:
        return {"queue": self.queue, "source": self.source, "id": self.message_id, "kind": self.kind,
                "tenant": self.tenant, "group_ids": list(self.groups), "owner": self.owner, "push": self.push,
                "first_failure": self.first_failure.isoformat() if self.first_failure else None,
                "receives": self.receives, "body": self.body}


@dataclass
class Queues:
    """The template's queues where they run: an SQS client and each queue's URL by logical id."""

    template: Template
    client: Any
    url: Callable[[str], str]

    def dead_letter_queues(self, name: str | None = None) -> list[str]:
        """The dead-letter queue `name` means (itself, or the one a source queue redrives to), or all of them."""
        redrives = self.template.redrives
        if name is None:
            return sorted(set(redrives.values()))
        if name in redrives.values():
            return [name]
        if name in redrives:
            return [redrives[name]]
        known = sorted({*redrives, *redrives.values()})
        raise UnknownQueue(f"{name!r} is not a queue with a dead-letter queue in template.yaml; its queues with "
                           f"dead letters: {', '.join(known) or 'none'}")

    def max_receives(self, source: str) -> int | None:
        policy = self.template.queues.get(source, {}).get("RedrivePolicy")
        return int(policy["maxReceiveCount"]) if isinstance(policy, dict) and "maxReceiveCount" in policy else None

    def sources(self, dlq: str) -> list[str]:
        return sorted(q for q, d in self.template.redrives.items() if d == dlq)


def _push(kind: str, body: dict) -> str:
    """The push id a message delivers (domain/quota.py's Push), or '' for a message that names none."""
    from qunyun.domain.quota import Push

    try:
        if kind == "brief":
            return Push.brief(body["edition"]).push_id
        if kind == "farewell":
            return Push.farewell().push_id
        if kind == "reminder":
            return Push.reminder(body["event_id"], body["lead"]).push_id
        if kind == "event_cancelled":
            from qunyun.services.events import CANCELLED

            return Push.reminder(body["event_id"], CANCELLED).push_id
    except (KeyError, TypeError, ValueError):
        pass
    return ""


def _stamp(millis: str | None) -> datetime | None:
    return datetime.fromtimestamp(int(millis) / 1000, UTC) if millis else None


def parked(dlq: str, source: str, message: dict, max_receives: int | None = None) -> Parked:
    """The message as listed. SQS counts every look at a parked message as a receive, this one included, and
    parks a message once its consumer has received it maxReceiveCount times: the count shown stops there."""
    import json

    try:
        body = json.loads(message["Body"])
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    kind = str(body.get("kind") or ("brief" if "edition" in body else ""))
    attrs = message.get("Attributes", {})
    groups = body.get("group_ids")
    return Parked(dlq, source, message["MessageId"], kind, str(body.get("tenant_id") or ""),
                  tuple(map(str, groups)) if isinstance(groups, list) else (), body.get("owner"), _push(kind, body),
                  _stamp(attrs.get("ApproximateFirstReceiveTimestamp")),
                  min(max(0, int(attrs.get("ApproximateReceiveCount", 1)) - 1), max_receives or 10**9),
                  message["Body"])


def receive_all(client: Any, url: str) -> list[dict]:
    """Every message on the queue, each held for HOLD_SECONDS (hand them back with `hand_back`)."""
    seen: dict[str, dict] = {}
    while True:
        got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=_BATCH, WaitTimeSeconds=1,
                                     VisibilityTimeout=HOLD_SECONDS, MessageSystemAttributeNames=["All"],
                                     MessageAttributeNames=["All"]).get("Messages", [])
        fresh = [m for m in got if m["MessageId"] not in seen]
        seen.update((m["MessageId"], m) for m in got)
        if not fresh:
            return list(seen.values())


def hand_back(client: Any, url: str, messages: list[dict]) -> None:
    for start in range(0, len(messages), _BATCH):
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                   for i, m in enumerate(messages[start:start + _BATCH])]
        client.change_message_visibility_batch(QueueUrl=url, Entries=entries)


def _source_of(queues: Queues, dlq: str, message: dict) -> str | None:
    """The queue a message failed in: the only one redriving to its dead-letter queue, or the one SQS names."""
    sources = queues.sources(dlq)
    if len(sources) == 1:
        return sources[0]
    arn = message.get("Attributes", {}).get("DeadLetterQueueSourceArn", "")
    name = arn.rsplit(":", 1)[-1]
    return next((s for s in sources if queues.url(s).rsplit("/", 1)[-1] == name), None)


def list_parked(queues: Queues, dlqs: list[str]) -> list[Parked]:
    """Every message parked in these dead-letter queues, left where it is."""
    found = []
    for dlq in dlqs:
        url = queues.url(dlq)
        messages = receive_all(queues.client, url)
        hand_back(queues.client, url, messages)
        for m in messages:
            source = _source_of(queues, dlq, m)
            found.append(parked(dlq, source or "?", m, queues.max_receives(source) if source else None))
    return sorted(found, key=lambda p: (p.queue, p.first_failure or datetime.min.replace(tzinfo=UTC)))


def _user_attributes(message: dict) -> dict:
    return {k: {key: v for key, v in a.items() if key in ("DataType", "StringValue", "BinaryValue")}
            for k, a in message.get("MessageAttributes", {}).items()}


def redrive(queues: Queues, dlq: str, message_id: str | None = None) -> list[Parked]:
    """Sends the parked messages (or the one with this id) back to their source queue, then deletes them here;
    returns those moved. Messages whose source cannot be told stay parked."""
    url = queues.url(dlq)
    messages = receive_all(queues.client, url)
    moved, left = [], []
    for m in messages:
        source = _source_of(queues, dlq, m)
        if (message_id is not None and m["MessageId"] != message_id) or source is None:
            left.append(m)
            continue
        queues.client.send_message(QueueUrl=queues.url(source), MessageBody=m["Body"],
                                   **({"MessageAttributes": attrs} if (attrs := _user_attributes(m)) else {}),
                                   **_fifo(queues.url(source), m))
        queues.client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        moved.append(parked(dlq, source, m, queues.max_receives(source)))
    hand_back(queues.client, url, left)
    return moved


def _fifo(url: str, message: dict) -> dict:
    """A FIFO queue's message goes back into its message group, under a deduplication id of its own (the one it
    came with may still be remembered for five minutes and would drop it)."""
    if not url.endswith(".fifo"):
        return {}
    return {"MessageGroupId": message.get("Attributes", {}).get("MessageGroupId", "redriven"),
            "MessageDeduplicationId": f"redrive-{message['MessageId']}"}


def start_move_task(queues: Queues, dlq: str) -> dict:
    """AWS: SQS moves every message of the dead-letter queue back to the queue it came from, at its own pace."""
    arn = queues.client.get_queue_attributes(QueueUrl=queues.url(dlq), AttributeNames=["QueueArn"])
    task = queues.client.start_message_move_task(SourceArn=arn["Attributes"]["QueueArn"])
    return {"queue": dlq, "task_handle": task["TaskHandle"]}
