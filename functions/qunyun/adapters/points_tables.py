"""PynamoDB models of the points table: one table, several item kinds, every key a string.

    pk                          sk                      item
    {tenant}#{member}           #BALANCE                MemberItem: balance parts, streak, status, version,
                                                        check-in marks, day caps and reward limits
    {tenant}#{member}           E#{time}#{entry_id}     EntryItem: one immutable ledger entry
    {tenant}#{member}           J#{time}#{entry_id}     JournalItem: entries kept in the member item, moved out
                                                        together, keyed by the newest one's time and id
    {tenant}#{member}           L#{expires_at}          LotItem: available points sharing one expiry instant
    {tenant}#{member}           P#invite#{id}           LotItem: pending points of one invite (a purchase's live
                                                        in its OrderItem; P#purchase#{id} until moved there)
    {tenant}#{member}           G#quiz#...              GuardItem: once-per-question keys (marks and caps
                                                        of the old layout until `points migrate`)
    {tenant}#EV#{event_id}      #EVENT                  EventItem: idempotency record of a points event
    {tenant}#OR#{order_id}      #ORDER                  OrderItem: what a purchase earned and what was refunded,
                                                        and its pending points
    {tenant}#IN#{invitee}       #INVITE                 GuardItem: one invite reward per invitee
    {tenant}#BOARD              {scope}#{period}#{key}  BoardItem: a built leaderboard
    {tenant}#{day}#PAGES        PG#{page}               EarningPageItem: a day's earning entries, a batch a page
    {tenant}#REDEEM#{day}#PAGES PG#{page}               EarningPageItem: a day's redemptions, the same way
    {tenant}#REWARDS            {reward_id}             RewardItem: a reward of the points mall
    {tenant}#RW#{reward}#S{n}   #STOCK                  StockItem: one shard of a reward's stock
    {tenant}#RD#{order_id}      #ORDER                  MallOrderItem: a redemption and its replayable answer
    JOB#{function}#{time}       {part}                  JobItem: a scheduled run's checkpoint and summary
"""

from __future__ import annotations

import json

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection

from qunyun.adapters.tables import _Meta, _Table
from qunyun.settings import get_settings

TABLE = get_settings().table("points")


class CompactJSON(JSONAttribute):
    """JSON without spaces after its separators, since write units count bytes; json.loads reads both forms."""

    def serialize(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"))


class _PointsMeta(_Meta):
    table_name = TABLE


class DueIndex(GlobalSecondaryIndex):
    """`lots_due`: the lots written before the due pages, by when they settle or expire (keys only, sparse). Read by
    nothing since SettlePoints reads the due pages; template.yaml keeps it until a later version deletes it."""

    class Meta:
        index_name = "lots_due"
        projection = KeysOnlyProjection()

    due_pk = UnicodeAttribute(hash_key=True)
    due_sk = UnicodeAttribute(range_key=True)


class MemberIndex(GlobalSecondaryIndex):
    """Every member of a tenant: only balance items carry tenant_id and member_id, so the index is sparse."""

    class Meta:
        index_name = "members"
        projection = KeysOnlyProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    member_id = UnicodeAttribute(range_key=True)


class _Item(_Table):
    class Meta(_PointsMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class MemberItem(_Item):
    class Meta(_PointsMeta):
        pass

    members = MemberIndex()
    tenant_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    nickname = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="active")
    version = NumberAttribute(default=0)
    earned = NumberAttribute(default=0)
    available = NumberAttribute(default=0)
    pending = NumberAttribute(default=0)
    spent = NumberAttribute(default=0)
    expired = NumberAttribute(default=0)
    cancelled = NumberAttribute(default=0)
    written_off = NumberAttribute(default=0)
    debt = NumberAttribute(default=0)
    streak_days = NumberAttribute(default=0)
    last_checkin = UnicodeAttribute(null=True)
    settled_purchase = BooleanAttribute(default=False)
    # Check-in marks, day caps and reward limits (points_keys.held_stored); `layout` 2 once they live here
    # only (new members, and members `qunyun points migrate` moved): before, guard items are read as well.
    held = CompactJSON(null=True)
    layout = NumberAttribute(null=True)
    # Available lots kept here, {expiry: remaining}, and the expiry of the one this write made, for the due pages
    # (held_lots.py); other lots are LotItems.
    lots = CompactJSON(null=True)
    due_new = UnicodeAttribute(null=True)
    # A change written as single writes (adapters/points_stage.py): its token while it is the member's last,
    # and what finishes or undoes it.
    stage = UnicodeAttribute(null=True)
    staged = CompactJSON(null=True)
    # Entries kept here by the change that made them instead of an item each, oldest first, as compressed JSON
    # (journal.py).
    journal = BinaryAttribute(null=True, legacy_encoding=False)
    created_at = UTCDateTimeAttribute()


class EntryItem(_Item):
    class Meta(_PointsMeta):
        pass

    # The program day's list this entry belongs on (earnings, or redemptions): PageEarnings reads it from the
    # table's stream and writes the entry into that list's pages (EarningPageItem), so the entry has no index entry.
    board_pk = UnicodeAttribute(null=True)
    entry_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    source_type = UnicodeAttribute()
    source_id = UnicodeAttribute()
    actor = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    points = NumberAttribute()
    # How this entry moved the balance parts, e.g. {"pending": -40, "available": 40}.
    deltas = MapAttribute(default=dict)
    earned = NumberAttribute(default=0)
    lots = MapAttribute(default=dict)
    group_id = UnicodeAttribute(null=True)
    program_day = UnicodeAttribute(null=True)
    occurred_at = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    # A scheduled run's piece written alone (lone_pieces.py): the run's window that counts it.
    window = NumberAttribute(null=True, attr_name="w")


class JournalItem(_Item):
    """Entries a member item kept (`MemberItem.journal`), moved out together: their lines as JSON, compressed in `z`
    (journal.py)."""

    class Meta(_PointsMeta):
        pass

    z = BinaryAttribute(legacy_encoding=False)


class LotItem(_Item):
    class Meta(_PointsMeta):
        pass

    # When its pending points settle or it expires: its line in the due pages comes from the stream (due_pages.py).
    due_at = UnicodeAttribute(null=True)
    # The due time again, on the write that gave it (or gave it anew) only, and removed by every other write: what
    # the stream's filter pages, so that a spend, or a credit that keeps the due time, pages nothing.
    due_new = UnicodeAttribute(null=True)
    # The `lots_due` index's keys, on lots written before the due pages: removed when the lot is settled or expired.
    due = DueIndex()
    due_pk = UnicodeAttribute(null=True)
    due_sk = UnicodeAttribute(null=True)
    state = UnicodeAttribute()  # pending | settled | cancelled (pending lots); available | expired (lots)
    remaining = NumberAttribute(default=0)
    expires_at = UnicodeAttribute(null=True)
    settle_at = UnicodeAttribute(null=True)
    source_type = UnicodeAttribute(null=True)
    source_id = UnicodeAttribute(null=True)
    group_id = UnicodeAttribute(null=True)
    invitee_id = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)


