"""Rules every function in template.yaml must follow to be deployable and operable."""

from __future__ import annotations

from qunyun_ops.local.template import Template


def schedule_problems(template: Template) -> list[str]:
    """A scheduled job must say its timezone, how often it is retried and where failures are parked."""
    problems = []
    for s in template.schedules:
        where = f"{s.function}.{s.name}"
        if not s.timezone:
            problems.append(f"{where}: ScheduleExpressionTimezone is missing (jobs run in the operators' time)")
        if s.retry_attempts is None:
            problems.append(f"{where}: RetryPolicy.MaximumRetryAttempts is missing")
        if not s.dead_letter:
            problems.append(f"{where}: DeadLetterConfig is missing (failed firings must not vanish)")
        if not s.input or "<aws.scheduler.scheduled-time>" not in s.input:
            problems.append(f"{where}: Input must pass <aws.scheduler.scheduled-time> (jobs take 'now' from it)")
    return problems


def handler_modules(template: Template) -> dict[str, tuple[str, str, str]]:
    """logical id → (code uri, module, function) of every function's Handler."""
    out = {}
    for lid, fn in template.functions.items():
        module, _, func = fn.handler.rpartition(".")
        out[lid] = (fn.code_uri, module, func)
    return out
