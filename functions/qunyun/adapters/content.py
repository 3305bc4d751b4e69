"""The content repository: briefs and tenants' own templates, PynamoDB behind domain objects."""

from __future__ import annotations

from datetime import date, datetime

from pynamodb.exceptions import DeleteError, PutError

from qunyun.adapters.tables import BriefItem, TemplateItem
from qunyun.domain.briefs import Brief


def _brief_key(tenant_id: str, day: date, edition: str) -> tuple[str, str]:
    return f"{tenant_id}#BRIEFS", f"{day.isoformat()}#{edition}"


def _template_key(tenant_id: str, edition: str, dialect: str) -> tuple[str, str]:
    return f"{tenant_id}#TEMPLATES", f"brief#{edition}#{dialect}"


class ContentRepository:
    def put_brief(self, tenant_id: str, brief: Brief, now: datetime) -> bool:
        """Stores the brief; True when it replaced one stored before for the same date and edition."""
        item = BriefItem(*_brief_key(tenant_id, brief.date, brief.edition), brief=brief.stored(), updated_at=now)
        try:
            item.save(condition=BriefItem.pk.does_not_exist())
            return False
        except PutError as e:
            if getattr(e, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise
        item.save()
        return True

    def brief(self, tenant_id: str, day: date, edition: str) -> Brief | None:
        try:
            item = BriefItem.get(*_brief_key(tenant_id, day, edition))
        except BriefItem.DoesNotExist:
            return None
        return Brief.model_validate(item.brief)

    def put_template(self, tenant_id: str, edition: str, dialect: str, source: str, now: datetime) -> None:
        TemplateItem(*_template_key(tenant_id, edition, dialect), source=source, updated_at=now).save()

    def remove_template(self, tenant_id: str, edition: str, dialect: str) -> bool:
        """Removes the tenant's template; False when there was none."""
        try:
            TemplateItem(*_template_key(tenant_id, edition, dialect)).delete(condition=TemplateItem.pk.exists())
            return True
        except DeleteError as e:
            if getattr(e, "cause_response_code", None) == "ConditionalCheckFailedException":
                return False
            raise

    def template(self, tenant_id: str, edition: str, dialect: str) -> str | None:
        try:
            return TemplateItem.get(*_template_key(tenant_id, edition, dialect)).source
        except TemplateItem.DoesNotExist:
            return None

    def templates(self, tenant_id: str, edition: str) -> dict[str, str]:
        """The tenant's overrides of an edition's templates, by dialect: one query."""
        pk, prefix = _template_key(tenant_id, edition, "")
        return {i.sk.removeprefix(prefix): i.source for i in TemplateItem.query(pk, TemplateItem.sk.startswith(prefix))}

    def flash(self, tenant_id: str, group_id: str):
        """A flash group as stored (terms, top members: adapters/flash.py StoredFlash), for its farewell; None for
        any other group."""
        from qunyun.adapters.flash import FlashRepository

        return FlashRepository().find(tenant_id, group_id)
