"""Briefs: storing what operators write, and rendering exactly what one group receives.

Rendering one group's brief reads yesterday's board of the group (one stored item once SettlePoints has
built it) and the top three's nicknames (one BatchGetItem); the brief, the tenant's template and whether the
day's boards are built are read once by the caller (`DayBoards`) and passed in, so a sender visiting many
groups reads them once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from qunyun.adapters.content import ContentRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.ledger_reads import group_day_board, nicknames
from qunyun.adapters.render import check_dialect, compile_override, inert, render
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.briefs import DIALECTS, EDITIONS, Brief, BriefRenderError, compose, member_name, parse_brief
from qunyun.domain.errors import InvalidRequest, NotFound
from qunyun.domain.groups import Channel, Group, Kind
from qunyun.domain.tenants import Tenant
from qunyun.services.boards import TOP, boards_built, earnings, leaderboard, ranked
from qunyun.services.groups import require_tenant

if TYPE_CHECKING:  # SendPushes makes its ledger on first use (services/send_deps.py)
    from qunyun.adapters.points_ledger import PointsLedger


@dataclass(frozen=True)
class Rendered:
    group_id: str
    channel: str
    dialect: str
    edition: str
    date: str
    title: str  # the brief's title, for channels that show one apart from the text (Feishu post, DingTalk)
    text: str

    def view(self) -> dict:
        return {**self.__dict__, "bytes": len(self.text.encode())}


def add_brief(tenant: Tenant, brief: Brief, *, content: ContentRepository, now: datetime) -> dict:
    """Stores the brief of its date and edition, replacing one stored before; says which it did."""
    replaced = content.put_brief(tenant.tenant_id, brief, now)
    return {"date": brief.date.isoformat(), "edition": brief.edition, "status": "replaced" if replaced else "added",
            "sections": len(brief.sections), "targeted": sum(1 for s in brief.sections if s.audience is not None)}


class DayBoards:
    """One tenant's group boards of one day, for a sender visiting many of its groups. Once SettlePoints has
    built the day's boards (its mark says so) each group's is one stored item, and a group without one had
    nobody earning; before that, the day's earnings are read once for all the groups instead of once per group."""

    def __init__(self, ledger: PointsLedger, tenant_id: str, day: date, now: datetime):
        self.ledger, self.tenant_id, self.day, self.now = ledger, tenant_id, day, now
        self._built: bool | None = None
        self._earnings: dict | None = None

    def entries(self, group_id: str) -> list[dict]:
        if self._built is None:
            self._built = boards_built(self.ledger, self.tenant_id, self.day)
        if self._built:
            return group_day_board(self.ledger, self.tenant_id, group_id, self.day)
        if self._earnings is None:
            self._earnings = earnings(self.ledger, self.tenant_id, [self.day])
        return ranked(self._earnings.get(f"group:{group_id}", Counter()))


def yesterday_board(tenant_id: str, group_id: str, day: date, *, ledger: PointsLedger, now: datetime,
                    boards: DayBoards | None = None) -> dict | None:
    """The group's points of the day before `day`: how many members earned any and the top three with their
    nicknames; None when nobody in the group earned points that day."""
    before = day - timedelta(days=1)
    if boards is not None and boards.day == before:
        entries = boards.entries(group_id)
    else:
        entries = leaderboard(tenant_id, f"group:{group_id}", "day", before, TOP, ledger=ledger, now=now)["entries"]
    if not entries:
        return None
    top = entries[:3]
    names = nicknames(ledger, tenant_id, [e["member_id"] for e in top])
    return {"day": before, "active": len(entries), "top": [
        {"rank": e["rank"], "name": member_name(names[e["member_id"]], e["member_id"]), "points": e["points"]}
        for e in top]}


