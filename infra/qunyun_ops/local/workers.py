"""Runs Lambda functions locally in worker processes, one invocation at a time each, like execution environments.

Each worker is a fresh interpreter (multiprocessing "spawn": no fork after threads) that imports the handler
once (the cold start) and then serves invocations over a Pipe. Events and results cross the pipe as JSON
text, as they cross the Lambda API, so a handler returning something JSON cannot carry fails here as well.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import secrets
import signal
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from qunyun_ops.local.template import Function, Template, resolve

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
# Lambda's init phase has its own 10 s limit; a cold interpreter on a loaded laptop gets more room.
INIT_TIMEOUT = 30.0
_SPAWN = multiprocessing.get_context("spawn")


class InvocationError(RuntimeError):
    """A failed invocation: the handler raised, timed out, or its worker could not start or died."""

    def __init__(self, message: str, error_type: str | None = None, stack_trace: list[str] | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = stack_trace or []


# ---------------------------------------------------------------------------------------------- environment


def region(env: dict[str, str] | None = None) -> str:
    """The region the local stack pretends to run in."""
    env = os.environ if env is None else env
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def _table_names(template: Template, stack_name: str) -> dict[str, str]:
    names = {}
    for lid, props in template.tables.items():
        name = resolve(props.get("TableName"), stack_name)
        # CloudFormation generates a name when none is given; any stable name will do locally.
        names[lid] = name if isinstance(name, str) else f"{stack_name}-{lid}"
    return names


def _sub(text: str, known: dict[str, str]) -> str | None:
    for key, value in known.items():
        text = text.replace("${" + key + "}", value)
    return None if "${" in text else text


def queue_arn(name: str, reg: str) -> str:
    return f"arn:aws:sqs:{reg}:{ACCOUNT_ID}:{name}"


def queue_url(name: str, reg: str, sqs_endpoint: str | None = None) -> str:
    """The queue's URL on the local SQS endpoint (moto builds it the same way), or on AWS without one."""
    return f"{sqs_endpoint or f'https://sqs.{reg}.amazonaws.com'}/{ACCOUNT_ID}/{name}"


def _queue_values(template: Template, stack_name: str, reg: str, sqs_endpoint: str | None) -> dict[str, str]:
    """`!Ref Q` (its URL), `!GetAtt Q.Arn` and `!GetAtt Q.QueueName` of every queue, keyed as Fn::Sub writes them."""
    out = {}
    for lid in template.queues:
        name = template.queue_name(lid, stack_name)
        out.update({lid: queue_url(name, reg, sqs_endpoint), f"{lid}.Arn": queue_arn(name, reg),
                    f"{lid}.QueueName": name, f"{lid}.QueueUrl": queue_url(name, reg, sqs_endpoint)})
    return out


def env_value(
    value: Any, template: Template, stack_name: str, reg: str, sqs_endpoint: str | None = None
) -> str | None:
    """One environment value as Lambda would see it, or None for an intrinsic the local stack cannot resolve."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if not isinstance(value, dict) or len(value) != 1:
        return None
    tables = _table_names(template, stack_name)
    queues = _queue_values(template, stack_name, reg, sqs_endpoint)
    pseudo = {
        "AWS::StackName": stack_name,
        "AWS::Region": reg,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    if "Ref" in value:
        ref = value["Ref"]
        return pseudo.get(ref) or tables.get(ref) or queues.get(ref)
    if "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
        return queues.get(".".join(value["Fn::GetAtt"]))
    if "Fn::Sub" in value:
        text = resolve(value, stack_name)
        return _sub(text, {**pseudo, **tables, **queues}) if isinstance(text, str) else None
    return None


def function_name(template: Template, logical_id: str, stack_name: str) -> str:
    """The deployed function's name: its FunctionName, or stack-LogicalId (CloudFormation adds a suffix)."""
    props = template.resources.get(logical_id, {}).get("Properties", {})
    name = resolve(props.get("FunctionName"), stack_name)
    return name if isinstance(name, str) else f"{stack_name}-{logical_id}"


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs, picklable for the spawn context."""

    logical_id: str
    handler: str
    code_dir: str
    env: dict[str, str]
    function_name: str
    function_arn: str
    memory: int
    log_group: str


def worker_spec(
    template: Template,
    fn: Function,
    root: Path,
    stack_name: str,
    base_env: dict[str, str],
    overrides: dict[str, str] | None = None,
) -> WorkerSpec:
    """The environment and identity of one function's workers; it is applied over the inherited os.environ."""
    reg = region({**os.environ, **base_env})
    env = dict(base_env)
    for key, raw in fn.environment.items():
        value = env_value(raw, template, stack_name, reg, base_env.get("QUNYUN_SQS_ENDPOINT"))
        if value is not None:
            env[key] = value
    env.update(overrides or {})
    name = function_name(template, fn.logical_id, stack_name)
    code_dir = str((root / fn.code_uri).resolve())
    log_group = f"/aws/lambda/{name}"
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
            "LAMBDA_TASK_ROOT": code_dir,
            # What `sam local` sets: Powertools Tracer stays off instead of looking for an X-Ray daemon.
            "AWS_SAM_LOCAL": "true",
        }
    )
    env.setdefault("AWS_REGION", reg)
    env.setdefault("AWS_DEFAULT_REGION", reg)
    arn = f"arn:aws:lambda:{reg}:{ACCOUNT_ID}:function:{name}"
    return WorkerSpec(fn.logical_id, fn.handler, code_dir, env, name, arn, fn.memory, log_group)


