"""The storage seam of the points ledger and the mall: services see Protocols, the adapter implements them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.services import ledger_ports

SERVICES = Path(ledger_ports.__file__).parent
LEDGER_SERVICES = ("mall", "points", "fulfil", "settle", "adjust", "boards", "members", "ledger_ports")


@pytest.mark.parametrize("port", [ledger_ports.MemberReads, ledger_ports.PointsUnitOfWork,
                                  ledger_ports.MallUnitOfWork, ledger_ports.BoardStore, ledger_ports.BoardsUnitOfWork,
                                  ledger_ports.JobUnitOfWork])
def test_the_dynamodb_ledger_implements_every_port(port):
    # GIVEN the ledger the handlers build / THEN it has every method each unit of work names
    assert isinstance(PointsLedger(), port)


@pytest.mark.parametrize("name", LEDGER_SERVICES)
def test_ledger_services_import_no_storage(name):
    # GIVEN a service of the points ledger or the mall
    tree = ast.parse((SERVICES / f"{name}.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    # THEN it reaches neither PynamoDB nor boto3 nor the points table's adapters: it speaks to a unit of work
    storage = {m for m in imported if m.split(".")[0] in ("pynamodb", "boto3", "botocore")
               or m.startswith(("qunyun.adapters.points", "qunyun.adapters.mall", "qunyun.adapters.redemptions"))}
    assert storage == set(), name
