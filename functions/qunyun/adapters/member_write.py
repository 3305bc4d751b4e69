"""A member's change written as one UpdateItem under its version condition, without a transaction: a staged change's
stage (points_stage.py) and a run's piece written alone (lone_pieces.py). The entries the member item no longer keeps
are moved out first (journal.py), so a member item that loses its race still finds them where they went."""

from __future__ import annotations

from datetime import datetime

from pynamodb.connection import Connection

from qunyun.adapters import journal
from qunyun.adapters import points_keys as keys
from qunyun.adapters.conditional_write import expression_params, written
from qunyun.adapters.held_lots import Held
from qunyun.adapters.points_tables import TABLE
from qunyun.adapters.points_writer import member_update
from qunyun.domain.ledger import MemberChange


def write_member(connection: Connection, change: MemberChange, now: datetime, split: Held,
                 stage: tuple[str, dict] | None, kept: journal.Room) -> bool:
    """The member's update (points_writer.member_update); False when its condition failed."""
    pk, sk = keys.member_key(change.member.tenant_id, change.member.member_id)
    if kept.moving:
        journal.move_out(connection, pk, kept.moving)
    actions, condition = member_update(change, now, lots=split, stage=stage, kept=kept)
    return written(connection.client.update_item, TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                   **expression_params(condition, actions))