# ----------------------------------------------------------------------------------------------- the worker


class _Identity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


class LambdaContext:
    """The context object the Python runtime passes (awslambdaric's attributes and types)."""

    def __init__(self, spec: WorkerSpec, request_id: str, deadline_ms: int, log_stream: str):
        self.aws_request_id = request_id
        self.function_name = spec.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.function_arn
        # The real runtime reads it from the environment, so it is a string there too.
        self.memory_limit_in_mb = str(spec.memory)
        self.log_group_name = spec.log_group
        self.log_stream_name = log_stream
        self.client_context = None
        self.identity = _Identity()
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's Timeout."""
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _load_handler(spec: WorkerSpec) -> Any:
    module_name, _, attr = spec.handler.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _InitError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from exc
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise _InitError("Runtime.HandlerNotFound", f"Handler '{attr}' missing on module '{module_name}'")
    return handler


class _InitError(Exception):
    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


def _error(exc: BaseException, error_type: str | None = None) -> tuple:
    return ("error", error_type or type(exc).__name__, str(exc), traceback.format_exception(exc))


def serve(conn: Connection, spec: WorkerSpec) -> None:
    """Worker process entry point: import the handler once, then answer invocations until the pipe closes."""
    # Ctrl-C reaches the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.dup2(2, 1)  # handler prints and Powertools logs go to the parent's stderr
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    sys.path.insert(0, spec.code_dir)
    os.environ.update(spec.env)
    log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{secrets.token_hex(16)}"
    os.environ["AWS_LAMBDA_LOG_STREAM_NAME"] = log_stream
    try:
        handler = _load_handler(spec)
    except _InitError as exc:
        conn.send(_error(exc, exc.error_type))
        return
    except Exception as exc:
        conn.send(_error(exc))
        return
    conn.send(("ready",))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if request is None:
            return
        request_id, deadline_ms, event_json = request
        context = LambdaContext(spec, request_id, deadline_ms, log_stream)
        try:
            result = handler(json.loads(event_json), context)
        except Exception as exc:
            reply: tuple = _error(exc)
        else:
            try:
                reply = ("ok", json.dumps(result))
            except (TypeError, ValueError) as exc:
                reply = ("error", "Runtime.MarshalError", f"Unable to marshal response: {exc}", [])
        try:
            conn.send(reply)
        except OSError:
            return


# ------------------------------------------------------------------------------------------------- the pool


@dataclass(eq=False)
class _Worker:
    process: Any
    conn: Connection
    busy: bool = False


@dataclass(eq=False)
class _Slots:
    cond: threading.Condition = field(default_factory=threading.Condition)
    idle: list[_Worker] = field(default_factory=list)
    live: set[_Worker] = field(default_factory=set)
    count: int = 0  # live workers plus ones being started


