"""PynamoDB models of the community table: what qunyun hears from inside groups.

    pk                              sk                  item
    {tenant}#CONNECTIONS            {platform}          ConnectionItem: a platform connection's public part
    {tenant}#ROSTER#{group}         {member_id}         RosterItem: one member of one group
    {tenant}#GROUPSTATE             {group}             GroupStateItem: WeCom's member-list version
    {tenant}#ACTIVITY#{group}       {day}#{page id}     ActivityPageItem: a batch's messages of a group's day
    {tenant}#UNMAPPED               {platform}#{chat}   UnmappedChatItem: a chat no group names yet
    {tenant}#UNMAPPED#{platform}#{chat}  {slot}         UnmappedEventItem: one of its events (1,000 slots)
    {tenant}#GUARD                  RULES               GuardRulesItem: the tenant's group rules (API.md §7)
    {tenant}#GUARDLOG               O#{group}#{member}#{message}  GuardOffenceItem: an offence, its evidence and its
                                                        deletion, warning or removal (each with its status)
    {tenant}#GUARDLOG               A#{action id}       GuardActionItem: an action of the sweep (its notice, removals)
    {tenant}#SWEEP                  {week}#{group}      SweepRunItem: a group's inactivity sweep of one week
    {tenant}#WELCOME                FILE                WelcomeItem: the tenant's welcome file (API.md §6)
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)

from qunyun.adapters.tables import _Meta, _settings, _Table


class _CommunityItem(_Table):
    class Meta(_Meta):
        table_name = _settings.table("community")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires = TTLAttribute(null=True)


class ConnectionItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    platform = UnicodeAttribute()
    connected_at = UTCDateTimeAttribute()
    secret_refs = MapAttribute(default=dict)  # name → secret store reference; never a value
    last_event_at = UTCDateTimeAttribute(null=True)
    refusals = MapAttribute(default=dict)  # reason → count


class RosterItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    member_id = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="member")  # member | left
    joined_at = UTCDateTimeAttribute(null=True)
    joined_how = UnicodeAttribute(null=True)
    invite_link = UnicodeAttribute(null=True)
    link_id = UnicodeAttribute(null=True)  # the qunyun join link that brought the member
    link_for = UnicodeAttribute(null=True)  # what it is for: store:ID | rep:ID | member:ID | campaign:NAME
    left_at = UTCDateTimeAttribute(null=True)
    left_how = UnicodeAttribute(null=True)
    # The time of the event that last changed the entry: every write is conditional on being later.
    changed_at = UTCDateTimeAttribute()
    role = UnicodeAttribute(null=True)  # owner | admin, where the platform's events say so
    role_at = UTCDateTimeAttribute(null=True)  # the time of the event that set it: roles too only move forward


class GroupStateItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    member_version = UnicodeAttribute(null=True)
    changed_at = UTCDateTimeAttribute(null=True)


class ActivityPageItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    # "message id\tmember id\tunix seconds" lines: the compact form keeps a page a few write units.
    messages = UnicodeAttribute()
    names = MapAttribute(default=dict)  # member id → the name the platform showed with a message


class UnmappedChatItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    platform = UnicodeAttribute()
    chat_id = UnicodeAttribute()
    first_seen = UTCDateTimeAttribute()
    last_seen = UTCDateTimeAttribute()
    event_count = NumberAttribute(default=0)


class UnmappedEventItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    event_id = UnicodeAttribute()
    occurred_at = UTCDateTimeAttribute()
    event = UnicodeAttribute()  # the normalised event as JSON


class GuardRulesItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    rules = UnicodeAttribute()  # the checked rules as JSON
    set_at = UTCDateTimeAttribute()
    version = NumberAttribute(default=1)  # compiled matchers are cached per tenant and version


class GuardOffenceItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    group_id = UnicodeAttribute()
    platform = UnicodeAttribute()
    chat_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    message_id = UnicodeAttribute()
    text = UnicodeAttribute(null=True)
    rule = UnicodeAttribute()
    detail = UnicodeAttribute(null=True)
    at = UTCDateTimeAttribute()
    pardoned = BooleanAttribute(default=False)
    # Its actions, written as intended with the offence (one write) and finished after: status and reason each.
    delete_status = UnicodeAttribute(null=True)
    delete_reason = UnicodeAttribute(null=True)
    warn_status = UnicodeAttribute(null=True)
    warn_reason = UnicodeAttribute(null=True)
    remove_status = UnicodeAttribute(null=True)
    remove_reason = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)


class GuardActionItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    kind = UnicodeAttribute()
    group_id = UnicodeAttribute()
    platform = UnicodeAttribute()
    chat_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    message_id = UnicodeAttribute()
    rule = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    status = UnicodeAttribute()  # intended | done | failed | task | closed | pardoned
    reason = UnicodeAttribute(null=True)
    evidence = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()


class SweepRunItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    run = UnicodeAttribute()  # the group's list of the week as JSON: who, last message, counts, outcome


class WelcomeItem(_CommunityItem):
    class Meta(_CommunityItem.Meta):
        pass

    file = UnicodeAttribute()  # the checked welcome file as JSON
    set_at = UTCDateTimeAttribute()
    version = NumberAttribute(default=1)  # readers that cache the file see a new one by its version
    wecom_template_id = UnicodeAttribute(null=True)  # the tenant's WeCom group welcome template
    wecom_text = UnicodeAttribute(null=True)  # what that template says
