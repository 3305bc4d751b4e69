"""Sending pushes: one queue message (a group, or a WeCom owner's customer groups) rendered and delivered.

Every kind of push (domain/push_messages.py: a brief edition, a reminder rung, a cancellation notice, a farewell)
gets the same planning and claims (services/push_job.py), retries and records; its content is what differs
(services/push_content.py; brief_push.py, reminder_push.py, farewell_push.py). The modules, from the top:
push_send (one message) → mass_send (a WeCom owner's groups) → push_job (planning, claims) → send_deps and
push_batch (what a batch reads once, its read-ahead, its outcome pages).

What is guaranteed, and why:

* **At most one delivery per (group, date, push).** The push is planned once: its delivery record lives in
  the group's day, keyed by push id, and one conditional write spends the daily-cap slot (a customer group's
  quota just before, in its own idempotent write), writes the record and *claims* it for this sender (a fresh
  token, the time). A record planned earlier and given back is claimed again with a conditional write before
  the channel is called. Only the claim holder sends, and it records the outcome: a batch's sent pushes' outcomes
  together, as one item (the outcome page of the claim token they were claimed with: services/outcome_pages.py),
  when 25 wait and when the batch ends or fails; a record still claimed with the token reads as its outcome
  there, and the batch's next messages claim with a new token. A WeCom task's groups are recorded on their
  days, with the claim dropped in the same conditional write (PartiQL statements, 25 to a request), once the
  task exists. A duplicate SQS message, a second dispatcher run or a concurrent sender finds the record sent,
  skipped or claimed, and sends nothing.
* **A crash between the channel's send and the record** leaves the claim behind (and the claims of the sends
  whose outcomes were waiting with it: at most 25). Robots and bots have no idempotency key, so nobody can
  tell whether the group got the message: sending again could post it twice.
  After the claim's lease (longer than the function's timeout) the next attempt records the delivery `failed`
  with the reason `unknown_after_crash` and does not send: at most once, never twice. Channels whose receiver
  drops a repeated key (`outbox`, and `signed_webhook` bridges that honour the envelope's `key`) are sent again
  with the same key instead: the receiver sees it once. WeCom mass-send tasks are never created twice (the
  owner would be asked twice and the group's quota spent twice): those groups end `unknown_after_crash` too.
* **Transient failures** (rate limits, 5xx, timeouts) give the claim back, remembering how many parts of a
  split message arrived, and raise `RetryLater` with the platform's retry-after, so SQS hands the message back
  no earlier; the retry resumes after the parts already delivered. On the queue's last receive the record is
  `failed` with the reason `retries_exhausted`. **Permanent failures** mark the group's channel broken and
  record `failed`; there is no retry.
* **A render error** (a tenant's template) records that group `failed` with the reason `render_error` before
  any slot is spent; the other groups of a run are unaffected.
"""

from __future__ import annotations

from collections.abc import Callable

from qunyun.adapters.delivery_claims import Outcome
from qunyun.channels import Message, SendResult, Target
from qunyun.domain.deliveries import Status
from qunyun.domain.groups import Group
from qunyun.domain.push_messages import PushMessage
from qunyun.domain.tenants import Tenant
from qunyun.services.brief_push import brief_content
from qunyun.services.checkin_reply_push import checkin_reply_content
from qunyun.services.farewell_push import farewell_content
from qunyun.services.mass_send import send_customer
from qunyun.services.push_content import PushContent
from qunyun.services.push_job import PushJob, RetryLater
from qunyun.services.reminder_push import cancellation_content, reminder_content
from qunyun.services.send_deps import SendDeps
from qunyun.services.welcome_push import welcome_content

# Each kind of queue message (domain/push_messages.py) → what builds its content from the message.
CONTENT: dict[str, Callable[[PushMessage, Tenant, SendDeps], PushContent]] = {
    "brief": brief_content, "farewell": farewell_content,
    "reminder": reminder_content, "event_cancelled": cancellation_content, "checkin_reply": checkin_reply_content,
    "welcome": welcome_content,
}


def _target(job: PushJob, group: Group) -> Target:
    secrets = job.deps.secrets
    return Target(webhook_url=secrets.get(group.webhook_ref) if group.webhook_ref else None,
                  secret=secrets.get(group.secret_ref) if group.secret_ref else None,
                  chat_id=group.chat_id, tenant_id=group.tenant_id, group_id=group.group_id)


def _send_direct(job: PushJob, group: Group, broken: str | None) -> None:
    prepared = job.prepare(group, broken)
    if prepared is None:
        return
    record, rendered, state = prepared
    state = state or job.claim(record, group.channel.value)
    if state is None:
        return
    with job.before_send([record], state.parts_sent):
        sender = job.deps.channel(group.channel.value)
        target = _target(job, group)
    message = Message(rendered.text, title=rendered.title,
                      key=job.content.key(job.tenant.tenant_id, group.group_id, job.day))
    result: SendResult = sender.send(target, message, first_part=state.parts_sent)
    job.deps.after_send(group.group_id, result)
    claims = job.deps.claims
    if result.ok:
        job.deps.batch.outcomes.finish_later(Outcome(record, job.token, Status.sent, job.now,
                                                     message_ids=tuple(result.message_ids)))
    elif result.outcome.value == "transient":
        if job.transient(record, result.code, result.delivered_parts):
            raise RetryLater(result.retry_after, f"{group.channel.value} {result.code}: {result.detail}")
    else:
        job.deps.groups.mark_broken(group.tenant_id, group.group_id, result.code)
        claims.finish(record, job.token, Status.failed, job.now, reason="channel_broken",
                      error=f"{result.code}: {result.detail}")


def send_message(message: PushMessage, *, deps: SendDeps, final: bool = False) -> None:
    """Handles one queue message (domain/push_messages.py). Raises RetryLater when it should come back later."""
    if deps.batch is None:  # not part of a batch (`for_batch`): a batch of its own, its outcomes written at its end
        deps = deps.for_batch()
        with deps.batch.outcomes.written():
            return send_message(message, deps=deps, final=final)
    batch = deps.batch
    tenant = batch.tenant(message.tenant_id)
    if tenant is None:
        return
    day = message.date
    content = CONTENT[message.kind](message, tenant, deps)
    job = PushJob(tenant, content, day, final, deps, deps.clock(), batch.outcomes.token)
    loaded = batch.ahead.groups_of(tenant.tenant_id, day, list(message.group_ids))
    groups = [loaded[g] for g in message.group_ids if g in loaded]
    stale = getattr(content, "stale", None)
    if stale is not None:  # a message the content no longer stands behind: nothing is sent or recorded
        groups = [(g, broken) for g, broken in groups if stale(g) is None]
    if message.owner is not None:
        send_customer(job, message.owner, groups)
        return
    retry: RetryLater | None = None
    for group, broken in groups:
        try:
            _send_direct(job, group, broken)
        except RetryLater as e:
            retry = e
    if retry is not None:
        raise retry