class FunctionPool:
    """Worker processes per function, up to max_per_function each; thread-safe."""

    def __init__(
        self,
        template: Template,
        root: Path,
        stack_name: str,
        base_env: dict[str, str],
        max_per_function: int = 4,
        *,
        overrides: dict[str, str] | None = None,
    ):
        """`overrides` apply after the template's environment, for values that mean something else locally
        (QUNYUN_TEMPLATES_DIR=/opt is where Lambda mounts a layer)."""
        self.template = template
        self.max_per_function = max_per_function
        self._functions = template.functions
        self._specs = {
            lid: worker_spec(template, fn, root, stack_name, base_env, overrides) for lid, fn in self._functions.items()
        }
        self._slots = {lid: _Slots() for lid in self._functions}
        self._closed = False

    def spec(self, logical_id: str) -> WorkerSpec:
        """The environment and identity a function's workers run with."""
        return self._specs[self._known(logical_id)]

    def pids(self, logical_id: str | None = None) -> list[int]:
        """Process ids of the live workers (of one function, or all)."""
        ids = [logical_id] if logical_id else list(self._slots)
        out = []
        for lid in ids:
            slots = self._slots[self._known(lid)]
            with slots.cond:
                out.extend(w.process.pid for w in slots.live)
        return out

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """Runs the function on an idle (or new) worker and returns the handler's JSON result."""
        lid = self._known(logical_id)
        event_json = json.dumps(event)
        fn = self._functions[lid]
        worker = self._acquire(lid)
        request_id = str(uuid.uuid4())
        started = time.time()
        try:
            worker.conn.send((request_id, int((started + fn.timeout) * 1000), event_json))
            if not worker.conn.poll(fn.timeout):
                self._discard(lid, worker)
                raise InvocationError(f"timed out after {fn.timeout} s", "Sandbox.Timedout")
            reply = worker.conn.recv()
        except (EOFError, OSError):
            self._discard(lid, worker)
            code = worker.process.exitcode
            raise InvocationError(f"worker exited unexpectedly (exit code {code})", "Runtime.ExitError") from None
        self._release(lid, worker)
        if reply[0] == "ok":
            return json.loads(reply[1])
        _, error_type, message, stack = reply
        raise InvocationError(f"{error_type}: {message}", error_type, stack)

    def close(self) -> None:
        """Terminates every worker; invocations in flight fail, later ones are refused."""
        workers: list[tuple[_Worker, bool]] = []
        for slots in self._slots.values():
            with slots.cond:
                self._closed = True
                workers.extend((w, not w.busy) for w in slots.live)
                slots.idle.clear()
                slots.cond.notify_all()
        for worker, _ in workers:
            worker.process.terminate()
        for worker, idle in workers:
            worker.process.join(2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(2)
            if idle:  # a busy worker's connection belongs to the thread waiting on it
                worker.conn.close()

    def __enter__(self) -> FunctionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals

    def _known(self, logical_id: str) -> str:
        if logical_id not in self._functions:
            raise ValueError(f"unknown function {logical_id!r}; template.yaml declares {sorted(self._functions)}")
        return logical_id

    def _acquire(self, lid: str) -> _Worker:
        slots = self._slots[lid]
        with slots.cond:
            while True:
                if self._closed:
                    raise InvocationError("the function pool is closed")
                while slots.idle:
                    worker = slots.idle.pop()  # the most recently used: warmest
                    if worker.process.is_alive():
                        worker.busy = True
                        return worker
                    # Died while idle (killed from outside): drop it and look again.
                    worker.conn.close()
                    self._forget(slots, worker)
                if slots.count < self.max_per_function:
                    slots.count += 1
                    break
                slots.cond.wait()
        try:
            worker = self._start(self._specs[lid])
        except BaseException:
            with slots.cond:
                slots.count -= 1
                slots.cond.notify()
            raise
        with slots.cond:
            slots.live.add(worker)
            if not self._closed:
                return worker
        self._discard(lid, worker)
        raise InvocationError("the function pool is closed")

    def _start(self, spec: WorkerSpec) -> _Worker:
        parent_conn, child_conn = _SPAWN.Pipe()
        process = _SPAWN.Process(target=serve, args=(child_conn, spec), name=f"lambda:{spec.logical_id}", daemon=True)
        process.start()
        # Only the worker may hold its end, so the worker sees EOF as soon as this process is gone.
        child_conn.close()
        worker = _Worker(process, parent_conn, busy=True)
        try:
            if not parent_conn.poll(INIT_TIMEOUT):
                raise InvocationError(f"init timed out after {INIT_TIMEOUT:.0f} s", "Sandbox.Timedout")
            reply = parent_conn.recv()
        except (EOFError, OSError):
            reply = ("error", "Runtime.ExitError", f"worker exited during init (exit code {process.exitcode})", [])
        except InvocationError:
            self._kill(worker)
            raise
        if reply[0] != "ready":
            self._kill(worker)
            _, error_type, message, stack = reply
            raise InvocationError(f"{error_type}: {message}", error_type, stack)
        return worker

    def _release(self, lid: str, worker: _Worker) -> None:
        slots = self._slots[lid]
        with slots.cond:
            worker.busy = False
            if self._closed:
                worker.conn.close()
                return
            slots.idle.append(worker)
            slots.cond.notify()

    def _discard(self, lid: str, worker: _Worker) -> None:
        self._kill(worker)
        slots = self._slots[lid]
        with slots.cond:
            self._forget(slots, worker)

    @staticmethod
    def _forget(slots: _Slots, worker: _Worker) -> None:
        if worker in slots.live:
            slots.live.discard(worker)
            slots.count -= 1
            slots.cond.notify()

    @staticmethod
    def _kill(worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(2)
        worker.conn.close()
