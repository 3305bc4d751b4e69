"""Sending to a WeCom owner's customer groups: one mass-send task (`add_msg_template`) per distinct text.

A WeCom task's groups are recorded on their days once the task exists, with the claim dropped in the same
conditional write (PartiQL statements, 25 to a request). Tasks are never created twice (the owner would be asked
twice and the group's quota spent twice): groups whose sender stopped before recording end `unknown_after_crash`.
"""

from __future__ import annotations

from collections import defaultdict

from qunyun.adapters.delivery_claims import Outcome
from qunyun.adapters.secrets import corp_ref
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.groups import Group
from qunyun.services.push_job import PushJob, RetryLater


def _corp(job: PushJob):
    from qunyun.channels.wecom_customer_group import Corp

    corp_id = job.deps.secrets.get(corp_ref(job.deps.secrets, job.tenant.tenant_id, "corp_id"))
    secret = job.deps.secrets.get(corp_ref(job.deps.secrets, job.tenant.tenant_id, "corp_secret"))
    return Corp(corp_id, secret) if corp_id and secret else None


def _records(claimed: dict[str, list[tuple[Group, Delivery]]]) -> list[Delivery]:
    return [record for members in claimed.values() for _, record in members]


def _claim_all(job: PushJob, loaded: list[tuple[Group, str | None]]) -> dict[str, list[tuple[Group, Delivery]]]:
    """The owner's groups this attempt may send to, by their text; all or, when one is busy, none. Nothing is
    sent before all are claimed, so the pushes new to their days are planned together (`PushJob.plan_together`)."""
    readied = [(group, r) for group, broken in loaded if (r := job.ready(group, broken)) is not None]
    together = job.plan_together([(group, known) for group, (known, found, _) in readied if found is None])
    taken = {group.group_id: (rendered.text, together[group.group_id]) for group, (_, _, rendered) in readied
             if together.get(group.group_id) is not None}
    try:
        for group, (known, found, rendered) in readied:
            if group.group_id in taken:
                continue
            state = None
            if found is None:  # planned alone: from the day as read, or read again when the write was refused
                planned = job.plan(group, None if group.group_id in together else known)
                if planned is None:
                    continue
                found, state = planned
            if (state or job.claim(found, group.channel.value)) is not None:
                taken[group.group_id] = (rendered.text, found)
    except Exception as e:
        # Another sender holds one of the groups, or planning one failed: give back the claims taken so far,
        # which were never sent, or they would look like a crashed send to the retry.
        job.give_back([record for _, record in taken.values()], "busy" if isinstance(e, RetryLater) else
                      "before_send")
        raise
    claimed: dict[str, list[tuple[Group, Delivery]]] = defaultdict(list)
    for group, _ in readied:
        if group.group_id in taken:
            text, record = taken[group.group_id]
            claimed[text].append((group, record))
    return claimed


def send_customer(job: PushJob, owner: str, loaded: list[tuple[Group, str | None]]) -> None:
    """One add_msg_template per distinct text (WeCom sends one text to all of a task's groups), covering the
    owner's groups whose budget allowed the push; each group ends awaiting_owner with the task's msgid."""
    claimed = _claim_all(job, loaded)
    if not claimed:
        return
    with job.before_send(_records(claimed)):
        corp = _corp(job)
    claims, retry = job.deps.claims, []
    for text, members in claimed.items():
        if corp is None:
            claims.finish_all([Outcome(record, job.token, Status.failed, job.now, reason="channel_broken",
                                       error="no WeCom corp credentials: store {tenant}/wecom/corp_id and "
                                             "corp_secret") for _, record in members])
            continue
        outcomes, retry_after = _hand_over(job, owner, corp, text, members)
        claims.finish_all(outcomes)  # each task's groups once it exists
        retry += [retry_after] if retry_after is not None else []
    if retry:
        raise RetryLater(max(retry), "WeCom asked to try the mass-send task later")


def _hand_over(job: PushJob, owner: str, corp, text: str,
               members: list[tuple[Group, Delivery]]) -> tuple[list[Outcome], float | None]:
    """Creates one mass-send task for the members: their outcomes to record, or (their claims given back) the
    seconds WeCom asked to wait before trying again."""
    result = job.deps.customer_groups().add_msg_template(corp, owner, [g.chat_id for g, _ in members], text)
    job.deps.after_send(owner, result)
    if result.ok:
        refused = set(result.data.fail_list)
        handed = [record for group, record in members if group.chat_id not in refused]
        if handed:  # the task enters the follow-up job's index before its records say awaiting_owner
            job.deps.deliveries.await_owner(result.data.msgid, handed, job.now)
        return [Outcome(record, job.token, Status.failed, job.now, reason="wecom_refused",
                        error="WeCom refused the group (not the owner's, or dissolved)")
                if group.chat_id in refused else
                Outcome(record, job.token, Status.awaiting_owner, job.now, message_ids=(result.data.msgid,))
                for group, record in members], None
    if result.outcome.value == "transient":
        retried = all([job.transient(record, result.code, 0) for _, record in members])
        return [], (result.retry_after or 1.0) if retried else None
    return [Outcome(record, job.token, Status.failed, job.now, reason="channel_error",
                    error=f"{result.code}: {result.detail}") for _, record in members], None