def render_brief(tenant: Tenant, group: Group, brief: Brief, *, ledger: PointsLedger, now: datetime,
                 template: str | None = None, boards: DayBoards | None = None) -> Rendered:
    """The text this group's channel receives for the brief, in its dialect, from the tenant's own
    `template` when it has one. Raises BriefRenderError (carrying the group id and the reason).

    A WeCom customer group receives the text of its owner's mass-send task, one text for up to 2,000 groups:
    it is rendered without the group's name and board, which differ from group to group."""
    dialect = DIALECTS[group.channel]
    shared = group.channel is Channel.wecom_customer_group
    board = None if shared else yesterday_board(tenant.tenant_id, group.group_id, brief.date, ledger=ledger, now=now,
                                                boards=boards)
    shown = group.model_copy(update={"name": ""}) if shared else group
    context = compose(brief, shown, group.effective_timezone(tenant.timezone), tenant.policy.locale, board)
    try:
        text = render(dialect, brief.edition, context, template)
    except BriefRenderError as e:
        raise e.for_group(group.group_id) from None
    return Rendered(group.group_id, group.channel.value, dialect, brief.edition, brief.date.isoformat(),
                    inert(context["brief"]["title"]), text)


def check_edition(edition: str) -> str:
    if edition not in EDITIONS:
        raise InvalidRequest(f"Edition {edition!r} is not known; use morning or evening.", field="edition")
    return edition


def preview(tenant_id: str, group_id: str, edition: str, day: date, *, tenants: TenantRepository,
            groups: GroupRepository, content: ContentRepository, ledger: PointsLedger, now: datetime) -> Rendered:
    """Exactly what the group would receive for that date and edition (API.md §5 `briefs preview`)."""
    check_edition(edition)
    tenant = require_tenant(tenant_id, tenants)
    group = groups.get(tenant_id, group_id)
    if group is None:
        raise NotFound(f"There is no group {group_id!r}; import it with `qunyun groups import`.", code="unknown_group")
    brief = content.brief(tenant_id, day, edition)
    if brief is None:
        raise NotFound(f"There is no {edition} brief for {day}; add one with `qunyun briefs add`.", code="no_brief")
    template = content.template(tenant_id, edition, DIALECTS[group.channel])
    return render_brief(tenant, group, brief, ledger=ledger, now=now, template=template)


def _sample(edition: str) -> tuple[Brief, Group, dict]:
    """A brief with every kind of section and a board, to try a tenant's template on before storing it."""
    link = "https://example.com/"
    brief = parse_brief({"date": "2026-11-25", "edition": edition, "title": "Sample", "sections": [
        {"kind": "news", "title": "News", "text": "Text", "link": link,
         "items": [{"title": "Item", "link": link, "summary": "Summary"}]},
        {"kind": "tip", "text": "Tip", "link": link},
        {"kind": "product", "name": "Tea", "price": "¥39", "coupon": "-5", "text": "Text", "link": link},
        {"kind": "event", "title": "Live", "time": "2026-11-29T20:00:00+08:00", "text": "Text", "link": link},
        {"kind": "checkin", "text": "Check in", "link": link},
        {"kind": "quiz", "question": "Why?", "link": link},
        {"kind": "text", "title": "Note", "text": "Text", "link": link}]})
    group = Group(tenant_id="sample", group_id="sample", name="Sample group", kind=Kind.other, channel="outbox",
                  created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1))
    board = {"day": date(2026, 11, 24), "active": 3, "top": [{"rank": 1, "name": "A", "points": 3}]}
    return brief, group, board


def set_template(tenant: Tenant, edition: str, dialect: str, source: str, *, content: ContentRepository,
                 now: datetime) -> None:
    """Stores the tenant's own template for an edition and dialect after compiling it in the sandbox and
    trying it on a sample brief with and without a board, so a mistake shows now rather than at 08:00."""
    check_edition(edition)
    try:
        check_dialect(dialect)
        compile_override(dialect, source)
        brief, group, board = _sample(edition)
        for sample_board in (board, None):
            render(dialect, edition, compose(brief, group, tenant.timezone, tenant.policy.locale, sample_board),
                   source)
    except ValueError as e:
        raise InvalidRequest(str(e), field="dialect") from None
    except BriefRenderError as e:
        raise InvalidRequest(f"The template does not render: {e.reason}.", code="invalid_template") from None
    content.put_template(tenant.tenant_id, edition, dialect, source, now)