class GuardItem(_Item):
    class Meta(_PointsMeta):
        pass

    granted = NumberAttribute(default=0)
    inviter_id = UnicodeAttribute(null=True)
    lot_sk = UnicodeAttribute(null=True)
    state = UnicodeAttribute(null=True)
    # A quiz question's mark taken by an answer written as single writes (adapters/points_stage.py), as a
    # purchase takes its order: it stands only once the claim of `event_id` by `token` stands.
    token = UnicodeAttribute(null=True)
    event_id = UnicodeAttribute(null=True)
    staged_at = NumberAttribute(null=True)


class EventItem(_Item):
    class Meta(_PointsMeta):
        pass

    digest = UnicodeAttribute()
    response = CompactJSON()
    created_at = UTCDateTimeAttribute()
    # The claim of a staged change (adapters/points_stage.py): its token, its member and the writes left to
    # roll it forward; or a void claim, which stops that token from ever claiming.
    token = UnicodeAttribute(null=True)
    member = UnicodeAttribute(null=True)
    rest = CompactJSON(null=True)
    void = BooleanAttribute(null=True)


class OrderItem(_Item):
    class Meta(_PointsMeta):
        pass

    member_id = UnicodeAttribute()
    amount_fen = NumberAttribute()
    points = NumberAttribute()
    refunded_fen = NumberAttribute(default=0)
    reversed_points = NumberAttribute(default=0)
    refund_ids = CompactJSON(default=list)
    group_id = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)
    # The event that recorded the order (every order written since it is kept). An order taken by a purchase
    # written as single writes (adapters/points_stage.py) stands only once the claim of `event_id` by `token`
    # stands; `staged_at` (epoch seconds, the writer's clock) ages it for STALE.
    event_id = UnicodeAttribute(null=True)
    token = UnicodeAttribute(null=True)
    staged_at = NumberAttribute(null=True)
    # The purchase's pending points (points_keys.in_order), written with the order: no lot item of their own.
    # Absent on an order that earned nothing, and on one made before, whose lot item the first reader (or
    # `points migrate`) moves here (order_lots.py). The same names and meaning as LotItem's.
    state = UnicodeAttribute(null=True)  # pending | settled | cancelled
    remaining = NumberAttribute(null=True)
    settle_at = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    due_new = UnicodeAttribute(null=True)


class RewardItem(_Item):
    """pk {tenant}#REWARDS, sk {reward_id}: a reward's terms; its stock lives in shard items."""

    class Meta(_PointsMeta):
        pass

    name = UnicodeAttribute()
    cost = NumberAttribute()
    shards = NumberAttribute(default=1)
    stock_added = NumberAttribute(default=0)  # every unit ever stocked: stock left + sold = stock_added
    limit_per_member = NumberAttribute(null=True)
    limit_period = UnicodeAttribute(default="total")
    active_from = UnicodeAttribute(null=True)
    active_until = UnicodeAttribute(null=True)
    fulfilment_url = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class StockItem(_Item):
    """pk {tenant}#RW#{reward_id}#S{n}, sk #STOCK: one shard of a reward's stock (its own partition)."""

    class Meta(_PointsMeta):
        pass

    stock = NumberAttribute(default=0)


