"""PynamoDB models of the tables declared in template.yaml (tests/unit/test_schema.py keeps them in step)."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, ListAttribute, MapAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from qunyun.settings import get_settings

_settings = get_settings()


class _Meta:
    region = _settings.region
    host = _settings.dynamodb_endpoint
    # Lambda keeps connections warm; a short connect timeout fails fast instead of hanging a webhook.
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 3


class TenantIndex(GlobalSecondaryIndex):
    """Every tenant, for jobs that visit each tenant in turn (a handful of items, never a Scan)."""

    class Meta:
        index_name = "all"
        projection = KeysOnlyProjection()

    kind = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute(range_key=True)


class TenantItem(Model):
    class Meta(_Meta):
        table_name = _settings.table("tenants")

    all = TenantIndex()
    tenant_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default="tenant")
    name = UnicodeAttribute()
    timezone = UnicodeAttribute()
    secret_ref = UnicodeAttribute()
    policy = MapAttribute(default=dict)
    rules = JSONAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class GroupItem(Model):
    class Meta(_Meta):
        table_name = _settings.table("groups")

    tenant_id = UnicodeAttribute(hash_key=True)
    group_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    kind = UnicodeAttribute()
    channel = UnicodeAttribute()
    webhook_ref = UnicodeAttribute(null=True)
    webhook_host = UnicodeAttribute(null=True)
    secret_ref = UnicodeAttribute(null=True)
    owner = UnicodeAttribute(null=True)
    chat_id = UnicodeAttribute(null=True)
    timezone = UnicodeAttribute(null=True)
    morning = UnicodeAttribute(null=True)
    evening = UnicodeAttribute(null=True)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    store = UnicodeAttribute(null=True)
    sales_rep = UnicodeAttribute(null=True)
    # Kept as written (ISO 8601 with the operator's offset), so reports show the time the operator gave.
    ends_at = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="active")
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class _ContentItem(Model):
    """What operators write for members to read: briefs, and their own templates for them.

        pk                      sk                          item
        {tenant}#BRIEFS         {date}#{edition}            BriefItem: one edition of one date
        {tenant}#TEMPLATES      brief#{edition}#{dialect}   TemplateItem: the tenant's own template
    """

    class Meta(_Meta):
        table_name = _settings.table("content")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    updated_at = UTCDateTimeAttribute()


class BriefItem(_ContentItem):
    class Meta(_ContentItem.Meta):
        pass

    brief = JSONAttribute()


class TemplateItem(_ContentItem):
    class Meta(_ContentItem.Meta):
        pass

    source = UnicodeAttribute()
