"""A tenant's WeCom group welcome template, through its corp credentials (`tenants wecom`)."""

from __future__ import annotations

from qunyun.adapters.secrets import SecretStore, corp_ref
from qunyun.channels.wecom_customer_group import Corp
from qunyun.domain.errors import QunyunError


class WecomWelcomes:
    def __init__(self, secrets: SecretStore, base_url: str):
        self.secrets, self.base_url = secrets, base_url

    def _corp(self, tenant_id: str) -> Corp | None:
        corp_id = self.secrets.get(corp_ref(self.secrets, tenant_id, "corp_id"))
        secret = self.secrets.get(corp_ref(self.secrets, tenant_id, "corp_secret"))
        return Corp(corp_id, secret) if corp_id and secret else None

    def connected(self, tenant_id: str) -> bool:
        return self._corp(tenant_id) is not None

    def save(self, tenant_id: str, template_id: str | None, text: str) -> str | None:
        """Adds the template (no `template_id` yet) or edits it; its template_id, or None for a tenant without
        WeCom credentials. A refusal raises, saying what WeCom answered."""
        corp = self._corp(tenant_id)
        if corp is None:
            return None
        from qunyun.channels.wecom_welcome import WecomWelcomeTemplates

        client = WecomWelcomeTemplates(self.base_url)
        try:
            if template_id is None:
                result = client.add_welcome_template(corp, text)
                verb = "add"
            else:
                result = client.edit_welcome_template(corp, template_id, text)
                verb = f"edit template {template_id}"
        finally:
            client.close()
        if not result.ok:
            hint = "" if template_id is None else (" Was it deleted in WeCom? Then `welcome set --new-wecom-template` "
                                                   "adds another.")
            raise QunyunError(f"WeCom refused to {verb} the group welcome template: {result.detail or result.code}. "
                              f"Nothing was changed.{hint}", code="wecom_refused", status=502)
        return result.data if template_id is None else template_id
