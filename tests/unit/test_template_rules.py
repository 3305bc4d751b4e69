"""template.yaml rules: explicit timezone, retries and dead letters for schedules; handlers that exist."""

from __future__ import annotations

import importlib

import pytest
from aws_lambda_powertools import Logger, Metrics
from qunyun_ops.checks import handler_modules, schedule_problems
from qunyun_ops.local.template import Template
from qunyun_ops.paths import TEMPLATE

TEMPLATE_DOC = Template.read(TEMPLATE)
HANDLERS = handler_modules(TEMPLATE_DOC)

BAD = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Nightly:
    Type: AWS::Serverless::Function
    Properties:
      Handler: x.handler
      Events:
        Run:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 2 * * ? *)
  Good:
    Type: AWS::Serverless::Function
    Properties:
      Handler: y.handler
      Events:
        Run:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0/5 * * * ? *)
            ScheduleExpressionTimezone: Asia/Shanghai
            Input: '{"scheduled_time": "<aws.scheduler.scheduled-time>"}'
            RetryPolicy: {MaximumRetryAttempts: 2}
            DeadLetterConfig: {Type: SQS}
"""


def test_the_template_follows_the_schedule_rules():
    assert schedule_problems(TEMPLATE_DOC) == []


def test_a_schedule_without_timezone_retries_or_dead_letters_is_caught(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(BAD)
    problems = schedule_problems(Template.read(path))
    assert len(problems) == 4 and all(p.startswith("Nightly.Run:") for p in problems)


@pytest.mark.parametrize("logical_id", sorted(HANDLERS))
def test_every_handler_imports_with_powertools_logger_and_metrics(logical_id):
    code_uri, module_name, func = HANDLERS[logical_id]
    assert code_uri.rstrip("/") == "functions", "functions/ is the CodeUri of every function"
    module = importlib.import_module(module_name)
    assert callable(getattr(module, func))
    kinds = {type(v) for v in vars(module).values()}
    assert Logger in kinds and Metrics in kinds, f"{module_name} needs a module-level Logger and Metrics"


def test_every_function_is_one_handler_module():
    modules = [m for _, m, _ in HANDLERS.values()]
    assert len(modules) == len(set(modules)), "one handler module per function"


def test_send_pushes_agrees_with_its_queue():
    # GIVEN SendPushes and the queue it consumes, as template.yaml declares them
    send = TEMPLATE_DOC.functions["SendPushes"]
    queue = TEMPLATE_DOC.queues["PushQueue"]
    (source,) = [s for s in TEMPLATE_DOC.queue_sources if s.function == "SendPushes"]
    # THEN its last receive is the one before the dead letters, so it records retries_exhausted itself
    assert int(send.environment["PUSH_MAX_RECEIVES"]) == int(queue["RedrivePolicy"]["maxReceiveCount"])
    # AND it reports failed items rather than failing whole batches
    assert source.queue == "PushQueue" and source.report_failures
    # AND a message a crashed sender left comes back after the claim's lease (twice the Timeout the handler
    # assumes), so the retry records the unknown outcome instead of waiting
    from send_pushes import default_deps

    lease = default_deps().send.claims.lease.total_seconds()
    assert lease == 2 * send.timeout and int(queue["VisibilityTimeout"]) > lease
    # AND a batch of more than 10 has the batching window Lambda requires for it
    assert source.batch_size <= 10 or source.window >= 1


@pytest.mark.parametrize("action", ["dynamodb:PartiQLUpdate", "dynamodb:PartiQLInsert"])
def test_send_pushes_may_write_partiql_statements_on_the_deliveries_table(action):
    # SendPushes writes a batch's outcomes (UPDATE) and plans a WeCom owner's groups (INSERT and UPDATE) with
    # BatchExecuteStatement (adapters/delivery_statements.py `execute_statements`); IAM asks for dynamodb:PartiQLUpdate
    # and dynamodb:PartiQLInsert on the table, which no SAM policy template grants
    policies = TEMPLATE_DOC.resources["SendPushes"]["Properties"]["Policies"]
    statements = [s for p in policies if isinstance(p, dict) for s in p.get("Statement", [])]
    allowed = [s["Resource"] for s in statements if s["Effect"] == "Allow"
               and action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert allowed == [{"Fn::GetAtt": ["DeliveriesTable", "Arn"]}], statements


def test_brief_dispatch_consumes_its_own_page_queue_with_dead_letters():
    # GIVEN BriefDispatch and the dispatch page queue, as template.yaml declares them
    dispatch = TEMPLATE_DOC.functions["BriefDispatch"]
    queue = TEMPLATE_DOC.queues["DispatchPageQueue"]
    (source,) = [s for s in TEMPLATE_DOC.queue_sources if s.function == "BriefDispatch"]
    # THEN it consumes the queue it is told to send its pages to, a page an invocation (a failed page alone
    # comes back), and may send to it
    assert source.queue == "DispatchPageQueue" and source.batch_size == 1
    assert dispatch.environment["DISPATCH_PAGE_QUEUE_URL"] == {"Ref": "DispatchPageQueue"}
    policies = TEMPLATE_DOC.resources["BriefDispatch"]["Properties"]["Policies"]
    assert {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["DispatchPageQueue", "QueueName"]}}} in policies
    # AND a page comes back only after its invocation's Timeout (six times it, as Lambda recommends), and is
    # parked in its own dead letters after 5 receives
    assert int(queue["VisibilityTimeout"]) >= 6 * dispatch.timeout
    redrive = queue["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["DispatchPageDeadLetterQueue", "Arn"]}
    assert int(redrive["maxReceiveCount"]) == 5
