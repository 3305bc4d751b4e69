"""The guard's records in the community table, in one partition per tenant (offences are rare: a percent of
messages at most), so `guard log` is one Query: each offence with its evidence and its own actions (deletion,
warning or removal, each with its status) in one item; the sweep's actions (its notice, its removals) one item
each."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

from pynamodb.exceptions import PutError, UpdateError

from qunyun.adapters.community_tables import GuardActionItem, GuardOffenceItem
from qunyun.adapters.tables import conditional_failed
from qunyun.domain.guard import OFFENCE_ACTIONS, Action, Offence

_STATUS = {k: (getattr(GuardOffenceItem, f"{k}_status"), getattr(GuardOffenceItem, f"{k}_reason"))
           for k in OFFENCE_ACTIONS}


def _pk(tenant_id: str) -> str:
    return f"{tenant_id}#GUARDLOG"


def _offence_sk(group_id: str, member_id: str, message_id: str = "") -> str:
    return f"O#{group_id}#{member_id}#{message_id}"


def _offence(tenant_id: str, i: GuardOffenceItem) -> Offence:
    actions = {k: (getattr(i, f"{k}_status"), getattr(i, f"{k}_reason") or "") for k in OFFENCE_ACTIONS
               if getattr(i, f"{k}_status")}
    return Offence(tenant_id, i.group_id, i.platform, i.chat_id, i.member_id, i.message_id, i.text or "", i.rule,
                   i.detail or "", i.at, bool(i.pardoned), actions)


def _action(tenant_id: str, i: GuardActionItem) -> Action:
    return Action(tenant_id, i.sk.removeprefix("A#"), i.kind, i.group_id, i.platform, i.chat_id, i.member_id,
                  i.message_id, i.rule, i.at, i.status, i.reason or "", i.evidence or "")


def _offence_keys(action_id: str) -> Iterator[tuple[str, str, str, str]]:
    """The (kind, group, member, message) an offence's action id may name: ids may hold colons themselves, so
    every split with a member of at least `platform:user` is a candidate (its item's fields tell which)."""
    kind, _, rest = action_id.partition(":")
    parts = rest.split(":")
    for g in range(1, len(parts) - 2):
        for m in range(g + 2, len(parts)):
            yield kind, ":".join(parts[:g]), ":".join(parts[g:m]), ":".join(parts[m:])


class GuardLog:
    def add_offence(self, o: Offence) -> Offence | None:
        """Writes the offence with its actions as intended, once per message; returns None, or the offence as
        already written (a retried batch: its actions may have happened)."""
        item = GuardOffenceItem(_pk(o.tenant_id), _offence_sk(o.group_id, o.member_id, o.message_id),
                                group_id=o.group_id, platform=o.platform, chat_id=o.chat_id, member_id=o.member_id,
                                message_id=o.message_id, text=o.text, rule=o.rule, detail=o.detail, at=o.at,
                                **{f"{k}_status": "intended" for k in o.actions})
        try:
            item.save(condition=GuardOffenceItem.pk.does_not_exist())
            return None
        except PutError as e:
            if e.cause_response_code != "ConditionalCheckFailedException":
                raise
        return _offence(o.tenant_id, GuardOffenceItem.get(item.pk, item.sk, consistent_read=True))

    def finish_offence(self, o: Offence, results: Mapping[str, tuple[str, str]], now: datetime) -> None:
        """The results of the offence's actions, in one write: kind → (status, reason)."""
        actions = [GuardOffenceItem.updated_at.set(now)]
        for kind, (status, reason) in results.items():
            attr_status, attr_reason = _STATUS[kind]
            actions += [attr_status.set(status), attr_reason.set(reason) if reason else attr_reason.remove()]
        GuardOffenceItem(_pk(o.tenant_id), _offence_sk(o.group_id, o.member_id, o.message_id)).update(
            actions=actions, condition=GuardOffenceItem.pk.exists())

    def finish_offences(self, done: list[tuple[Offence, Mapping[str, tuple[str, str]]]], now: datetime) -> None:
        """A batch's offences with their actions' results, written whole (BatchWriteItem, 25 a request): each was
        written moments before, with its actions intended, by this batch."""
        with GuardOffenceItem.batch_write() as batch:
            for o, results in done:
                states = {**{k: ("intended", "") for k in o.actions}, **results}
                batch.save(GuardOffenceItem(
                    _pk(o.tenant_id), _offence_sk(o.group_id, o.member_id, o.message_id), group_id=o.group_id,
                    platform=o.platform, chat_id=o.chat_id, member_id=o.member_id, message_id=o.message_id,
                    text=o.text, rule=o.rule, detail=o.detail, at=o.at, updated_at=now,
                    **{f"{k}_status": status for k, (status, _) in states.items()},
                    **{f"{k}_reason": reason for k, (_, reason) in states.items() if reason}))

    def offences(self, tenant_id: str, group_id: str | None = None, member_id: str | None = None
                 ) -> list[Offence]:
        """The tenant's offences, or one member's in one group (one Query), with their actions."""
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
        """Writes an action of its own (the sweep's) as intended; returns None, or the action as already written."""
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
        """An action's result: an action of its own, or one an offence's item carries."""
        try:
            GuardActionItem(_pk(tenant_id), f"A#{action_id}").update(actions=[
                GuardActionItem.status.set(status), GuardActionItem.reason.set(reason or None),
                GuardActionItem.updated_at.set(now)], condition=GuardActionItem.pk.exists())
            return
        except UpdateError as e:
            if not conditional_failed(e):
                raise
        found = self._offence_of(tenant_id, action_id)
        if found is None:
            raise LookupError(f"no guard action {action_id!r}")
        self.finish_offence(found, {action_id.partition(":")[0]: (status, reason)}, now)

    def _offence_of(self, tenant_id: str, action_id: str) -> Offence | None:
        """The offence whose item carries the action."""
        for kind, group_id, member_id, message_id in _offence_keys(action_id):
            if kind not in OFFENCE_ACTIONS:
                return None
            try:
                i = GuardOffenceItem.get(_pk(tenant_id), _offence_sk(group_id, member_id, message_id),
                                         consistent_read=True)
            except GuardOffenceItem.DoesNotExist:
                continue
            if (i.group_id, i.member_id, i.message_id) == (group_id, member_id, message_id) and \
                    getattr(i, f"{kind}_status"):
                return _offence(tenant_id, i)
        return None

    def action(self, tenant_id: str, action_id: str) -> Action | None:
        try:
            return _action(tenant_id, GuardActionItem.get(_pk(tenant_id), f"A#{action_id}", consistent_read=True))
        except GuardActionItem.DoesNotExist:
            pass
        found = self._offence_of(tenant_id, action_id)
        return found.action(action_id.partition(":")[0]) if found is not None else None

    def actions(self, tenant_id: str) -> list[Action]:
        """Every action: the offences' and the sweep's."""
        out = [o.action(k) for o in self.offences(tenant_id) for k in OFFENCE_ACTIONS if k in o.actions]
        items = GuardActionItem.query(_pk(tenant_id), GuardActionItem.sk.startswith("A#"), consistent_read=True)
        return out + [_action(tenant_id, i) for i in items]
