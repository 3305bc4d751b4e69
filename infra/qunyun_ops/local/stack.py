"""`qunyun local up`: DynamoDB Local, the tables, the SQS endpoint and its queues, the webhook gateway, the
queue pollers, the scheduler; one process tree."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from qunyun_ops.env import (
    LOCAL_STACK,
    SECRETS_FILE,
    STATE_FILE,
    inherited_settings,
    local_environment,
    local_overrides,
)
from qunyun_ops.local.dynamodb import DynamoDBLocal, SetupError
from qunyun_ops.local.tables import create_tables
from qunyun_ops.local.template import Template
from qunyun_ops.paths import STATE, TEMPLATE

STREAMS_FILE = STATE / "streams.json"  # where the stack's stream runner stands (qunyun_ops/local/streams.py)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ddb_client(endpoint: str):
    import boto3

    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


@dataclass
class Options:
    port: int = 3000
    ddb_port: int = 8000
    data_dir: Path | None = None
    schedule: bool = True
    stack_name: str = LOCAL_STACK


def _already_running() -> int | None:
    with contextlib.suppress(FileNotFoundError, ValueError, KeyError, ProcessLookupError, PermissionError):
        pid = json.loads(STATE_FILE.read_text())["pid"]
        os.kill(pid, 0)
        return pid
    return None


def up(opts: Options, stop: threading.Event | None = None) -> int:
    """Runs until SIGINT or SIGTERM (or `stop` is set), then stops everything it started."""
    from qunyun_ops.local.gateway import Gateway
    from qunyun_ops.local.scheduler import Scheduler
    from qunyun_ops.local.sqs import QueueRunner, SqsLocal, create_queues, sqs_client
    from qunyun_ops.local.streams import StreamRunner
    from qunyun_ops.local.workers import FunctionPool

    if pid := _already_running():
        log(f"error: the local stack already runs in this checkout (pid {pid}); stop it first.")
        return 1
    stop = stop or threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    template = Template.read(TEMPLATE)
    STATE.mkdir(parents=True, exist_ok=True)
    ddb = DynamoDBLocal(opts.ddb_port, opts.data_dir, log=log)
    # moto starts only for a template that declares queues; its pollers run with or without --no-schedule.
    sqs = SqsLocal(log=log) if template.queues else None
    pool = gateway = scheduler = queues = streams = None
    try:
        ddb.start()
        if sqs:
            sqs.start()
        env = local_environment(ddb.endpoint, opts.stack_name, SECRETS_FILE, sqs.endpoint if sqs else None)
        inherited, overrides = inherited_settings(), local_overrides()
        os.environ.update(env)
        tables = create_tables(ddb_client(ddb.endpoint), template, opts.stack_name)
        queue_urls = create_queues(sqs_client(sqs.endpoint), template, opts.stack_name) if sqs else {}
        pool = FunctionPool(template, TEMPLATE.parent, opts.stack_name, env, overrides=overrides)
        gateway = Gateway(template, pool, port=opts.port)
        port = gateway.start()
        if sqs:
            queues = QueueRunner(template, pool, sqs.endpoint, opts.stack_name, log=log)
            queues.start()
        if template.stream_sources:
            streams = StreamRunner(template, pool, ddb.endpoint, opts.stack_name, STREAMS_FILE, log=log)
            streams.start()
        if opts.schedule:
            scheduler = Scheduler(template, pool, STATE / "dead-letters")
            scheduler.start()
        STATE_FILE.write_text(json.dumps({
            "pid": os.getpid(), "port": port, "ddb_port": ddb.port, "ddb_endpoint": ddb.endpoint,
            "stack_name": opts.stack_name, "secrets_file": str(SECRETS_FILE),
            "sqs_endpoint": sqs.endpoint if sqs else None, "queues": queue_urls,
            "consumed_queues": queues.queue_urls if queues else [],
            "streams_checkpoint": str(STREAMS_FILE) if streams else None,
            "template": str(TEMPLATE), "environment": inherited, "overrides": overrides,
        }))
        log(f"DynamoDB Local on {ddb.endpoint} with tables: {', '.join(tables)}")
        if sqs:
            consumers = [f"{s.queue} → {s.function}" for s in template.queue_sources]
            names = [u.rsplit("/", 1)[1] for u in queue_urls.values()]
            log(f"SQS (moto) on {sqs.endpoint} with queues: {', '.join(names)}; "
                f"consumers: {', '.join(consumers) or 'none'}")
        if streams:
            log("Streams: " + ", ".join(f"{s.table} → {s.function}" for s in template.stream_sources))
        log(f"Webhooks on http://127.0.0.1:{port}: " + ", ".join(f"{r.method} {r.path}" for r in template.routes))
        schedules = [f"{s.function} {s.expression} {s.timezone or 'UTC'}" for s in template.schedules]
        log("Schedules: " + ("; ".join(schedules) if opts.schedule and schedules else "off (use `qunyun local run`)"))
        log(f"qunyun local stack ready on http://127.0.0.1:{port} (Ctrl-C stops it)")
        stop.wait()
        log("Stopping the local stack ...")
        return 0
    except SetupError as e:
        log(f"error: {e}")
        return 1
    finally:
        with contextlib.suppress(FileNotFoundError):
            if json.loads(STATE_FILE.read_text()).get("pid") == os.getpid():
                STATE_FILE.unlink()
        for part in (scheduler, gateway, streams, queues, pool, sqs):
            if part is not None:
                with contextlib.suppress(Exception):
                    (part.stop if hasattr(part, "stop") else part.close)()
        ddb.stop()
