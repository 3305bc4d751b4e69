"""The guard's rules of conduct: what an offence is worth on the ladder, what each platform lets qunyun do about
it, and the records that make every action happen at most once.

An action is written as intended before it is attempted and its result after; a retried batch that finds an
action already intended does not attempt it again (it may have happened): a removal becomes an operator task,
a deletion or warning is recorded as failed. An offence's own actions (its deletion, then its warning or removal)
are written with it, in one record: the offence and what is to be done about it are on record together."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

ActionKind = Literal["delete", "warn", "remove", "restore"]
# intended: written, not yet known to be done; task: for an operator; closed/pardoned: an operator closed it.
Status = Literal["intended", "done", "failed", "task", "closed", "pardoned"]
OPEN = ("intended", "task")
OFFENCE_ACTIONS: tuple[ActionKind, ...] = ("delete", "warn", "remove")  # what an offence's record may carry
INTERRUPTED = "interrupted before its result was recorded: check whether it happened"
# A removal in one of these stands: made, about to be, or an operator's to make (a pardon undoes it).
STANDING = ("intended", "done", "task", "closed")

# What each platform allows a bot (reference/inbound.md): removal where an API exists; where none does, an
# operator must remove by hand, with the reason they are told.
NO_REMOVAL = {
    "wecom": "WeCom has no API that removes a member from a customer group",
    "dingtalk": "DingTalk removes members by API only from scene groups (场景群) the app created; this group is "
                "not tagged scene_group",
}
# A DingTalk group the app created from a scene-group template: the operator tags it so in the group CSV, since
# neither the robot's callback nor the group events say which kind a group is.
SCENE_GROUP_TAG = "scene_group"
# Where the guard tries to delete an offending message and records the answer (DingTalk's is always "no API").
CAN_DELETE = frozenset({"telegram", "feishu", "slack", "dingtalk"})
CAN_RESTORE = frozenset({"telegram"})  # unbanChatMember lets a removed member come back


@dataclass(frozen=True)
class Action:
    tenant_id: str
    action_id: str
    kind: ActionKind
    group_id: str
    platform: str
    chat_id: str
    member_id: str
    message_id: str  # of the offence behind it
    rule: str
    at: datetime
    status: Status = "intended"
    reason: str = ""
    evidence: str = ""  # the offending text, for tasks and the log


@dataclass(frozen=True)
class Offence:
    tenant_id: str
    group_id: str
    platform: str
    chat_id: str
    member_id: str
    message_id: str
    text: str  # the evidence: kept for the operator, never posted back into the group
    rule: str
    detail: str
    at: datetime
    pardoned: bool = False
    # Its actions, written as intended with it and finished after: kind → (status, reason).
    actions: Mapping[str, tuple[str, str]] = field(default_factory=dict, compare=False)

    def action(self, kind: str) -> Action:
        """One of the offence's actions, as the log and the operators' tasks show it."""
        status, reason = self.actions.get(kind, ("intended", ""))
        return Action(self.tenant_id, action_id(kind, self.group_id, self.member_id, self.message_id), kind,
                      self.group_id, self.platform, self.chat_id, self.member_id, self.message_id, self.rule, self.at,
                      status, reason, self.text)

    def removals(self) -> list[Action]:
        return [self.action("remove")] if "remove" in self.actions else []


def no_removal(platform: str, tags: tuple[str, ...]) -> str | None:
    """Why no API can remove a member of this group, or None where one can."""
    if platform == "dingtalk" and SCENE_GROUP_TAG in tags:
        return None
    return NO_REMOVAL.get(platform)


def action_id(kind: str, group_id: str, member_id: str, message_id: str) -> str:
    """The same offence always names the same action: a retry finds what the first attempt wrote."""
    return f"{kind}:{group_id}:{member_id}:{message_id}"


def offences_in_window(offences: list[Offence], offence: Offence, window_days: int) -> int:
    """How many offences (this one included, pardoned ones not) the member has in the window ending at it."""
    since = offence.at - timedelta(days=window_days)
    return sum(1 for o in offences if not o.pardoned and since < o.at <= offence.at)


def removed_already(removals: list[Action], offence: Offence, window_days: int, joined_at: datetime | None,
                    this_removal: str) -> bool:
    """Whether a removal for an earlier offence of the window still stands: the member is then not removed (nor
    warned) again for a later one, unless the roster shows them joining again after that removal."""
    since = offence.at - timedelta(days=window_days)
    for r in removals:
        if r.action_id != this_removal and r.status in STANDING and since < r.at <= offence.at:
            if joined_at is None or joined_at <= r.at:
                return True
    return False


def not_done(kind: str) -> Status:
    """What an action that did not happen (or may not have: found still intended) becomes: a removal is an
    operator's task, anything else failed."""
    return "task" if kind == "remove" else "failed"


def ladder_step(ladder: str, count: int) -> Literal["warn", "remove"]:
    if ladder == "remove" or (ladder == "warn_then_remove" and count >= 2):
        return "remove"
    return "warn"


def user_id(member_id: str) -> str:
    """The platform's own id of a member id `{platform}:{user id}`."""
    return member_id.partition(":")[2]


# Characters that would make a member's name a mention (@all, <at user_id="all">, <!channel>), markup or a link on
# some platform, written full-width: they read the same to members and mean nothing to the platform.
INERT = str.maketrans({"@": "＠", "<": "＜", ">": "＞", "[": "［", "]": "］", "*": "＊", "`": "｀", "#": "＃"})


def warning_text(warned: list[tuple[str, str]]) -> str:
    """One message for a group's warnings of a batch: each member (by name, made inert) and the rule they broke;
    never the offending text or link."""
    lines = [f"{name.translate(INERT)}：违反群规（{rule}），已警告；再次违反将被移出本群。" for name, rule in warned]
    return "\n".join(["群规提醒 / Group rules reminder:", *lines])


RULE_NAMES = {"link": "禁止发链接 / links", "invite code": "禁止发邀请码 / invitation codes"}


def rule_name(rule: str) -> str:
    """A rule as members read it: its kind and number, never the word or pattern itself."""
    if rule in RULE_NAMES:
        return RULE_NAMES[rule]
    kind, _, number = rule.partition(" ")
    return f"{'违禁词' if kind == 'word' else '违规内容'} {number} / {rule}"


@dataclass(frozen=True)
class GuardGroup:
    """A group as the guard needs it: its rules' scope (kind, tags), its chat and its bot's credential."""

    group_id: str
    kind: str
    tags: tuple[str, ...]
    channel: str
    chat_id: str
    owner: str | None
    secret: str | None
    # The platform connection's app credentials (`qunyun connect`), for the platforms whose moderation calls are
    # the app's: Feishu, Slack, DingTalk.
    app: Mapping[str, str] = field(default_factory=dict, compare=False)
    webhook_url: str | None = field(default=None, compare=False)  # a DingTalk group's robot: where warnings go


@dataclass(frozen=True)
class Outcome:
    """What a platform answered to one action."""

    ok: bool
    reason: str = ""  # the platform's own words when it refused
    unsupported: bool = False  # no API for it on this platform or channel