class FulfilIndex(GlobalSecondaryIndex):
    """Orders whose fulfilment webhook is due, by when (sparse: only while a delivery is owed)."""

    class Meta:
        index_name = "fulfil"
        projection = KeysOnlyProjection()

    fulfil_pk = UnicodeAttribute(hash_key=True)
    fulfil_sk = UnicodeAttribute(range_key=True)


class MallOrderItem(_Item):
    """pk {tenant}#RD#{order_id}, sk #ORDER: a redemption, keyed by the caller's request id."""

    class Meta(_PointsMeta):
        pass

    fulfil = FulfilIndex()
    fulfil_pk = UnicodeAttribute(null=True)
    fulfil_sk = UnicodeAttribute(null=True)
    request_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    reward_id = UnicodeAttribute()
    quantity = NumberAttribute()
    status = UnicodeAttribute()  # placed | cancelled | failed
    status_code = NumberAttribute()
    response = CompactJSON()
    points_spent = NumberAttribute(default=0)
    lots = CompactJSON(default=dict)
    shards = CompactJSON(default=dict)
    limit_sk = UnicodeAttribute(null=True)
    cancel_request_id = UnicodeAttribute(null=True)
    cancel_response = CompactJSON(null=True)
    fulfilment_url = UnicodeAttribute(null=True)
    fulfil_state = UnicodeAttribute(null=True)  # due | delivered | parked
    fulfil_attempts = NumberAttribute(null=True)  # absent: none yet (an order pays for each byte it stores)
    fulfil_error = UnicodeAttribute(null=True)
    fulfil_events = CompactJSON(null=True)  # placed / cancelled notices still owed to the reward's URL
    created_at = UTCDateTimeAttribute()
    version = NumberAttribute(default=0)
    # A redemption written as single writes (adapters/points_stage.py) claims its order with the stage's token
    # and the writes left to roll it forward (`rest`, removed by a cancellation, which settles the member first);
    # a void order only stops that token from ever claiming, and reads as no order.
    token = UnicodeAttribute(null=True)
    rest = CompactJSON(null=True)
    void = BooleanAttribute(null=True)
    # The day's redemption list of an order whose spend entry its member item keeps (kept_spend.py): the order's
    # insert is what PageEarnings pages the spend from (earning_pages.py); removed by a cancellation
    board_pk = UnicodeAttribute(null=True)


class BoardItem(_Item):
    class Meta(_PointsMeta):
        pass

    entries = CompactJSON(default=list)
    through = UnicodeAttribute(null=True)  # the last program-day the board counts
    as_of = UTCDateTimeAttribute()


class JobItem(_Item):
    class Meta(_PointsMeta):
        pass

    done = BooleanAttribute(default=False)
    cursor = CompactJSON(null=True)
    # Counters added in the same transaction as each piece of work, so a resumed run counts exactly.
    settled = NumberAttribute(default=0)
    points_released = NumberAttribute(default=0)
    invites_released = NumberAttribute(default=0)
    lots_expired = NumberAttribute(default=0)
    points_expired = NumberAttribute(default=0)
    boards_built = NumberAttribute(default=0)
    # Pieces written alone are counted a window at a time (services/job_batch.py `Tally`): each start of the run
    # numbers its windows above the last start's, and `counted` is the last window added to the counters.
    starts = NumberAttribute(null=True)
    counted = NumberAttribute(null=True)


class DuePageItem(_Item):
    """A batch of lots that fall due within one hour, as PageEarnings read them from the table's stream: one line per
    lot, `{member pk}\t{lot sk}\t{due_at}`, under `DUE#{shard}#PAGES`, sorted by `PG#{hour}#{hash}` (due_pages.py).
    Its lines are kept compressed in `z` (earning_pages.py); `lots` holds them as text in a page written before."""

    class Meta(_PointsMeta):
        pass

    lots = UnicodeAttribute(null=True)
    z = BinaryAttribute(null=True, legacy_encoding=False)


class MemberPageItem(_Item):
    """A batch of a tenant's new members, as PageEarnings read them from the table's stream: one member id a line,
    under `{tenant}#MEMBERS#PAGES`, sorted by `PG#{hash}` (member_pages.py). Its lines are kept compressed in `z`;
    `members` holds them as text in a page written before."""

    class Meta(_PointsMeta):
        pass

    members = UnicodeAttribute(null=True)
    z = BinaryAttribute(null=True, legacy_encoding=False)


class EarningPageItem(_Item):
    """A batch of one program day's listed entries, as PageEarnings read them from the table's stream: one line
    per entry, `{member pk}\t{entry sk}\t{group}\t{points}\t{source type}`. A batch delivered again writes the
    same page again; an entry in two pages (a batch split differently on a retry) is read once (earning_pages.py).
    Its lines are kept compressed in `z`; `entries` holds them as text in a page written before."""

    class Meta(_PointsMeta):
        pass

    entries = UnicodeAttribute(null=True)
    z = BinaryAttribute(null=True, legacy_encoding=False)
