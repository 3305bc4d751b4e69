"""The sweep's runs in the community table: one item per group and week, written once (a rerun finds it), kept
13 weeks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import PutError

from qunyun.adapters.community_tables import SweepRunItem

KEPT = timedelta(weeks=13)


def _pk(tenant_id: str) -> str:
    return f"{tenant_id}#SWEEP"


class SweepRuns:
    def get(self, tenant_id: str, week: str, group_id: str) -> dict | None:
        try:
            return json.loads(SweepRunItem.get(_pk(tenant_id), f"{week}#{group_id}", consistent_read=True).run)
        except SweepRunItem.DoesNotExist:
            return None

    def of_week(self, tenant_id: str, week: str) -> dict[str, dict]:
        """The week's runs made so far, by group (one Query: a sweep reads them once, not a GetItem a group)."""
        items = SweepRunItem.query(_pk(tenant_id), SweepRunItem.sk.startswith(f"{week}#"), consistent_read=True)
        return {item.sk.partition("#")[2]: json.loads(item.run) for item in items}

    def add(self, tenant_id: str, week: str, group_id: str, run: dict) -> dict:
        """Stores the run unless the week's is already there; returns the one stored."""
        item = SweepRunItem(_pk(tenant_id), f"{week}#{group_id}", run=json.dumps(run, ensure_ascii=False),
                            expires=datetime.now(UTC) + KEPT)
        try:
            item.save(condition=SweepRunItem.pk.does_not_exist())
        except PutError as e:
            if e.cause_response_code != "ConditionalCheckFailedException":
                raise
            return self.get(tenant_id, week, group_id) or run
        return run

    def latest(self, tenant_id: str) -> list[dict]:
        """Each group's latest run (newest weeks first, one Query)."""
        out: dict[str, dict] = {}
        for item in SweepRunItem.query(_pk(tenant_id), scan_index_forward=False):
            group_id = item.sk.partition("#")[2]
            out.setdefault(group_id, json.loads(item.run))
        return list(out.values())
