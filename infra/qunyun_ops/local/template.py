"""Reads template.yaml, the one declaration of functions, routes, schedules and tables."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation short tags (!Ref, !Sub, !GetAtt ...)."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - safe loader subclass


def resolve(value: Any, stack_name: str) -> Any:
    """Resolves the intrinsics the local stack needs (stack name in !Sub, plain strings)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        return text.replace("${AWS::StackName}", stack_name) if isinstance(text, str) else text
    if isinstance(value, dict) and value.get("Ref") == "AWS::StackName":
        return stack_name
    return value


def _no_value(value: Any) -> bool:
    return isinstance(value, dict) and value == {"Ref": "AWS::NoValue"}


@dataclass(frozen=True)
class Route:
    function: str
    method: str
    path: str


@dataclass(frozen=True)
class Schedule:
    function: str
    name: str
    expression: str
    timezone: str | None
    input: str | None
    retry_attempts: int | None
    dead_letter: bool


@dataclass(frozen=True)
class QueueSource:
    """An SQS event source: the queue a function consumes and how Lambda's event source mapping batches it."""

    function: str
    name: str
    queue: str  # the queue's logical id
    batch_size: int
    window: float  # MaximumBatchingWindowInSeconds
    report_failures: bool  # FunctionResponseTypes: [ReportBatchItemFailures]
    max_concurrency: int | None
    enabled: bool


@dataclass(frozen=True)
class StreamSource:
    """A DynamoDB stream event source: the table whose stream a function reads, its batch size and filters."""

    function: str
    name: str
    table: str  # the table's logical id
    batch_size: int
    patterns: tuple  # FilterCriteria patterns, parsed; none lets every record through


