"""The guard's records in the community table: offences with their evidence and actions with their status, in
one partition per tenant (offences are rare: a percent of messages at most), so `guard log` is one Query."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import PutError

from qunyun.adapters.community_tables import GuardActionItem, GuardOffenceItem
from qunyun.domain.guard import Action, Offence, action_id


def _pk(tenant_id: str) -> str:
    return f"{tenant_id}#GUARDLOG"


def _offence_sk(group_id: str, member_id: str, message_id: str = "") -> str:
    return f"O#{group_id}#{member_id}#{message_id}"


def _offence(tenant_id: str, i: GuardOffenceItem) -> Offence:
    return Offence(tenant_id, i.group_id, i.platform, i.chat_id, i.member_id, i.message_id, i.text or "", i.rule,
                   i.detail or "", i.at, bool(i.pardoned))


def _action(tenant_id: str, i: GuardActionItem) -> Action:
    return Action(tenant_id, i.sk.removeprefix("A#"), i.kind, i.group_id, i.platform, i.chat_id, i.member_id,
                  i.message_id, i.rule, i.at, i.status, i.reason or "", i.evidence or "")


class GuardLog:
    def add_offence(self, o: Offence) -> None:
        """Once per message: a retried batch finds the offence already there."""
        item = GuardOffenceItem(_pk(o.tenant_id), _offence_sk(o.group_id, o.member_id, o.message_id),
                                group_id=o.group_id, platform=o.platform, chat_id=o.chat_id, member_id=o.member_id,
                                message_id=o.message_id, text=o.text, rule=o.rule, detail=o.detail, at=o.at)
        try:
            item.save(condition=GuardOffenceItem.pk.does_not_exist())
        except PutError as e:
            if e.cause_response_code != "ConditionalCheckFailedException":
                raise

    def offences(self, tenant_id: str, group_id: str | None = None, member_id: str | None = None
                 ) -> list[Offence]:
        prefix = _offence_sk(group_id, member_id) if group_id and member_id else "O#"
        items = GuardOffenceItem.query(_pk(tenant_id), GuardOffenceItem.sk.startswith(prefix), consistent_read=True)
        return [_offence(tenant_id, i) for i in items]

    def pardon_offences(self, tenant_id: str, group_id: str, member_id: str) -> int:
        found = list(GuardOffenceItem.query(_pk(tenant_id), GuardOffenceItem.sk.startswith(
            _offence_sk(group_id, member_id))))
        for item in found:
            item.update(actions=[GuardOffenceItem.pardoned.set(True)])
        return len(found)

    def intend(self, a: Action, now: datetime) -> Action | None:
        """Writes the action as intended; returns None, or the action as already written (a retry)."""
        item = GuardActionItem(_pk(a.tenant_id), f"A#{a.action_id}", kind=a.kind, group_id=a.group_id,
                               platform=a.platform, chat_id=a.chat_id, member_id=a.member_id,
                               message_id=a.message_id, rule=a.rule, at=a.at, status="intended",
                               reason=a.reason or None, evidence=a.evidence or None, updated_at=now)
        try:
            item.save(condition=GuardActionItem.pk.does_not_exist())
            return None
        except PutError as e:
            if e.cause_response_code != "ConditionalCheckFailedException":
                raise
        return self.action(a.tenant_id, a.action_id)

    def finish(self, tenant_id: str, action_id: str, status: str, reason: str, now: datetime) -> None:
        GuardActionItem(_pk(tenant_id), f"A#{action_id}").update(actions=[
            GuardActionItem.status.set(status), GuardActionItem.reason.set(reason or None),
            GuardActionItem.updated_at.set(now)], condition=GuardActionItem.pk.exists())

    def action(self, tenant_id: str, action_id: str) -> Action | None:
        try:
            return _action(tenant_id, GuardActionItem.get(_pk(tenant_id), f"A#{action_id}", consistent_read=True))
        except GuardActionItem.DoesNotExist:
            return None

    def removals(self, tenant_id: str, group_id: str, member_id: str) -> list[Action]:
        """The member's removals in the group (one Query of their action ids' prefix)."""
        prefix = "A#" + action_id("remove", group_id, member_id, "")
        items = GuardActionItem.query(_pk(tenant_id), GuardActionItem.sk.startswith(prefix), consistent_read=True)
        return [_action(tenant_id, i) for i in items]

    def actions(self, tenant_id: str) -> list[Action]:
        items = GuardActionItem.query(_pk(tenant_id), GuardActionItem.sk.startswith("A#"), consistent_read=True)
        return [_action(tenant_id, i) for i in items]
