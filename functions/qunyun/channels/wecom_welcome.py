"""WeCom's group welcome templates (入群欢迎语素材, `externalcontact/group_welcome_template/add|edit`): an app cannot
post into a customer group when someone joins, so WeCom sends the template the owner attached to the group, naming
the newcomer where the text says `%NICKNAME%` (WeCom doc 92366, reference/inbound.md §1). Tokens, retries and
error classification are the mass-send client's."""

from __future__ import annotations

from qunyun.channels.result import Failure, Outcome, permanent
from qunyun.channels.wecom_customer_group import ApiResult, Corp, WecomCustomerGroups, classify


class WecomWelcomeTemplates(WecomCustomerGroups):
    def add_welcome_template(self, corp: Corp, text: str) -> ApiResult[str]:
        """Adds a template to the corp's library (100 at most) and asks members to apply it (`notify`);
        its template_id."""
        body = self._answer(self._call(corp, "group_welcome_template/add", {"text": {"content": text}, "notify": 1}))
        if isinstance(body, ApiResult):
            return body
        if not body.get("template_id"):
            return ApiResult.failed(permanent("no_template_id", "WeCom accepted the template without its id"))
        return ApiResult(Outcome.delivered, str(body["template_id"]))

    def edit_welcome_template(self, corp: Corp, template_id: str, text: str) -> ApiResult[None]:
        """Replaces the text of a template this corp's app added; the groups it is attached to keep it."""
        body = self._answer(self._call(corp, "group_welcome_template/edit",
                                       {"template_id": template_id, "text": {"content": text}}))
        return body if isinstance(body, ApiResult) else ApiResult(Outcome.delivered)

    @staticmethod
    def _answer(body: dict | Failure) -> dict | ApiResult:
        if isinstance(body, Failure):
            return ApiResult.failed(body)
        failure = classify(int(body["errcode"]), str(body.get("errmsg", "")))
        return ApiResult.failed(failure) if failure else body