@dataclass(frozen=True)
class Function:
    logical_id: str
    handler: str
    code_uri: str
    timeout: int
    memory: int
    environment: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Template:
    path: Path
    doc: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> Template:
        return cls(path, load(path))

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.doc.get("Resources", {})

    def _of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == kind}

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        """Each table's properties as a stack with the parameters' defaults declares them (`!If` taken)."""
        return {k: self.chosen(v["Properties"]) for k, v in self._of_type("AWS::DynamoDB::Table").items()}

    def chosen(self, value: Any) -> Any:
        """The value with every `Fn::If` replaced by the branch its condition takes under the parameters'
        defaults, and `!Ref AWS::NoValue` left out of lists and mappings, as CloudFormation does."""
        if isinstance(value, dict) and "Fn::If" in value:
            name, yes, no = value["Fn::If"]
            return self.chosen(yes if self.holds({"Condition": name}) else no)
        if isinstance(value, dict):
            chosen = ((k, self.chosen(v)) for k, v in value.items())
            return {k: c for k, c in chosen if not _no_value(c)}
        if isinstance(value, list):
            return [c for c in (self.chosen(v) for v in value) if not _no_value(c)]
        return value

    def holds(self, condition: Any) -> bool:
        """A condition (Equals, Not, And, Or, a named Condition) under the parameters' defaults."""
        if "Condition" in condition:
            return self.holds(self.doc.get("Conditions", {})[condition["Condition"]])
        (fn, args), = condition.items()
        if fn == "Fn::Equals":
            return self._value(args[0]) == self._value(args[1])
        if fn == "Fn::Not":
            return not self.holds(args[0])
        if fn in ("Fn::And", "Fn::Or"):
            results = [self.holds(a) for a in args]
            return all(results) if fn == "Fn::And" else any(results)
        raise ValueError(f"unsupported condition {fn}")

    def _value(self, value: Any) -> str:
        if isinstance(value, dict) and "Ref" in value:
            return str(self.doc.get("Parameters", {})[value["Ref"]].get("Default", ""))
        return str(value)

    @property
    def queues(self) -> dict[str, dict[str, Any]]:
        return {k: v.get("Properties") or {} for k, v in self._of_type("AWS::SQS::Queue").items()}

    def queue_name(self, logical_id: str, stack_name: str) -> str:
        """The queue's QueueName, or stack-LogicalId where CloudFormation would generate one."""
        props = self.queues[logical_id]
        name = resolve(props.get("QueueName"), stack_name)
        if isinstance(name, str):
            return name
        fifo = str(props.get("FifoQueue", "")).lower() == "true"
        return f"{stack_name}-{logical_id}" + (".fifo" if fifo else "")

    @property
    def redrives(self) -> dict[str, str]:
        """Source queue → its dead-letter queue (logical ids), from each RedrivePolicy's `!GetAtt Q.Arn`."""
        out = {}
        for lid, props in self.queues.items():
            policy = props.get("RedrivePolicy")
            target = _queue_ref(policy.get("deadLetterTargetArn"), self.queues) if isinstance(policy, dict) else None
            if target is not None:
                out[lid] = target
        return out

    @property
    def functions(self) -> dict[str, Function]:
        glob = self.doc.get("Globals", {}).get("Function", {})
        out = {}
        for lid, res in self._of_type("AWS::Serverless::Function").items():
            props = {**glob, **res.get("Properties", {})}
            env = {
                **glob.get("Environment", {}).get("Variables", {}),
                **res.get("Properties", {}).get("Environment", {}).get("Variables", {}),
            }
            out[lid] = Function(
                logical_id=lid,
                handler=props["Handler"],
                code_uri=props.get("CodeUri", "."),
                timeout=int(props.get("Timeout", 3)),
                memory=int(props.get("MemorySize", 128)),
                environment=env,
            )
        return out

    def _events(self, kind: str) -> list[tuple[str, str, dict[str, Any]]]:
        found = []
        for lid, res in self._of_type("AWS::Serverless::Function").items():
            for name, event in (res.get("Properties", {}).get("Events") or {}).items():
                if event.get("Type") == kind:
                    found.append((lid, name, event.get("Properties", {})))
        return found

    @property
    def routes(self) -> list[Route]:
        return [Route(lid, p["Method"].upper(), p["Path"]) for lid, _, p in self._events("HttpApi")]

    @property
    def schedules(self) -> list[Schedule]:
        out = []
        for lid, name, p in self._events("ScheduleV2"):
            raw_input = p.get("Input")
            if raw_input is not None and not isinstance(raw_input, str):
                raw_input = json.dumps(raw_input)
            out.append(
                Schedule(
                    function=lid,
                    name=name,
                    expression=p["ScheduleExpression"],
                    timezone=p.get("ScheduleExpressionTimezone"),
                    input=raw_input,
                    retry_attempts=(p.get("RetryPolicy") or {}).get("MaximumRetryAttempts"),
                    dead_letter=bool(p.get("DeadLetterConfig")),
                )
            )
        return out

    def queue_consumers(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(function, event name, SQS event properties) for every SQS-triggered function."""
        return self._events("SQS")

    @property
    def queue_sources(self) -> list[QueueSource]:
        """Every SQS event source, with Lambda's defaults (batch of 10, no window) where the template is silent."""
        out = []
        for lid, name, p in self.queue_consumers():
            queue = _queue_ref(p.get("Queue"), self.queues)
            if queue is None:
                raise ValueError(f"{lid}/{name}: Queue must be !GetAtt Q.Arn of an AWS::SQS::Queue in the template")
            out.append(
                QueueSource(
                    function=lid,
                    name=name,
                    queue=queue,
                    batch_size=int(p.get("BatchSize", 10)),
                    window=float(p.get("MaximumBatchingWindowInSeconds", 0)),
                    report_failures="ReportBatchItemFailures" in (p.get("FunctionResponseTypes") or []),
                    max_concurrency=(p.get("ScalingConfig") or {}).get("MaximumConcurrency"),
                    enabled=str(p.get("Enabled", True)).lower() != "false",
                )
            )
        return out

    @property
    def stream_sources(self) -> list[StreamSource]:
        """Every DynamoDB stream event source (`Stream: !GetAtt T.StreamArn`), with Lambda's batch of 100 where
        the template is silent."""
        out = []
        for lid, name, p in self._events("DynamoDB"):
            table = _get_att(p.get("Stream"), self.tables, "StreamArn")
            if table is None:
                raise ValueError(f"{lid}/{name}: Stream must be !GetAtt T.StreamArn of a table in the template")
            filters = (p.get("FilterCriteria") or {}).get("Filters") or []
            out.append(StreamSource(lid, name, table, int(p.get("BatchSize", 100)),
                                    tuple(json.loads(f["Pattern"]) for f in filters)))
        return out


def _queue_ref(value: Any, queues: dict[str, Any]) -> str | None:
    """The logical id behind `!GetAtt Q.Arn`, the way SAM templates name an SQS event's queue."""
    return _get_att(value, queues, "Arn")


def _get_att(value: Any, among: dict[str, Any], attribute: str) -> str | None:
    """The logical id behind `!GetAtt X.{attribute}` when X is one of `among`, else None (a GetAtt without an
    attribute too, so that the caller names the event that holds it)."""
    ref = value.get("Fn::GetAtt") if isinstance(value, dict) else None
    if isinstance(ref, list) and len(ref) == 2 and ref[1] == attribute and ref[0] in among:
        return ref[0]
    return None
