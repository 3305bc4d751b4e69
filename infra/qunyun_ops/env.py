"""Chooses the stack a command talks to: the local stack of this checkout (--local) or AWS.

The functions' shared package reads its settings from the environment at import, so this runs before
anything from `qunyun` is imported, exactly as Lambda sets a function's environment before its import.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from qunyun_ops.paths import ROOT, STATE

LOCAL_STACK = "qunyun-local"
STATE_FILE = STATE / "local.json"
SECRETS_FILE = STATE / "secrets.json"


class StackNotRunning(RuntimeError):
    pass


def local_environment(
    ddb_endpoint: str, stack_name: str = LOCAL_STACK, secrets_file: Path = SECRETS_FILE, sqs_endpoint: str | None = None
) -> dict:
    sqs = {"QUNYUN_SQS_ENDPOINT": sqs_endpoint, "AWS_ENDPOINT_URL_SQS": sqs_endpoint} if sqs_endpoint else {}
    return {
        **sqs,
        "STACK_NAME": stack_name,
        "DYNAMODB_ENDPOINT": ddb_endpoint,
        "QUNYUN_SECRETS_FILE": str(secrets_file),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        # DynamoDB Local accepts any credentials; these keep boto3 from looking for real ones.
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "POWERTOOLS_METRICS_NAMESPACE": "Qunyun",
        "POWERTOOLS_SERVICE_NAME": "qunyun",
    }


OUTBOX_DIR = STATE / "outbox"


def local_overrides() -> dict:
    """What differs from Lambda on the local stack: templates come from the checkout, not the /opt layer, and
    the outbox channel writes JSON lines under the state folder (`{tenant}/{group}.jsonl`) unless
    QUNYUN_OUTBOX_DIR names another folder."""
    return {"QUNYUN_TEMPLATES_DIR": str(ROOT / "templates"),
            "QUNYUN_OUTBOX_DIR": os.environ.get("QUNYUN_OUTBOX_DIR") or str(OUTBOX_DIR)}


# Settings the functions read from the environment that `qunyun local up` inherits from its shell (channel base
# URLs, timeouts, the outbox folder, log level): stored with the stack's state, so that `qunyun local run` from
# another shell gives a job what the stack's scheduler would.
INHERITED = ("QUNYUN_", "POWERTOOLS_")


def inherited_settings(environ: dict | None = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if k.startswith(INHERITED)}


def stack_environment(state: dict) -> tuple[dict[str, str], dict[str, str]]:
    """The environment and overrides the running stack gives its functions (stacks started before they were
    stored: what this shell has); sets this process's inherited settings to the stack's, so the workers it
    starts see no setting of this shell that the stack's do not."""
    env = local_environment(
        state["ddb_endpoint"], state["stack_name"], Path(state["secrets_file"]), state.get("sqs_endpoint")
    )
    if "environment" not in state:
        return env, local_overrides()
    stored = state["environment"]
    for key in inherited_settings():
        if key not in stored:
            del os.environ[key]
    os.environ.update(stored)
    return {**stored, **env}, state["overrides"]


def read_state() -> dict:
    try:
        state = json.loads(STATE_FILE.read_text())
    except (FileNotFoundError, ValueError):
        raise StackNotRunning(
            "The local stack is not running in this checkout; start it with `qunyun local up`."
        ) from None
    try:
        os.kill(state["pid"], 0)
    except (ProcessLookupError, KeyError):
        raise StackNotRunning(
            "The local stack of this checkout has stopped; start it again with `qunyun local up`."
        ) from None
    return state


def use_local() -> dict:
    state = read_state()
    os.environ.update(local_environment(
        state["ddb_endpoint"], state["stack_name"], Path(state["secrets_file"]), state.get("sqs_endpoint")
    ))
    return state


def use_aws() -> None:
    os.environ.setdefault("STACK_NAME", os.environ.get("QUNYUN_STACK", "qunyun"))
